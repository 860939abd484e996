"""``python -m hypercorn_protocol.server.import_check``: does the edited code import?

``APP_PATH WSGI_MAX_BODY_SIZE`` loads an application (the supervisor's ``--reload``,
before it replaces any worker); ``--modules NAME...`` imports modules (``serve()``'s
reloader, before it restarts the program). Run in a fresh interpreter, so an edit that
breaks the import (a syntax error, a bad import) leaves the running server alone.
On success it prints the file of every imported module, one per line, so the reloader
also watches modules the edit newly pulled in; on failure one line on stderr, exit 1.
"""

from __future__ import annotations

import importlib
import os
import sys


def main(args: list[str]) -> int:
    """Import the application or the modules named by ``args``; returns the exit code."""
    from hypercorn_protocol.apps.loading import load_application

    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)
    try:
        if args[:1] == ["--modules"]:
            for name in args[1:]:
                importlib.import_module(name)
        else:
            load_application(args[0], int(args[1]))
    except BaseException as exc:  # whatever the app raises while importing
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(text, file=sys.stderr, flush=True)
        return 1
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            print(filename)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
