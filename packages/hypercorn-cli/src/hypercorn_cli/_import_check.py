"""``python -m hypercorn_cli._import_check APP_PATH WSGI_MAX_BODY_SIZE``: can the app load?

The reloader runs this in a fresh interpreter before replacing any worker, so an edit
that breaks the import (a syntax error, a bad import) leaves the running workers alone.
On success it prints the file of every imported module, one per line, so the reloader
also watches modules the edit newly pulled in; on failure one line on stderr, exit 1.
"""

from __future__ import annotations

import os
import sys


def main(args: list[str]) -> int:
    """Import the application named by ``args``; returns the exit code."""
    from hypercorn_protocol.apps.loading import load_application

    application_path, body_size = args[0], int(args[1])
    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)
    try:
        load_application(application_path, body_size)
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
