"""Messages over a pipe between the supervisor and a worker, and waiting on descriptors.

A message is a 4-byte big-endian length followed by that many bytes of pickle. The
worker writes (``READY``, ``DRAINING``, ``(FAILED, code, message)``), the supervisor
reads; end of file means the worker is gone. ``multiprocessing.connection`` does the
same, but importing it costs each process about 2.5 MiB of RSS (tempfile, random,
the multiprocessing package) for two small functions.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
from collections.abc import Sequence
from typing import Protocol

#: The largest message accepted; the reports are a few hundred bytes.
MAX_MESSAGE = 1 << 20

_HEADER = struct.Struct(">I")


class HasFileno(Protocol):
    def fileno(self) -> int: ...


class Channel:
    """One end of a message pipe: ``send`` on the write end, ``poll``/``recv`` on the read end.

    Args:
        fd: the pipe's descriptor; the channel owns it and closes it in ``close``.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def fileno(self) -> int:
        if self._fd < 0:
            raise OSError("the channel is closed")
        return self._fd

    def send(self, message: object) -> None:
        """Write one message (blocks while the pipe is full).

        Raises:
            OSError: the reader is gone (``BrokenPipeError``) or the channel is closed.
        """
        data = pickle.dumps(message)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fileno(), view) :]

    def poll(self) -> bool:
        """Whether a message (or end of file) can be read without waiting."""
        return bool(wait([self], 0))

    def recv(self) -> object:
        """Read one message, waiting for it.

        Raises:
            EOFError: the writer closed its end (or wrote half a message and went away,
                or announced one larger than ``MAX_MESSAGE``).
        """
        (size,) = _HEADER.unpack(self._read_exactly(_HEADER.size))
        if size > MAX_MESSAGE:
            raise EOFError(f"message of {size} bytes announced; at most {MAX_MESSAGE}")
        message: object = pickle.loads(self._read_exactly(size))
        return message

    def _read_exactly(self, size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            chunk = os.read(self.fileno(), size)
            if not chunk:
                raise EOFError("the pipe was closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def wait(waitables: Sequence[int | HasFileno], timeout: float | None) -> list[int | HasFileno]:
    """Those of ``waitables`` (descriptors, or objects with ``fileno()``) that are readable.

    Waits up to ``timeout`` seconds (None: until one is) and returns early when one is;
    a descriptor at end of file or in error counts as readable.
    """
    fds = {(w if isinstance(w, int) else w.fileno()): w for w in waitables}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ready = poller.poll(None if timeout is None else max(0, round(timeout * 1000)))
    return [fds[fd] for fd, _ in ready if fd in fds]
