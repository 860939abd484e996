"""The ``--pid`` file: written when the server starts, removed when it stops."""

from __future__ import annotations

import contextlib
import os


def write_pid_file(path: str) -> None:
    """Write this process's id to ``path`` (atomically: readers never see a partial file)."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(temporary, "w") as file:
        file.write(f"{os.getpid()}\n")
    os.replace(temporary, path)


def remove_pid_file(path: str) -> None:
    """Remove ``path`` if it still holds this process's id.

    A newer server may have replaced the file since (a restart overlapping this one's
    shutdown); its pid file is left alone.
    """
    with contextlib.suppress(OSError, ValueError):
        with open(path) as file:
            pid = int(file.read().strip())
        if pid == os.getpid():
            os.unlink(path)
