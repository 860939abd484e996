"""``python -m hypercorn``: the same as the ``hypercorn`` command."""

from __future__ import annotations

import sys

from hypercorn_cli.__main__ import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
