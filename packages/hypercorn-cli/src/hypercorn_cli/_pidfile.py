"""The ``--pid`` file: written when the server starts, removed when it stops."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_pid_file(path: str) -> None:
    """Write this process's id to ``path`` (atomically: readers never see a partial file)."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{os.getpid()}\n")
    os.replace(temporary, target)


def remove_pid_file(path: str) -> None:
    """Remove ``path`` if it still holds this process's id.

    A newer server may have replaced the file since (a restart overlapping this one's
    shutdown); its pid file is left alone.
    """
    target = Path(path)
    with contextlib.suppress(OSError, ValueError):
        if int(target.read_text().strip()) == os.getpid():
            target.unlink()
