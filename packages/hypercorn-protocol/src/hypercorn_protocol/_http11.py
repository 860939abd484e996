"""HTTP/1.1 server connection: bytes and ASGI messages in, bytes and events out.

Theory of operation
-------------------
One connection carries one request at a time. Each request is a *stream* with a
fresh id (1, 2, 3, ...). The wire (h11 behind :class:`~hypercorn_protocol._h11.HTTP1Wire`)
parses and frames; this module decides what happens around it:

* A request head starts the app (:class:`StartApp`). Body chunks become
  ``http.request`` messages (:class:`AppMessage`); the last chunk carries
  ``more_body=False``. More than ``max_app_queue_size`` messages the app has not
  yet taken pause reading (:class:`PauseReading`) until it catches up.
* The app's ``http.response.start`` is held until the first body message so that
  head and body leave in one write, and a single-message body gets a
  ``content-length`` instead of chunked framing.
* When the response ends the stream completes (:class:`RequestCompleted`), the app
  is told ``http.disconnect`` (exactly once per stream), and the connection either
  starts the next cycle (keep-alive, pipelined requests are then parsed) or closes.
* Pipelined requests wait inside the wire buffer; reading pauses meanwhile, so the
  buffer is bounded by one read.
* Peer errors never raise: they become a 4xx answer with ``connection: close``
  followed by :class:`CloseConnection`. App misuse raises
  :class:`~hypercorn_protocol.errors.UnexpectedMessageError` into the app.

Timers: one deadline at a time, ``get_timer()``. While no request is in flight the
keep-alive deadline runs from the moment the connection went idle and is not
pushed back by partial request heads (slowloris). ``read_timeout``, when set, bounds
every wait for request bytes.

WebSocket: a GET with ``Connection: upgrade`` and ``Upgrade: websocket`` (a valid
key, version 13) becomes a ``websocket`` stream driven by
:class:`~hypercorn_protocol._ws.WebSocket`. h11 is left behind at that request
head: reading pauses until the app answers, bytes h11 had already buffered go to
the WebSocket, and so does everything read after the 101. Refusals (403, a denial
response, a 500) are written like any response and end the connection. Once
upgraded, only the WebSocket's timers apply (no keep-alive, no ``read_timeout``).
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Callable
from enum import Enum
from http import HTTPStatus
from typing import Any

from wsproto.utilities import generate_accept_token

from hypercorn_protocol._h11 import (
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    PEER_CLOSED,
    Body,
    H11Wire,
    HTTP1Wire,
    RequestHead,
)
from hypercorn_protocol._headers import (
    DateCache,
    DefaultHeaders,
    body_allowed,
    normalise_app_headers,
)
from hypercorn_protocol._scope import Address, host_header, http_scope, split_target
from hypercorn_protocol._ws import (
    AbortReply,
    AcceptReply,
    HandshakeOffer,
    Reply,
    ResponseStart,
    WebSocket,
    WebSocketOptions,
    WebSocketState,
    websocket_scope,
)
from hypercorn_protocol.errors import RemoteProtocolError, UnexpectedMessageError
from hypercorn_protocol.events import (
    AppMessage,
    CloseConnection,
    Event,
    PauseReading,
    RequestCompleted,
    ResponseSummary,
    ResumeReading,
    StartApp,
)
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import ASGIScope, Headers, Message

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_DISCONNECT: Message = {"type": "http.disconnect"}
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")
# How long a connection accepted just before a graceful shutdown may take to send
# its first request (see start_shutdown).
_FIRST_REQUEST_GRACE = 1.0
# _check_head's answers for upgrade requests (not errors).
_WEBSOCKET = (101, "websocket")
_H2C = (101, "h2c")
# Dropped from an h2c request replayed as HTTP/2 stream 1 (RFC 9113 section 8.2.2).
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"upgrade",
        b"http2-settings",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"host",
    }
)
H2CSwitch = Callable[[Headers, bytes, bytes, bool, float], None]
_WS_VERSION_HEADERS: Headers = [(b"sec-websocket-version", b"13")]


class ResponseState(Enum):
    NONE = "no response yet"
    STARTED = "response started, head held back"
    BODY = "sending body"
    DONE = "response complete"


class _Stream:
    __slots__ = (
        "app_finished",
        "body_bytes",
        "completed",
        "disconnected",
        "expects_continue",
        "headers",
        "method",
        "request_complete",
        "response",
        "scope",
        "start",
        "status",
        "stream_id",
        "unconsumed",
    )

    def __init__(self, stream_id: int, scope: ASGIScope, method: bytes, start: float) -> None:
        self.stream_id = stream_id
        self.scope = scope
        self.method = method
        self.start = start
        self.response = ResponseState.NONE
        self.status = 0
        self.headers: Headers = []
        self.body_bytes = 0
        self.completed = False  # RequestCompleted was emitted
        self.request_complete = False
        self.disconnected = False
        self.app_finished = False
        self.expects_continue = False
        self.unconsumed = 0


class HTTP11Connection:
    """The HTTP/1.1 protocol of a :class:`~hypercorn_protocol.ServerConnection`."""

    def __init__(
        self,
        settings: ProtocolSettings,
        *,
        client: Address,
        server: Address,
        scheme: str,
        now: float,
        state: dict[str, Any] | None = None,
        dates: DateCache | None = None,
        wire: HTTP1Wire | None = None,
        on_h2c: H2CSwitch | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._server = server
        self._scheme = scheme
        self._lifespan_state = state
        self._wire: HTTP1Wire = wire or H11Wire(settings.h11_max_incomplete_size)
        self._default_headers = DefaultHeaders(settings, "h11", dates or DateCache())
        self._server_names = {name.encode("latin-1") for name in settings.server_names}
        self._pass_raw_headers = settings.h11_pass_raw_headers
        self._max_queue = max(settings.max_app_queue_size, 1)
        self._max_requests = settings.keep_alive_max_requests
        self._keep_alive_timeout = settings.keep_alive_timeout
        self._read_timeout = settings.read_timeout
        self._root_path = settings.root_path
        self._events: deque[Event] = deque()
        self._out: list[bytes] = []
        self._stream: _Stream | None = None
        self._last_stream_id = 0
        self._requests = 0
        self._idle_since = now
        self._last_read = now
        self._pending_body: bytes | None = None
        self._reading_paused = False
        self._wire_paused = False
        self._shutting_down = False
        self._grace_deadline: float | None = None
        self._closed = False
        self._on_h2c = on_h2c
        self._ws: WebSocket | None = None  # set once a request asked for a WebSocket
        self._ws_key = b""

    # ------------------------------------------------------------------ outputs
    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        if self._closed:
            return None
        if self._ws is not None:
            return self._ws.get_timer()
        deadline: float | None = None
        stream = self._stream
        if stream is None:
            deadline = self._idle_deadline()
        if self._read_timeout is not None and self._awaiting_request_bytes():
            read_deadline = self._last_read + self._read_timeout
            deadline = read_deadline if deadline is None else min(deadline, read_deadline)
        return deadline

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle(self) -> bool:
        return self._stream is None

    # ------------------------------------------------------------------- inputs
    def receive_data(self, data: bytes, now: float) -> None:
        if self._closed:
            return
        if self._ws is not None:
            self._ws.receive_data(data, now)
            self._ws_flush()
            return
        if data:
            self._last_read = now
        self._wire.receive(data)
        self._process(now)
        if not data:
            self._peer_done_sending()

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        if self._ws is not None:
            self._ws.handle_timer(now)
            self._ws_flush()
            return
        if self._stream is None and now >= self._idle_deadline():
            self._close()
        elif (
            self._read_timeout is not None
            and self._awaiting_request_bytes()
            and now >= self._last_read + self._read_timeout
        ):
            self._abandon(now)
            self._disconnect_stream()
            self._close()

    def start_shutdown(self, now: float) -> None:
        self._shutting_down = True
        if self._ws is not None:
            self._ws.start_shutdown(now)
            self._ws_flush()
            return
        if self._stream is None and not self._closed:
            if self._requests == 0 and self._wire_has_nothing_yet():
                # A fresh connection's first request may be on its way already
                # (accepted just before the shutdown): closing now would reset it.
                # It gets a short grace, then is served with connection: close.
                self._grace_deadline = now + _FIRST_REQUEST_GRACE
            else:
                self._close()

    def _wire_has_nothing_yet(self) -> bool:
        leftover, peer_closed = self._wire.leftover()
        return not leftover and not peer_closed

    def _idle_deadline(self) -> float:
        deadline = self._idle_since + self._keep_alive_timeout
        if self._grace_deadline is not None and self._grace_deadline < deadline:
            return self._grace_deadline
        return deadline

    def connection_lost(self, now: float) -> None:
        """The transport is gone (reset, write failure): tell the app, stop everything."""
        self._abandon(now)
        self._disconnect_stream()
        self._closed = True
        if self._ws is not None:
            self._ws.connection_lost()
            self._ws_flush()

    def app_consumed(self, stream_id: int) -> None:
        stream = self._stream
        if stream is None or stream.stream_id != stream_id:
            return
        if self._ws is not None:
            self._ws.app_consumed()
            self._ws_flush()
            return
        stream.unconsumed -= 1
        if self._reading_paused and stream.unconsumed < self._max_queue and not self._wire_paused:
            self._reading_paused = False
            self._events.append(ResumeReading())

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app awaits a body it has not got: time to answer ``Expect: 100-continue``."""
        stream = self._stream
        if stream is not None and stream.stream_id == stream_id and stream.expects_continue:
            stream.expects_continue = False
            if stream.response is ResponseState.NONE and not self._closed:
                self._out.append(self._wire.informational(100, self._default_headers.get(now)))

    def app_send(self, stream_id: int, message: Message, now: float) -> None:
        stream = self._stream
        if self._ws is not None and stream is not None and stream.stream_id == stream_id:
            self._ws_replies(stream, self._ws.app_send(message, now), now)
            return
        if stream is None or stream.stream_id != stream_id or self._closed:
            return  # the stream is over (client gone, or an error answered it)
        kind = message["type"]
        if kind == "http.response.body":
            if stream.response is ResponseState.BODY:
                self._send_body(stream, message, now)
                return
            if stream.response is ResponseState.STARTED:
                self._send_head(stream, message, now)
                self._send_body(stream, message, now)
                return
        elif kind == "http.response.start" and stream.response is ResponseState.NONE:
            status = int(message["status"])
            headers = normalise_app_headers(message.get("headers", ()))
            if 100 <= status < 200 and status != 101:
                if not self._closed:
                    self._out.append(
                        self._wire.informational(status, headers + self._default_headers.get(now))
                    )
                return
            if not 200 <= status <= 999:
                raise ValueError(f"Invalid response status {status}")
            stream.status = status
            stream.headers = headers
            stream.response = ResponseState.STARTED
            stream.expects_continue = False
            return
        raise UnexpectedMessageError(stream.response.value, kind)

    def app_finished(self, stream_id: int, exc: BaseException | None, now: float) -> None:
        stream = self._stream
        if stream is None or stream.stream_id != stream_id:
            return
        stream.app_finished = True
        if self._ws is not None:
            self._ws_replies(stream, self._ws.app_finished(exc, now), now)
            return
        if self._closed or stream.response is ResponseState.DONE:
            return
        if stream.response is ResponseState.BODY:
            # Part of the body is out; ending it cleanly would make a truncated
            # response look complete, so the connection is cut instead.
            self._complete(stream, now)
            self._close()
            return
        stream.status = 500
        stream.headers = [(b"content-length", b"0")]
        stream.response = ResponseState.STARTED
        self._send_head(stream, {"body": b""}, now)
        self._send_body(stream, {"body": b""}, now)

    # ------------------------------------------------------------ request side
    def _process(self, now: float) -> None:
        wire = self._wire
        while not self._closed:
            try:
                event = wire.next_event()
            except RemoteProtocolError as exc:
                self._protocol_error(exc, now)
                return
            kind = type(event)
            if kind is Body:
                self._receive_body(event.data)  # type: ignore[union-attr]
            elif event is END_OF_BODY:
                self._end_of_body(now)
            elif kind is RequestHead:
                self._start_request(event, now)  # type: ignore[arg-type]
                if self._ws is not None:
                    return  # h11 is done with: the rest belongs to the WebSocket
            elif event is NEED_DATA:
                self._flush_pending_body()
                return
            elif event is PAUSED:
                self._flush_pending_body()
                if not self._wire_paused:
                    self._wire_paused = True
                    if not self._reading_paused:
                        self._reading_paused = True
                        self._events.append(PauseReading())
                return
            elif event is PEER_CLOSED:
                self._peer_closed(now)
                return

    def _start_request(self, head: RequestHead, now: float) -> None:
        error = self._check_head(head)
        if error is not None:
            if error is _WEBSOCKET:
                self._start_websocket(head, now)
            elif error is _H2C:
                self._switch_to_h2c(head, now)
            else:
                self._reject(error[0], error[1], now)
            return
        self._requests += 1
        self._last_stream_id += 1
        raw_path, query = split_target(head.target)
        headers = head.raw_headers if self._pass_raw_headers else head.headers
        scope = http_scope(
            http_version=head.http_version.decode("ascii"),
            method=head.method.decode("ascii"),
            scheme=self._scheme,
            raw_path=raw_path,
            query_string=query,
            root_path=self._root_path,
            headers=headers,
            client=self._client,
            server=self._server,
            state=self._lifespan_state,
            extensions={},
        )
        stream = _Stream(self._last_stream_id, scope, head.method, now)
        stream.expects_continue = head.expects_continue
        self._stream = stream
        self._events.append(StartApp(stream.stream_id, scope))

    def _check_head(self, head: RequestHead) -> tuple[int, str] | None:
        """Refuse what h11 lets through but smuggling or routing bugs feed on."""
        content_lengths = 0
        transfer_encoding = False
        upgrade = False
        for name, _ in head.headers:
            if name == b"content-length":
                content_lengths += 1
            elif name == b"transfer-encoding":
                transfer_encoding = True
            elif name == b"upgrade":
                upgrade = True
        if content_lengths > 1:
            return 400, "duplicate Content-Length"
        if content_lengths and transfer_encoding:
            return 400, "both Content-Length and Transfer-Encoding"
        if head.method == b"CONNECT":
            return 405, "CONNECT is not supported"
        if self._server_names:
            host = host_header(head.headers)
            if host not in self._server_names:
                return 404, "host not in server_names"
        if upgrade:
            if _asks_for_websocket(head.headers):
                return _WEBSOCKET
            if (
                self._on_h2c is not None
                and not content_lengths
                and not transfer_encoding
                and _asks_for_h2c(head.headers)
            ):
                return _H2C
        return None

    def _receive_body(self, data: bytes) -> None:
        stream = self._stream
        if stream is None or stream.response is ResponseState.DONE or not data:
            return  # the app already answered: the rest of the body is dropped
        if self._pending_body is not None:
            self._deliver(
                stream, {"type": "http.request", "body": self._pending_body, "more_body": True}
            )
        self._pending_body = data

    def _flush_pending_body(self) -> None:
        stream = self._stream
        if self._pending_body is not None and stream is not None:
            body, self._pending_body = self._pending_body, None
            self._deliver(stream, {"type": "http.request", "body": body, "more_body": True})

    def _end_of_body(self, now: float) -> None:
        stream = self._stream
        if stream is None:
            return
        stream.request_complete = True
        body, self._pending_body = self._pending_body or b"", None
        if stream.response is ResponseState.DONE:
            self._next_cycle(now)
        else:
            self._deliver(stream, {"type": "http.request", "body": body, "more_body": False})

    def _deliver(self, stream: _Stream, message: Message) -> None:
        self._events.append(AppMessage(stream.stream_id, message))
        stream.unconsumed += 1
        if stream.unconsumed >= self._max_queue and not self._reading_paused:
            self._reading_paused = True
            self._events.append(PauseReading())

    def _peer_closed(self, now: float) -> None:
        stream = self._stream
        if stream is None:
            self._close()
        elif not stream.request_complete:
            self._abandon(now)
            self._disconnect_stream()
            self._close()
        else:
            self._peer_done_sending()

    def _peer_done_sending(self) -> None:
        """EOF after a complete request: the app hears ``http.disconnect``, but the
        connection stays open, so a response it still sends reaches a half-closed client
        (also when pipelined requests kept h11 from reporting the EOF itself)."""
        stream = self._stream
        if stream is not None and stream.request_complete and not self._closed:
            self._disconnect_stream()

    def _protocol_error(self, exc: RemoteProtocolError, now: float) -> None:
        stream = self._stream
        if stream is not None:
            self._abandon(now)
            self._disconnect_stream()
            if stream.response is ResponseState.BODY:
                self._close(exc)
                return
        self._reject(exc.status_hint, str(exc), now, exc)

    def _reject(
        self,
        status: int,
        reason: str,
        now: float,
        exc: Exception | None = None,
        extra: Headers | None = None,
    ) -> None:
        """Answer a request the app never sees, then close (its framing is not trusted)."""
        headers = [(b"content-length", b"0"), (b"connection", b"close")]
        if extra:
            headers += extra
        headers += self._default_headers.get(now)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))]
        head.extend(b"%s: %s\r\n" % pair for pair in headers)
        head.append(b"\r\n")
        self._out.append(b"".join(head))
        self._close(exc or RemoteProtocolError(reason, status_hint=status))

    # ----------------------------------------------------------- response side
    def _send_head(self, stream: _Stream, message: Message, now: float) -> None:
        headers = stream.headers
        single_message = not message.get("more_body", False)
        if (
            single_message
            and body_allowed(stream.method, stream.status)
            and not any(name.lower() in _FRAMING_HEADERS for name, _ in headers)
        ):
            headers = [*headers, (b"content-length", b"%d" % len(message.get("body", b"")))]
        if self._must_close_after_response():
            headers = [*headers, (b"connection", b"close")]
        headers = headers + self._default_headers.get(now)
        stream.headers = headers
        reason = _REASONS.get(stream.status, b"")
        self._out.append(self._wire.response_head(stream.status, headers, reason))
        stream.response = ResponseState.BODY

    def _send_body(self, stream: _Stream, message: Message, now: float) -> None:
        body = message.get("body", b"")
        if body and body_allowed(stream.method, stream.status):
            self._out.append(self._wire.body(body))
            stream.body_bytes += len(body)
        if not message.get("more_body", False):
            self._out.append(self._wire.end())
            stream.response = ResponseState.DONE
            self._complete(stream, now)
            if stream.request_complete:
                self._next_cycle(now)
            elif not self._closed:
                # The app answered before the body finished arriving; rather than
                # read and discard an unknown amount, this connection ends here.
                self._close()

    def _must_close_after_response(self) -> bool:
        return self._shutting_down or (
            self._max_requests > 0 and self._requests >= self._max_requests
        )

    def _complete(self, stream: _Stream, now: float) -> None:
        stream.completed = True
        summary = ResponseSummary(stream.status, stream.headers, stream.body_bytes)
        self._events.append(
            RequestCompleted(stream.stream_id, stream.scope, summary, stream.start, now)
        )
        self._disconnect_stream()

    def _abandon(self, now: float) -> None:
        """The exchange ended without a complete response: still one access-log entry."""
        stream = self._stream
        if stream is None or stream.completed or self._ws is not None:
            return
        stream.completed = True
        summary = None
        if stream.response is ResponseState.BODY:
            summary = ResponseSummary(stream.status, stream.headers, stream.body_bytes)
        self._events.append(
            RequestCompleted(stream.stream_id, stream.scope, summary, stream.start, now)
        )

    def _disconnect_stream(self) -> None:
        stream = self._stream
        if stream is not None and not stream.disconnected:
            stream.disconnected = True
            # A WebSocket tells its app itself (with a close code), via _ws_flush.
            if not stream.app_finished and self._ws is None:
                self._events.append(AppMessage(stream.stream_id, _DISCONNECT))

    def _next_cycle(self, now: float) -> None:
        if self._closed:
            return
        self._stream = None
        if not self._wire.can_reuse or self._must_close_after_response():
            self._close()
            return
        self._wire.start_next_cycle()
        self._idle_since = now
        self._pending_body = None
        if self._wire_paused:
            self._wire_paused = False
        if self._reading_paused:
            self._reading_paused = False
            self._events.append(ResumeReading())
        self._process(now)  # requests that were pipelined behind this one

    def _awaiting_request_bytes(self) -> bool:
        stream = self._stream
        return stream is None or (not stream.request_complete and not self._reading_paused)

    def _close(self, error: Exception | None = None) -> None:
        if not self._closed:
            self._closed = True
            self._events.append(CloseConnection(error))

    # ------------------------------------------------------------------- h2c
    def _switch_to_h2c(self, head: RequestHead, now: float) -> None:
        """Answer 101 and hand the connection, with this request as stream 1, to HTTP/2."""
        assert self._on_h2c is not None
        settings = b""
        authority = b""
        request: Headers = [
            (b":method", head.method),
            (b":path", head.target),
            (b":scheme", self._scheme.encode()),
        ]
        for name, value in head.headers:
            if name == b"http2-settings":
                settings = value
            elif name == b"host":
                authority = value
            elif name == b"te" and value.strip().lower() != b"trailers":
                continue
            elif name not in _HOP_BY_HOP:
                request.append((name, value))
        request.insert(3, (b":authority", authority))
        self._out.append(
            b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n"
        )
        leftover, peer_closed = self._wire.leftover()
        self._closed = True  # this object is done; the HTTP/2 connection takes over
        self._on_h2c(request, settings, leftover, peer_closed, now)

    # ---------------------------------------------------------------- WebSocket
    def _start_websocket(self, head: RequestHead, now: float) -> None:
        problem = _handshake_problem(head)
        if problem is not None:
            reason, key = problem
            extra = _WS_VERSION_HEADERS if key == "version" else None
            self._reject(400, reason, now, extra=extra)
            return
        self._requests += 1
        self._last_stream_id += 1
        raw_path, query = split_target(head.target)
        offer = HandshakeOffer.from_headers(head.headers)
        scope = websocket_scope(
            http_version="1.1",
            scheme="wss" if self._scheme == "https" else "ws",
            raw_path=raw_path,
            query_string=query,
            root_path=self._root_path,
            headers=head.raw_headers if self._pass_raw_headers else head.headers,
            client=self._client,
            server=self._server,
            subprotocols=offer.subprotocols,
            state=self._lifespan_state,
        )
        stream = _Stream(self._last_stream_id, scope, head.method, now)
        stream.request_complete = False  # never set: the connection ends with the WebSocket
        self._stream = stream
        ws = WebSocket(offer, WebSocketOptions.from_settings(self._settings), now)
        self._ws = ws
        self._ws_key = _header(head.headers, b"sec-websocket-key") or b""
        self._events.append(StartApp(stream.stream_id, scope))
        leftover, peer_closed = self._wire.leftover()
        if leftover:
            ws.receive_data(leftover, now)
        if peer_closed:
            ws.receive_data(b"", now)
        # A client must wait for the 101 before sending frames: read nothing until then.
        if not self._reading_paused:
            self._reading_paused = True
            self._events.append(PauseReading())
        self._ws_flush()

    def _ws_replies(self, stream: _Stream, replies: tuple[Reply, ...], now: float) -> None:
        """Write what the WebSocket asked for (handshake answers), then flush it."""
        for reply in replies:
            if self._closed:
                break
            kind = type(reply)
            if kind is AcceptReply:
                self._ws_accept(stream, reply.headers, now)  # type: ignore[union-attr]
            elif kind is ResponseStart:
                stream.status = reply.status  # type: ignore[union-attr]
                stream.headers = [*reply.headers, (b"connection", b"close")]  # type: ignore[union-attr]
                stream.response = ResponseState.STARTED
            elif kind is AbortReply:
                self._close()  # a refusal cut short: the truncation must show
            else:
                message = {"body": reply.body, "more_body": reply.more_body}  # type: ignore[union-attr]
                if stream.response is ResponseState.STARTED:
                    self._send_head(stream, message, now)
                self._send_body(stream, message, now)
        self._ws_flush()

    def _ws_accept(self, stream: _Stream, extra: Headers, now: float) -> None:
        headers: Headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", generate_accept_token(self._ws_key)),
            *extra,
            *self._default_headers.get(now),
        ]
        lines = [b"HTTP/1.1 101 Switching Protocols\r\n"]
        lines.extend(b"%s: %s\r\n" % pair for pair in headers)
        lines.append(b"\r\n")
        self._out.append(b"".join(lines))
        stream.status = 101
        stream.headers = headers
        stream.response = ResponseState.DONE
        summary = ResponseSummary(101, headers, 0)
        self._events.append(
            RequestCompleted(stream.stream_id, stream.scope, summary, stream.start, now)
        )

    def _ws_flush(self) -> None:
        """Forward the WebSocket's messages and frames; follow its reading and ending."""
        ws = self._ws
        stream = self._stream
        if ws is None or stream is None:
            return
        while (message := ws.next_message()) is not None:
            self._events.append(AppMessage(stream.stream_id, message))
        data = ws.bytes_to_send()
        if self._closed:
            return
        if data:
            self._out.append(data)
        if ws.finished:
            self._close()
        elif ws.state is WebSocketState.OPEN or ws.state is WebSocketState.CLOSING:
            if ws.wants_data:
                if self._reading_paused:
                    self._reading_paused = False
                    self._events.append(ResumeReading())
            elif not self._reading_paused:
                self._reading_paused = True
                self._events.append(PauseReading())


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip() for token in value.lower().split(b",")]


