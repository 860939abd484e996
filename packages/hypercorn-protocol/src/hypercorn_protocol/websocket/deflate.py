"""permessage-deflate (RFC 7692) for the server, bounded while it inflates."""

from __future__ import annotations

import zlib
from typing import Any

from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["BoundedDeflate"]

_DEFLATE_PARAMS = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)


_SERVER_WINDOW_BITS = 12


class BoundedDeflate(Extension):
    """permessage-deflate (RFC 7692), server side, that never inflates past a limit.

    wsproto's own extension inflates each chunk whole, so a small compressed frame
    can allocate gigabytes before any size check runs. Here every ``decompress``
    gets ``max_length`` = what is left of the message's allowance plus one byte; on
    overflow :attr:`overflowed` is set and the rest of the message is skipped
    unread. (Skipped, not failed: the frame parser must stay usable so that the
    peer's reply to our 1009 close can still be read.)
    """

    name = "permessage-deflate"

    def __init__(self, max_message_size: int) -> None:
        self._limit = max_message_size
        self._enabled = False
        self.server_no_context_takeover = False
        self.client_no_context_takeover = False
        self.server_max_window_bits = 15
        self._inflater: Any = None  # zlib._Decompress, private in typeshed
        self._deflater: Any = None
        self._message_compressed = False
        self._frame_compressed = False
        self._text = False
        self._inflated = 0
        self._tail = b""  # last bytes handed on, to repair a text message cut short
        self.overflowed = False

    def enabled(self) -> bool:
        return self._enabled

    def offer(self) -> bool:
        return False  # a server never offers

    def negotiate(self, offer: str) -> str | None:
        """The ``sec-websocket-extensions`` response value for ``offer``, or None to decline."""
        name, *params = (part.strip() for part in offer.split(";"))
        if name.lower() != self.name:
            return None
        seen: set[str] = set()
        response = [self.name]
        for param in params:
            key, _, value = param.partition("=")
            key = key.strip().lower()
            value = value.strip().strip('"')
            if key not in _DEFLATE_PARAMS or key in seen:
                return None  # RFC 7692 section 5: decline offers we do not understand
            seen.add(key)
            if key.endswith("no_context_takeover"):
                if value:
                    return None
                setattr(self, key, True)
                response.append(key)
            elif key == "server_max_window_bits":
                # zlib cannot deflate with an 8-bit window: decline such offers.
                if not value.isdigit() or not 9 <= int(value) <= 15:
                    return None
                self.server_max_window_bits = int(value)
                response.append(f"{key}={value}")
            elif value and (not value.isdigit() or not 8 <= int(value) <= 15):
                return None  # client_max_window_bits: inflating with 15 bits reads any window
        self._enabled = True
        return "; ".join(response)

    # inbound
    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if rsv.rsv1 and (opcode.iscontrol() or opcode is Opcode.CONTINUATION):
            return CloseReason.PROTOCOL_ERROR
        self._frame_compressed = False
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._message_compressed = rsv.rsv1
            self._text = opcode is Opcode.TEXT
            self._inflated = 0
            self._tail = b""
        if not opcode.iscontrol():
            self._frame_compressed = self._message_compressed
        return RsvBits(True, False, False)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._frame_compressed:
            return data
        if self.overflowed:
            return b""
        return self._inflate(data)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin or not self._frame_compressed:
            return None
        self._message_compressed = False
        if self.overflowed:
            return _complete_utf8(self._tail) if self._text else None
        result = self._inflate(b"\x00\x00\xff\xff")
        if self.client_no_context_takeover:
            self._inflater = None
        return result

    def inflate_message(self, payload: bytes, text: bool) -> bytes | CloseReason:
        """A whole compressed message of one frame, inflated (the fast path's share of
        the three hooks above): the bytes, or a close reason if they are not deflate.
        Check :attr:`overflowed` after it, as after the hooks."""
        self._text = text
        self._inflated = 0
        self._tail = b""
        out = self._inflate(payload)
        if type(out) is not bytes or self.overflowed:
            return out
        end = self._inflate(b"\x00\x00\xff\xff")
        if type(end) is not bytes:
            return end
        if self.client_no_context_takeover:
            self._inflater = None
        return out + end

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        if self._inflater is None:
            self._inflater = zlib.decompressobj(-15)
        room = self._limit - self._inflated
        try:
            out: bytes = self._inflater.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self._inflated += len(out)
        if self._text:
            self._tail = out[-3:] if len(out) >= 3 else (self._tail + out)[-3:]
        if len(out) > room:
            # Over the limit (or more output pending): stop inflating for good.
            self.overflowed = True
            self._inflater = None
            if self._text:
                out += _complete_utf8(self._tail)
                self._tail = b""
        return out

    # outbound
    def frame_outbound(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[RsvBits, bytes]:
        if opcode.iscontrol():
            return rsv, data
        if opcode is not Opcode.CONTINUATION:
            rsv = RsvBits(True, rsv.rsv2, rsv.rsv3)
        return rsv, self._deflate(data, fin)

    def deflate_message(self, data: bytes) -> bytes:
        """A whole message's payload, compressed for one frame with RSV1 set."""
        return self._deflate(data, True)

    def _deflate(self, data: bytes, fin: bool) -> bytes:
        if self._deflater is None:
            # A 4 KiB window and memLevel 5 keep the compressor near 32 KiB per
            # connection instead of about 260 KiB. Any inflater reads a smaller window
            # than it allows, so this needs no negotiation.
            bits = min(self.server_max_window_bits, _SERVER_WINDOW_BITS)
            self._deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, 5)
        data = self._deflater.compress(data)
        if fin:
            data += self._deflater.flush(zlib.Z_SYNC_FLUSH)
            data = data[:-4]  # RFC 7692 7.2.1: drop the 00 00 ff ff tail
            if self.server_no_context_takeover:
                self._deflater = None
        return data


def _complete_utf8(tail: bytes) -> bytes:
    """Bytes that finish a UTF-8 sequence left open at the end of ``tail``.

    A text message cut at the size limit may stop inside a character; wsproto's
    UTF-8 check would then fail the whole connection (and lose the peer's close
    reply), so the cut is patched into a valid character. Its content is never
    delivered: the message is refused with 1009.
    """
    for index in range(len(tail) - 1, -1, -1):
        lead = tail[index]
        if lead & 0xC0 == 0x80:
            continue  # a continuation byte: keep looking for the lead byte
        need = 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if lead >= 0xF0 else 1
        have = len(tail) - index
        if have >= need:
            return b""
        # E0 and F0 restrict the first continuation byte (no overlong forms).
        first = {0xE0: 0xA0, 0xF0: 0x90}.get(lead, 0x80) if have == 1 else 0x80
        return bytes([first]) + b"\x80" * (need - have - 1)
    return b""
