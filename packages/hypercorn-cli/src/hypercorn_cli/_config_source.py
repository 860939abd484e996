"""Load the ``-c/--config`` source: a TOML file, ``file:config.py`` or ``python:module``."""

from __future__ import annotations

import sys
import warnings

from hypercorn_protocol.config import Config, ConfigWarning


def load_config(source: str | None) -> Config:
    """Build the base ``Config`` from a config source (defaults when ``source`` is None).

    Unknown keys produce ``ConfigWarning``; each is printed as one ``Warning:`` line on
    stderr rather than as a multi-line Python warning.

    Raises:
        ConfigError: the source is missing, unreadable or holds bad values.
    """
    if source is None:
        return Config()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        if source.startswith("python:"):
            config = Config.from_object(source.removeprefix("python:"))
        elif source.startswith("file:"):
            config = Config.from_pyfile(source.removeprefix("file:"))
        else:
            config = Config.from_toml(source)
    for warning in caught:
        if issubclass(warning.category, ConfigWarning):
            print(f"Warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return config
