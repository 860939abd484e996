"""One ASGI WebSocket over any transport: frames in, ASGI messages and frames out.

Theory of operation
-------------------
A :class:`WebSocket` starts once its opening request has been parsed, by whichever
transport carried it (an HTTP/1.1 ``Upgrade``, an HTTP/2 extended CONNECT). That
transport, the *owner*, writes the handshake response and moves bytes; this class
does everything in between, with wsproto as the frame layer::

    HANDSHAKE --accept--> OPEN --we send close--> CLOSING --peer's close--> CLOSED
        |                  |                                                  ^
        |                  +--peer's close (echoed) / lost / failed ----------+
        +--http.response.start--> RESPONDING --last body--> CLOSED
        +--close / app ends / peer lost ---------------------------------> CLOSED

* HANDSHAKE: the app has ``websocket.connect``. Its reply comes back from
  :meth:`WebSocket.app_send` as owner-facing *replies*: :class:`AcceptReply` (the
  owner writes 101 or 200 with the headers given), or :class:`ResponseStart` /
  :class:`ResponseBody` (a 403 for ``websocket.close``, a denial response, a 500
  when the app fails). Bytes that arrive early are kept until the accept.
* OPEN: frames become ``websocket.receive`` messages, reassembled here and bounded
  by ``max_message_size``: a frame header announcing more than the limit (or taking
  a fragmented message's running total past it) is refused with 1009 before its
  payload is read (:class:`SizeGuard`); a compressed message is bounded while it
  inflates (:class:`BoundedDeflate`), so it costs at most the limit. Pings are
  answered; an optional ping timer probes the peer, and a missing pong closes the
  connection.
* CLOSING: the server sent a close frame (the app closed, a message was too big,
  shutdown, the app ended) and waits, at most ``close_timeout``, for the peer's.
  Data frames still arriving are dropped.
* CLOSED: :attr:`WebSocket.finished` is set; the owner closes the TCP connection
  (HTTP/1.1, as RFC 6455 wants the server to) or ends the stream (HTTP/2).

The app hears ``websocket.disconnect`` exactly once, with the code and reason of
the close frame the peer sent (1006 when none arrived), and nothing after it
returned. Messages for the app wait in a queue of at most ``max_queue``; when it
is full no more frames are parsed and :attr:`WebSocket.wants_data` turns False so
the owner stops reading. Time comes in as ``now``; :meth:`get_timer` says when
:meth:`handle_timer` is due.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event as FrameEvent,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.extensions import Extension

from hypercorn_protocol.errors import (
    InvalidMessageError,
    UnexpectedMessageError,
    WebSocketClosedError,
)
from hypercorn_protocol.headers import normalise_app_headers
from hypercorn_protocol.typing import Headers, Message
from hypercorn_protocol.websocket.deflate import BoundedDeflate
from hypercorn_protocol.websocket.frames import (
    BINARY,
    TEXT,
    CompressedMessage,
    FastMessage,
    FrameSplitter,
    encode_frame,
)
from hypercorn_protocol.websocket.handshake import HandshakeOffer
from hypercorn_protocol.websocket.limits import SizeGuard
from hypercorn_protocol.websocket.replies import (
    AbortReply,
    AcceptReply,
    Reply,
    ResponseBody,
    ResponseStart,
    WebSocketOptions,
    WebSocketState,
)

ABNORMAL_CLOSURE = 1006


_NO_REPLY: tuple[Reply, ...] = ()
_FORBIDDEN = (ResponseStart(403, [(b"content-length", b"0")]), ResponseBody(b"", False))
_SERVER_ERROR = (ResponseStart(500, [(b"content-length", b"0")]), ResponseBody(b"", False))


# ---------------------------------------------------------------------- the stream
class WebSocket:
    """One WebSocket: fed by its owner, which forwards messages and bytes.

    Args:
        offer: the subprotocols and extensions the client asked for.
        options: limits, timers and compression.
        now: the current time, seconds.

    The owner drains :meth:`next_message` (each an ASGI message for the app) and
    :meth:`bytes_to_send` after every call, pauses reading while
    :attr:`wants_data` is False, and ends the transport once :attr:`finished`.
    """

    __slots__ = (
        "_app_done",
        "_blocked",
        "_close_deadline",
        "_conn",
        "_deflate",
        "_disconnected",
        "_early",
        "_frames",
        "_guard",
        "_inbox",
        "_messages",
        "_next_ping",
        "_now",
        "_options",
        "_out",
        "_parts",
        "_pong_deadline",
        "_shutting_down",
        "_size",
        "_unconsumed",
        "finished",
        "offer",
        "state",
    )

    def __init__(self, offer: HandshakeOffer, options: WebSocketOptions, now: float) -> None:
        self.offer = offer
        self._options = options
        self.state = WebSocketState.HANDSHAKE
        self.finished = False
        self._now = now
        self._messages: deque[Message] = deque([{"type": "websocket.connect"}])
        self._unconsumed = 1
        self._blocked = False
        self._out: list[bytes] = []
        self._early: list[bytes] = []
        self._conn: Connection | None = None
        self._deflate: BoundedDeflate | None = None
        self._guard = SizeGuard(options.max_message_size)
        self._frames: Iterator[FrameEvent] | None = None
        # Whole small messages skip wsproto; the rest is handed to it (frames.py).
        self._inbox = FrameSplitter(options.max_message_size)
        self._parts: list[Any] = []
        self._size = 0
        self._app_done = False
        self._disconnected = False
        self._shutting_down = False
        self._next_ping: float | None = None
        self._pong_deadline: float | None = None
        self._close_deadline: float | None = None

    # ------------------------------------------------------------------ outputs
    def next_message(self) -> Message | None:
        """The next ASGI message for the app, or None."""
        return self._messages.popleft() if self._messages else None

    def bytes_to_send(self) -> bytes:
        """Frames queued for the peer since the last call."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    @property
    def wants_data(self) -> bool:
        """False while the app's queue is full: the owner should stop reading."""
        return self._unconsumed < self._options.max_queue

    def get_timer(self) -> float | None:
        """The next deadline (ping, pong, close handshake), or None."""
        if self.state is WebSocketState.OPEN:
            ping, pong = self._next_ping, self._pong_deadline
            if ping is None:
                return pong
            return ping if pong is None or ping < pong else pong
        if self.state is WebSocketState.CLOSING:
            return self._close_deadline
        return None

    # ------------------------------------------------------------------- inputs
    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer; ``b""`` means the peer closed its side."""
        self._now = now
        if self.finished:
            return
        if not data:
            self._lost()
            return
        conn = self._conn
        if conn is None:
            if self.state is WebSocketState.HANDSHAKE:
                self._early.append(data)  # early frames: parsed once accepted
            return
        if conn.state is ConnectionState.CLOSED:
            return
        self._inbox.feed(data)
        self._process()

    def app_consumed(self) -> None:
        """The app took one message from its queue."""
        self._unconsumed -= 1
        if self._blocked and self.wants_data:
            self._blocked = False
            self._process()

    def app_send(self, message: Message, now: float) -> tuple[Reply, ...]:
        """The app's ``send(message)``; returns what the owner must write, if anything.

        Raises:
            UnexpectedMessageError: the message is not valid in the current state.
            WebSocketClosedError: data or an accept sent after the WebSocket closed.
            InvalidMessageError: (a ValueError) a subprotocol the client did not
                offer, a forbidden or malformed header, an invalid status or close code.
        """
        self._now = now
        kind = message["type"]
        state = self.state
        if state is WebSocketState.OPEN:
            if kind == "websocket.send":
                self._send_data(message)
                return _NO_REPLY
            if kind == "websocket.close":
                code = message.get("code")
                code = 1000 if code is None else int(code)
                if not 1000 <= code <= 4999:
                    raise InvalidMessageError(f"Invalid WebSocket close code {code}")
                self._start_close(code, message.get("reason") or "")
                return _NO_REPLY
        elif state is WebSocketState.HANDSHAKE:
            if kind == "websocket.accept":
                return self._accept(message)
            if kind == "websocket.close":
                self._disconnect(ABNORMAL_CLOSURE, "")
                self._finish()
                return _FORBIDDEN
            if kind == "websocket.http.response.start":
                status = int(message["status"])
                if not 200 <= status <= 999:
                    raise InvalidMessageError(f"Invalid response status {status}")
                headers = normalise_app_headers(message.get("headers", ()))
                self.state = WebSocketState.RESPONDING
                return (ResponseStart(status, headers),)
        elif state is WebSocketState.RESPONDING:
            if kind == "websocket.http.response.body":
                more_body = bool(message.get("more_body", False))
                if not more_body:
                    self._disconnect(ABNORMAL_CLOSURE, "")
                    self._finish()
                return (ResponseBody(bytes(message.get("body", b"")), more_body),)
        elif kind == "websocket.close":
            return _NO_REPLY  # closing twice, or after the peer left, is harmless
        elif kind in ("websocket.send", "websocket.accept") or kind.startswith(
            "websocket.http.response."
        ):
            raise WebSocketClosedError(f"{kind} on a closed WebSocket")
        raise UnexpectedMessageError(state.value, kind)

    def app_finished(self, exc: BaseException | None, now: float) -> tuple[Reply, ...]:
        """The app returned (``exc`` None) or raised; returns what the owner must write."""
        self._now = now
        self._app_done = True
        self._messages.clear()
        state = self.state
        if state is WebSocketState.HANDSHAKE:
            self._finish()
            return _SERVER_ERROR
        if state is WebSocketState.RESPONDING:
            self._finish()
            return (AbortReply(),)
        if state is WebSocketState.OPEN:
            self._start_close(1000 if exc is None else 1011, "")
        return _NO_REPLY

    def start_shutdown(self, now: float) -> None:
        """Close with 1001 (now, or right after an accept that is still to come)."""
        self._now = now
        self._shutting_down = True
        if self.state is WebSocketState.OPEN:
            self._start_close(1001, "")

    def connection_lost(self) -> None:
        """The transport is gone: the app hears 1006."""
        if not self.finished:
            self._lost()

    def handle_timer(self, now: float) -> None:
        """Act on expired deadlines: send a ping, give up on a pong or a close reply."""
        self._now = now
        if self.state is WebSocketState.CLOSING:
            if self._close_deadline is not None and now >= self._close_deadline:
                self._lost()
            return
        if self.state is not WebSocketState.OPEN:
            return
        conn = self._conn
        assert conn is not None
        options = self._options
        if self._pong_deadline is not None and now >= self._pong_deadline:
            if not self.wants_data and options.pong_timeout is not None:
                # We are not reading (the app is behind), so the pong may be waiting
                # unread in the socket: that is not the peer's fault.
                self._pong_deadline = now + options.pong_timeout
            else:
                self._out.append(conn.send(CloseConnection(1011, "keepalive ping timeout")))
                self._lost()
                return
        if self._next_ping is not None and now >= self._next_ping:
            self._out.append(conn.send(Ping(b"")))
            if options.pong_timeout is not None and self._pong_deadline is None:
                self._pong_deadline = now + options.pong_timeout
            assert options.ping_interval is not None
            self._next_ping = now + options.ping_interval

    # ---------------------------------------------------------------- internals
    def _accept(self, message: Message) -> tuple[Reply, ...]:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.offer.subprotocols:
            raise InvalidMessageError(f"Subprotocol {subprotocol!r} was not offered by the client")
        app_headers = normalise_app_headers(message.get("headers") or ())
        for name, _ in app_headers:
            if name.lower().startswith(b"sec-websocket-"):
                raise InvalidMessageError(f"The {name!r} header is set by the server")
        headers: Headers = []
        if subprotocol is not None:
            headers.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
        extensions: list[Extension] = []
        if self._options.compression:
            for offer in self.offer.extensions:
                deflate = BoundedDeflate(self._options.max_message_size)
                params = deflate.negotiate(offer)
                if params is not None:
                    headers.append((b"sec-websocket-extensions", params.encode("ascii")))
                    extensions.append(deflate)
                    self._deflate = deflate
                    break
        headers.extend(app_headers)
        extensions.append(self._guard)
        self._conn = Connection(ConnectionType.SERVER, extensions)
        self.state = WebSocketState.OPEN
        if self._options.ping_interval:
            self._next_ping = self._now + self._options.ping_interval
        if self._early:
            early, self._early = b"".join(self._early), []
            self._inbox.feed(early)
            self._process()
        if self._shutting_down:
            self._start_close(1001, "")
        return (AcceptReply(headers),)

    def _send_data(self, message: Message) -> None:
        # One frame per message, built here: all wsproto's send would do for it.
        data = message.get("bytes")
        if data is not None:
            opcode, payload = BINARY, bytes(data)
        else:
            text = message.get("text")
            if text is None:
                raise InvalidMessageError("websocket.send needs 'bytes' or 'text'")
            opcode, payload = TEXT, str(text).encode("utf-8")
        deflate = self._deflate
        if deflate is None:
            self._out.append(encode_frame(opcode, payload))
        else:
            self._out.append(encode_frame(opcode, deflate.deflate_message(payload), True))

    def _process(self) -> None:
        """Parse frames while the app's queue has room (or while closing: they are dropped).

        wsproto's events for the bytes it was given come first; then the splitter's next
        frame: a whole small message (taken here while open, inflated if compressed) or
        bytes for wsproto.
        """
        conn = self._conn
        assert conn is not None
        max_queue = self._options.max_queue
        inbox = self._inbox
        while not self.finished:
            if self._unconsumed >= max_queue and self.state is WebSocketState.OPEN:
                self._blocked = True
                return
            frames = self._frames
            if frames is None:
                item = inbox.next(self.state is WebSocketState.OPEN, self._deflate is not None)
                if item is None:
                    return
                if type(item) is FastMessage:
                    text = item.text
                    if text is not None:
                        self._emit({"type": "websocket.receive", "bytes": None, "text": text})
                    else:
                        self._emit({"type": "websocket.receive", "bytes": item.data, "text": None})
                    continue
                if type(item) is CompressedMessage:
                    self._inflated(item)
                    continue
                if conn.state is ConnectionState.CLOSED:
                    return
                conn.receive_data(item)  # type: ignore[arg-type]  # bytes, not a FastMessage
                frames = self._frames = conn.events()
            event = next(frames, None)
            if self._guard.over and self.state is WebSocketState.OPEN:
                # A frame header announced more than the limit: refuse now, before
                # its payload (what of it arrives is dropped while closing).
                self._too_big()
            if event is None:
                self._frames = None
                continue
            if type(event) is TextMessage or type(event) is BytesMessage:
                self._data(event)
            elif type(event) is Ping:
                if conn.state is ConnectionState.OPEN:
                    self._out.append(conn.send(event.response()))
            elif type(event) is Pong:
                self._pong_deadline = None
            elif type(event) is CloseConnection:
                self._peer_close(event)

    def _data(self, event: TextMessage | BytesMessage) -> None:
        if self.state is not WebSocketState.OPEN:
            return  # closing: the peer's data no longer matters
        data = event.data
        if type(data) is str and not data.isascii():
            self._size += len(data.encode("utf-8"))
        else:
            self._size += len(data)
        deflate = self._deflate
        if self._size > self._options.max_message_size or (
            deflate is not None and deflate.overflowed
        ):
            self._too_big()
            return
        if not event.message_finished:
            self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data)
            data = "".join(self._parts) if type(data) is str else b"".join(self._parts)
            self._parts.clear()
        self._size = 0
        if isinstance(data, str):
            self._emit({"type": "websocket.receive", "bytes": None, "text": data})
        else:
            payload = data if type(data) is bytes else bytes(data)
            self._emit({"type": "websocket.receive", "bytes": payload, "text": None})

    def _inflated(self, message: CompressedMessage) -> None:
        """A whole compressed message from the fast path: as wsproto and the deflate
        hooks would take it, refused the same ways (1009 over the limit, 1007 for
        bytes that are not deflate or text that is not UTF-8)."""
        deflate = self._deflate
        assert deflate is not None
        data = deflate.inflate_message(message.payload, message.text)
        if type(data) is not bytes:
            self._fail(1007, "error in extension")
            return
        if deflate.overflowed or len(data) > self._options.max_message_size:
            self._too_big()
            return
        if not message.text:
            self._emit({"type": "websocket.receive", "bytes": data, "text": None})
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self._fail(1007, str(error))
            return
        self._emit({"type": "websocket.receive", "bytes": None, "text": text})

    def _too_big(self) -> None:
        self._parts.clear()
        self._size = 0
        self._start_close(1009, "message too big")

    def _peer_close(self, event: CloseConnection) -> None:
        conn = self._conn
        assert conn is not None
        if conn.state is ConnectionState.REMOTE_CLOSING:
            # The peer started the closing handshake: echo its code, then we are done.
            self._out.append(conn.send(CloseConnection(event.code)))
            self._disconnect(event.code, event.reason or "")
        elif conn.state is ConnectionState.CLOSED:
            self._disconnect(event.code, event.reason or "")  # the reply to our close
        else:
            # wsproto could not parse the peer's frames (event.code says why)
            self._fail(event.code, event.reason)
            return
        self._finish()

    def _fail(self, code: int, reason: str | None) -> None:
        """Fail the connection (RFC 6455 7.1.7), telling the peer when we still may."""
        conn = self._conn
        assert conn is not None
        if conn.state is ConnectionState.OPEN:
            self._out.append(conn.send(CloseConnection(code, reason)))
        self._disconnect(ABNORMAL_CLOSURE, reason or "")
        self._finish()

    def _start_close(self, code: int, reason: str) -> None:
        if self.state is not WebSocketState.OPEN:
            return
        conn = self._conn
        assert conn is not None
        self._out.append(conn.send(CloseConnection(code, reason)))
        self.state = WebSocketState.CLOSING
        self._close_deadline = self._now + self._options.close_timeout
        if self._blocked:
            # Frames wait unparsed behind a full queue; the peer's close may be among
            # them, and what comes before it is dropped now anyway.
            self._blocked = False
            self._process()

    def _emit(self, message: Message) -> None:
        if not self._app_done:
            self._messages.append(message)
            self._unconsumed += 1

    def _disconnect(self, code: int, reason: str) -> None:
        if not self._disconnected:
            self._disconnected = True
            self._emit({"type": "websocket.disconnect", "code": int(code), "reason": reason})

    def _lost(self) -> None:
        self._disconnect(ABNORMAL_CLOSURE, "")
        self._finish()

    def _finish(self) -> None:
        self.state = WebSocketState.CLOSED
        self.finished = True
        self._early.clear()
        self._parts.clear()
        self._next_ping = self._pong_deadline = self._close_deadline = None


__all__ = [
    "AbortReply",
    "AcceptReply",
    "Reply",
    "ResponseBody",
    "ResponseStart",
    "WebSocket",
    "WebSocketOptions",
    "WebSocketState",
]
