"""Opening the files apps send with ``http.response.pathsend``, for both drivers."""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO


def open_file(path: str) -> tuple[BinaryIO, int]:
    """Open a regular file to send: the unbuffered file and its size.

    Opened non-blocking first, so that a FIFO cannot hang the loop waiting for a
    writer; anything but a regular file is refused.

    Raises:
        OSError: the file is missing, unreadable, or not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0), info.st_size
    except BaseException:
        os.close(fd)
        raise


__all__ = ["open_file"]
