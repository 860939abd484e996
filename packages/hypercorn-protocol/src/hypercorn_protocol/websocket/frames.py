"""The small-message fast path beside wsproto: frame boundaries, unmasking, framing.

wsproto parses a frame in about a dozen Python calls (a buffer object, a header
object, a masker, an extension hook per step, an event dataclass), which was a quarter
of a WebSocket echo's CPU. Most frames a server sees are the simplest kind: one whole
text or binary message in one masked frame, a few bytes to a few kilobytes, compressed
(RSV1) when permessage-deflate was negotiated. Those :class:`FrameSplitter` takes
itself, in one step (a compressed one is inflated by the stream, with the same
:class:`~hypercorn_protocol.websocket.deflate.BoundedDeflate` and its limits). Every
other frame (control frames, fragments and what comes between them, other reserved
bits, anything malformed or too large, invalid UTF-8 in an uncompressed one) goes to
wsproto byte for byte, so wsproto stays the reference for all that RFC 6455 asks and
the connection fails exactly as it did. wsproto only ever sees whole frames or a large
frame's bytes in order, never a frame the fast path began, so its parser is always at
a frame boundary when the fast path looks.

:func:`encode_frame` builds the server's unmasked frame for a whole message (its
payload compressed by the caller when permessage-deflate is on), which is all
wsproto's ``send`` does for one.
"""

from __future__ import annotations

__all__ = [
    "BINARY",
    "FAST_FRAME_LIMIT",
    "TEXT",
    "CompressedMessage",
    "FastMessage",
    "FrameSplitter",
    "encode_frame",
    "unmask",
]

#: The largest payload the fast path takes whole (a larger frame is streamed to
#: wsproto as it arrives, so this also bounds what the splitter holds for one frame).
FAST_FRAME_LIMIT = 64 * 1024

TEXT = 0x1
BINARY = 0x2
_CONTINUATION = 0x0


class FastMessage:
    """A whole text or binary message from one frame: ``text`` or ``data`` is set."""

    __slots__ = ("data", "text")

    def __init__(self, text: str | None, data: bytes | None) -> None:
        self.text = text
        self.data = data


class CompressedMessage:
    """A whole message in one frame with RSV1 (permessage-deflate): still compressed."""

    __slots__ = ("payload", "text")

    def __init__(self, text: bool, payload: bytes) -> None:
        self.text = text
        self.payload = payload


def unmask(payload: bytes | bytearray | memoryview, key: bytes | bytearray) -> bytes:
    """``payload`` XORed with the repeating 4-byte masking ``key`` (RFC 6455 5.3)."""
    size = len(payload)
    if not size:
        return b""
    repeated = (bytes(key) * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        size, "little"
    )


def encode_frame(opcode: int, payload: bytes, compressed: bool = False) -> bytes:
    """A final, unmasked frame (what a server sends) carrying ``payload``; RSV1 set
    when ``compressed`` (the payload is permessage-deflate's)."""
    first = (0xC0 if compressed else 0x80) | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 0x10000:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


class FrameSplitter:
    """The peer's bytes, cut at frame boundaries: fast messages, or bytes for wsproto.

    Args:
        limit: the largest payload taken by the fast path (at most the message size
            limit, so that a frame over it reaches wsproto's size guard).
    """

    __slots__ = ("_buffer", "_fragmented", "_limit", "_passthrough")

    def __init__(self, limit: int) -> None:
        self._limit = min(limit, FAST_FRAME_LIMIT)
        self._buffer = bytearray()
        self._passthrough = 0  # bytes of the current frame still owed to wsproto
        self._fragmented = False  # a fragmented message is open on wsproto's side

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(
        self, fast: bool, compressed: bool = False
    ) -> FastMessage | CompressedMessage | bytes | None:
        """The next fast message (``fast``: the caller takes them now; ``compressed``:
        permessage-deflate is on, so RSV1 frames come whole, still compressed), or the
        next bytes for wsproto, or None until more bytes arrive."""
        buffer = self._buffer
        if self._passthrough:
            if not buffer:
                return None
            chunk = bytes(buffer[: self._passthrough])
            del buffer[: len(chunk)]
            self._passthrough -= len(chunk)
            return chunk
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        opcode = first & 0x0F
        length = second & 0x7F
        offset = 2
        minimal = True
        if length == 126:
            if len(buffer) < 4:
                return None
            length = int.from_bytes(buffer[2:4], "big")
            offset = 4
            minimal = length >= 126
        elif length == 127:
            if len(buffer) < 10:
                return None
            length = int.from_bytes(buffer[2:10], "big")
            offset = 10
            minimal = False  # never fast: over the limit, or not minimally encoded
        masked = second & 0x80
        if masked:
            offset += 4
        end = offset + length
        if (
            fast
            and (first & 0xF0 == 0x80 or (compressed and first & 0xF0 == 0xC0))  # FIN
            and masked
            and opcode in (TEXT, BINARY)
            and not self._fragmented
            and minimal
            and length <= self._limit
        ):
            if len(buffer) < end:
                return None  # a small frame still arriving: held whole (bounded)
            payload = unmask(buffer[offset:end], buffer[offset - 4 : offset])
            if first & 0x40:  # RSV1: compressed; inflated (and checked) by the caller
                del buffer[:end]
                return CompressedMessage(opcode == TEXT, payload)
            if opcode == BINARY:
                del buffer[:end]
                return FastMessage(None, payload)
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                pass  # wsproto fails the connection (1007), as for any invalid text
            else:
                del buffer[:end]
                return FastMessage(text, None)
        if opcode in (TEXT, BINARY):
            self._fragmented = not first & 0x80
        elif opcode == _CONTINUATION and first & 0x80:
            self._fragmented = False
        self._passthrough = end
        return self.next(fast, compressed)
