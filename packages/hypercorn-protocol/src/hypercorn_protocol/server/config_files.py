"""Reading configuration from outside the process: TOML files, Python files, import paths.

``Config.from_toml``, ``Config.from_pyfile`` and ``Config.from_object`` (and the
``toml:`` form of ``logconfig``) read their input here; ``Config`` then checks each key.
The errors of a bad configuration, :class:`ConfigError` and :class:`ConfigWarning`, are
defined here too, at the bottom of ``server/``, so that every module that reports one
(``config``, ``server.logging``, ``server.binding``) imports it in one direction.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any


class ConfigError(ValueError):
    """A configuration value or file is invalid. The message is a single line."""


class ConfigWarning(UserWarning):
    """A configuration key is unknown or a setting has no effect."""


def load_toml_file(filename: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file.

    Raises:
        ConfigError: The file is missing, unreadable or not valid TOML (one line, with
            the TOML line and column).
    """
    if sys.version_info >= (3, 11):
        import tomllib as toml_parser
    else:  # pragma: no cover - Python 3.10
        import tomli as toml_parser  # type: ignore[import-not-found,unused-ignore]

    path = os.fspath(filename)
    try:
        with open(path, "rb") as file:
            data: dict[str, Any] = toml_parser.load(file)
    except FileNotFoundError:
        raise ConfigError(f"cannot load config file {path}: file not found") from None
    except (OSError, UnicodeDecodeError, toml_parser.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load config file {path}: {reason(exc)}") from None
    return data


def load_python_file(filename: str | os.PathLike[str]) -> types.ModuleType:
    """Run a Python file as a module and return it (its top-level names are the options).

    Raises:
        ConfigError: The file does not exist or is not a Python file.
    """
    path = os.fspath(filename)
    if not os.path.isfile(path):
        raise ConfigError(f"cannot load config file {path}: file not found")
    spec = importlib.util.spec_from_file_location("hypercorn_config_file", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load config file {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_object(dotted: str) -> object:
    """Import ``dotted`` as a module, or else as ``module.attribute``.

    Raises:
        ConfigError: Neither imports.
    """
    try:
        return importlib.import_module(dotted)
    except ImportError as module_error:
        module_name, _, attribute = dotted.rpartition(".")
        if not module_name:
            raise ConfigError(
                f"cannot import config object {dotted!r}: {reason(module_error)}"
            ) from None
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"cannot import config object {dotted!r}: {reason(exc)}") from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise ConfigError(
                f"cannot import config object {dotted!r}: module {module_name!r} "
                f"has no attribute {attribute!r}"
            ) from None


def reason(exc: BaseException) -> str:
    """A one-line description of an exception."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


__all__ = [
    "ConfigError",
    "ConfigWarning",
    "import_object",
    "load_python_file",
    "load_toml_file",
    "reason",
]
