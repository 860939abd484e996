"""The message size limit, applied to frame headers as wsproto parses them."""

from __future__ import annotations

from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["SizeGuard"]

_NO_BITS = RsvBits(False, False, False)


class SizeGuard(Extension):
    """Flags a message whose frame headers announce more than ``max_message_size``.

    It sits in wsproto's extension list (never negotiated, claims no RSV bit) only for
    its one hook that sees every frame header, with the payload length, before any of
    the payload: a data frame announcing more than the limit, or a continuation frame
    taking the message's running total past it, sets :attr:`over` at once, so the
    owner can close with 1009 without waiting for (or holding) those bytes. Nothing
    is refused here: the parser must stay usable, the payload still arriving is
    skipped by the owner, and the peer's reply to the close can still be read.

    A compressed message (RSV1 on its first frame) is left to
    :class:`~hypercorn_protocol.websocket.deflate.BoundedDeflate`: its frames carry
    compressed lengths, and its limit is on the inflated size.
    """

    name = "hypercorn-size-guard"  # internal: never offered nor named in a handshake

    def __init__(self, max_message_size: int) -> None:
        self._limit = max_message_size
        self._total = 0  # bytes the current message's headers announced so far
        self._compressed = False
        self._in_header = False  # counted a header whose frame has not completed yet
        self.over = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            return _NO_BITS  # a ping or close between fragments: not part of the message
        if self._in_header:
            # wsproto reads a header again when its masking key had not all arrived
            # the first time: the same frame, already counted.
            return _NO_BITS
        self._in_header = True
        if opcode is not Opcode.CONTINUATION:
            self._total = 0
            self._compressed = rsv.rsv1
        self._total += payload_length
        if not self._compressed and self._total > self._limit:
            self.over = True
        return _NO_BITS

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        self._in_header = False
        return None