def _header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _asks_for_websocket(headers: Headers) -> bool:
    """``Connection: upgrade`` together with ``Upgrade: websocket`` (RFC 6455 4.1)."""
    connection = websocket = False
    for name, value in headers:
        if name == b"connection":
            connection = connection or b"upgrade" in _tokens(value)
        elif name == b"upgrade":
            websocket = websocket or b"websocket" in _tokens(value)
    return connection and websocket


def _asks_for_h2c(headers: Headers) -> bool:
    """``Upgrade: h2c`` with one ``HTTP2-Settings`` and both named in ``Connection``."""
    connection: set[bytes] = set()
    h2c = False
    settings = 0
    for name, value in headers:
        if name == b"connection":
            connection.update(_tokens(value))
        elif name == b"upgrade":
            h2c = h2c or b"h2c" in _tokens(value)
        elif name == b"http2-settings":
            settings += 1
    return h2c and settings == 1 and {b"upgrade", b"http2-settings"} <= connection


def _handshake_problem(head: RequestHead) -> tuple[str, str] | None:
    """Why this upgrade request is not a valid opening handshake, or None if it is."""
    if head.method != b"GET":
        return "WebSocket handshake with a method other than GET", "method"
    if head.http_version != b"1.1":
        return "WebSocket handshake needs HTTP/1.1", "http_version"
    keys = [value for name, value in head.headers if name == b"sec-websocket-key"]
    if len(keys) != 1 or not _valid_key(keys[0]):
        return "missing or invalid Sec-WebSocket-Key", "key"
    if _header(head.headers, b"sec-websocket-version") != b"13":
        return "unsupported Sec-WebSocket-Version", "version"
    for name, value in head.headers:
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return "WebSocket handshake with a body", "body"
    return None


def _valid_key(key: bytes) -> bool:
    # RFC 6455 4.1: a base64-encoded 16-byte nonce is exactly 24 characters.
    if len(key) != 24 or not key.endswith(b"=="):
        return False
    try:
        return len(binascii.a2b_base64(key)) == 16
    except binascii.Error:
        return False
