"""The ``hypercorn`` command: ``hypercorn [OPTIONS] APPLICATION``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import hypercorn_cli.run as run_module
from hypercorn_cli._config_source import load_config
from hypercorn_cli._errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    debug_traceback,
    one_line,
    runtime_errors,
    usage_errors,
)
from hypercorn_cli._options import USAGE, UsageError, apply_flags, parse_args
from hypercorn_cli._supervisor import WorkerStartupError
from hypercorn_protocol.config import Config


def main(sys_args: Sequence[str] | None = None) -> int:
    """Run the ``hypercorn`` command.

    Expected failures (bad flag, config file, application path or bind address) are
    one ``Error: ...`` line on stderr, with exit code 2 for usage and configuration
    problems and 1 for failures at run time; never a traceback.

    Args:
        sys_args: the arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    args = sys.argv[1:] if sys_args is None else sys_args
    try:
        namespace = parse_args(args)
    except SystemExit as exc:  # --help and --version print and stop
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        # As argparse does: the usage line, then what was wrong.
        print(f"usage: {USAGE}", file=sys.stderr)
        return _fail(exc, EXIT_USAGE)

    # ``module:app`` and ``python:config`` resolve against the current directory,
    # whichever way the command was started.
    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)

    def build_config() -> Config:
        # Called again on SIGHUP: the config file and the flags are read afresh.
        config = load_config(getattr(namespace, "config", None))
        apply_flags(config, namespace)
        return config

    config: Config | None = None
    try:
        config = build_config()
        return run_module.run(config, config_loader=build_config)
    except WorkerStartupError as exc:  # the worker printed its traceback, if asked to
        return _fail(exc, exc.exit_code)
    except usage_errors() as exc:
        return _fail(exc, EXIT_USAGE, config)
    except runtime_errors() as exc:
        return _fail(exc, EXIT_RUNTIME, config)
    except KeyboardInterrupt:
        return 130


def _fail(exc: BaseException, code: int, config: Config | None = None) -> int:
    debug_traceback(exc, config)  # --debug / --log-level debug: the whole story first
    print(f"Error: {one_line(exc)}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
