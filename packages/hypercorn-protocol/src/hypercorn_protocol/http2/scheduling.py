"""HTTP/2 send order: round-robin, or by RFC 9218 priority once the client signals any.

The connection keeps a deque of the streams with output waiting and sends one frame
per stream per turn. Until the client sends a priority signal (a ``priority`` request
field or a PRIORITY_UPDATE frame) that is all; afterwards the deque is reordered by
:func:`priority_order` before each frame, so the most urgent stream goes next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Protocol

#: RFC 9218 section 7.1: the frame type of PRIORITY_UPDATE.
PRIORITY_UPDATE = 0x10
DEFAULT_URGENCY = 3


class Prioritized(Protocol):
    urgency: int
    incremental: bool


def apply_priority(stream: Prioritized, value: bytes) -> None:
    """Apply a ``priority`` field value (``u=N``, ``i``) to ``stream``; unknown keys are ignored."""
    for item in value.split(b","):
        key, _, raw = item.split(b";", 1)[0].strip().partition(b"=")
        if key == b"u" and raw.isdigit() and int(raw) <= 7:
            stream.urgency = int(raw)
        elif key == b"i":
            stream.incremental = raw in (b"", b"?1")


def priority_order(sending: deque[int], streams: Mapping[int, Prioritized]) -> deque[int]:
    """``sending`` by urgency, non-incremental responses whole and in stream order first.

    Incremental responses of the same urgency keep their round-robin (deque) order:
    ``sorted`` is stable.
    """

    def key(stream_id: int) -> tuple[int, int, int]:
        stream = streams.get(stream_id)
        if stream is None:
            return (8, 0, 0)
        if stream.incremental:
            return (stream.urgency, 1, 0)
        return (stream.urgency, 0, stream_id)

    return deque(sorted(sending, key=key))


def priority_update(body: bytes) -> tuple[int, bytes] | None:
    """The prioritized stream id and field value of a PRIORITY_UPDATE frame's payload."""
    if len(body) < 4:
        return None
    return int.from_bytes(body[:4], "big") & 0x7FFFFFFF, body[4:]
