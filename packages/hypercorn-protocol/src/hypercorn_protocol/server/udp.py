"""Sending one flush's QUIC datagrams with as few system calls as the kernel allows.

A download is a long run of full-size datagrams to one peer, and one ``sendto`` each
costs about as much as aioquic's packetising of it. On Linux, UDP generic segmentation
offload (``UDP_SEGMENT``, 4.18+) takes up to 64 datagrams of one size (the last may be
shorter) to one address in one ``sendmsg``, and the kernel (or the NIC) cuts them apart:
the peer receives the same datagrams in the same order. Elsewhere, or once the kernel
refuses it, every datagram goes through the driver's own single send.

Used by both drivers on a plain non-blocking socket; each passes its own single send
(asyncio's ``transport.sendto``, trio's ``sendto`` with its drop counting) for what is
not batched.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

__all__ = ["DatagramSender"]

_SOL_UDP = 17
_UDP_SEGMENT = 103
#: The kernel's limit on segments per send (UDP_MAX_SEGMENTS).
MAX_SEGMENTS = 64
#: A UDP payload fits 65,507 bytes; stay below it with room for headers.
MAX_BATCH_BYTES = 65_000

SendOne = Callable[[bytes, Any], None]
#: What a kernel or route without GSO answers (EIO: no checksum offload on the device).
_NO_GSO = frozenset({errno.EINVAL, errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP})


class DatagramSender:
    """Batches runs of same-size datagrams to one address into ``UDP_SEGMENT`` sends."""

    __slots__ = ("batched", "gso", "sock")

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.gso = sock is not None and sys.platform.startswith("linux")
        self.batched = 0  # datagrams that went out in a segmented send

    def send(self, datagrams: Sequence[tuple[bytes, Any]], send_one: SendOne) -> None:
        """Send ``datagrams`` in order; what is not batched goes through ``send_one``."""
        count = len(datagrams)
        start = 0
        while start < count:
            data, address = datagrams[start]
            end = start + 1
            if self.gso:
                size = len(data)
                total = size
                while end < count and end - start < MAX_SEGMENTS:
                    following, to = datagrams[end]
                    length = len(following)
                    if to != address or length > size or total + length > MAX_BATCH_BYTES:
                        break
                    total += length
                    end += 1
                    if length < size:
                        break  # only the last segment may be shorter
            if end - start == 1 or not self._send_segmented(datagrams, start, end):
                for index in range(start, end):
                    send_one(*datagrams[index])
            start = end

    def _send_segmented(self, datagrams: Sequence[tuple[bytes, Any]], start: int, end: int) -> bool:
        sock = self.sock
        assert sock is not None
        first, address = datagrams[start]
        payload = b"".join([data for data, _ in datagrams[start:end]])
        control = [(_SOL_UDP, _UDP_SEGMENT, len(first).to_bytes(2, sys.byteorder))]
        try:
            sock.sendmsg([payload], control, 0, address)
        except (BlockingIOError, InterruptedError):
            return False  # the buffer is full: the single sends queue or drop as usual
        except OSError as exc:
            if exc.errno in _NO_GSO:
                self.gso = False  # no GSO on this kernel or route: single sends from now on
            return False  # else one peer's trouble: its single sends report it
        self.batched += end - start
        return True
