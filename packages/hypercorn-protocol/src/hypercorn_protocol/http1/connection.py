"""HTTP/1.1 server connection: bytes and ASGI messages in, bytes and events out.

Theory of operation
-------------------
One connection carries one request at a time. Each request is a *stream* with a
fresh id (1, 2, 3, ...) of the shared stream model
(:class:`~hypercorn_protocol.asgi.stream.StreamConnection`, which knows the ASGI
rules); this module maps the wire (h11 behind
:class:`~hypercorn_protocol.http1.wire.HTTP1Wire`) onto it:

* A request head starts the app. Body chunks become ``http.request`` messages, held
  back by one so that the last chunk carries ``more_body=False``.
* The app's ``http.response.start`` is held until the first body message so that
  head and body leave in one write, and a single-message body gets a
  ``content-length`` instead of chunked framing. ``http.response.start`` with a 1xx
  status sends that interim response at once.
* When the response ends the stream completes, and the connection either starts the
  next cycle (keep-alive, pipelined requests are then parsed) or closes. An app that
  fails mid-body has the connection cut.
* Pipelined requests wait inside the wire buffer; reading pauses meanwhile (the wire
  counts as stream 0 in ``_paused_by``), so the buffer is bounded by one read.
* Peer errors never raise: they become a 4xx answer with ``connection: close``
  followed by :class:`CloseConnection`.

Timers: one deadline at a time, ``get_timer()``. While no request is in flight the
keep-alive deadline runs from the moment the connection went idle and is not
pushed back by partial request heads (slowloris); from a head's first byte
``request_header_timeout`` bounds it too, and whichever passes first with part of a
head read answers 408. While the app waits for body, ``request_body_timeout`` bounds
the silence (408 before the response began, else the connection is cut), and a full
send buffer is bounded by ``response_write_timeout`` (the stream model's).
``read_timeout``, when set, bounds every wait for request bytes.

Limits: a ``content-length`` over ``max_request_body_size`` is answered 413 before
the app starts; a chunked body crossing it is answered 413 (or cut, once the
response began) and the connection closes, since the rest of the body is unread.

WebSocket: a GET with ``Connection: upgrade`` and ``Upgrade: websocket`` (a valid
key, version 13) becomes a ``websocket`` stream. h11 is left behind at that request
head: reading pauses until the app answers, bytes h11 had already buffered go to
the WebSocket, and so does everything read after the 101. Refusals (403, a denial
response, a 500) are written like any response and end the connection. Once
upgraded, only the WebSocket's timers apply (no keep-alive, no ``read_timeout``).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

from hypercorn_protocol.asgi.scope import split_target
from hypercorn_protocol.asgi.stream import (
    ConnectionContext,
    ResponseState,
    Stream,
    StreamConnection,
)
from hypercorn_protocol.errors import RemoteProtocolError
from hypercorn_protocol.events import PauseReading, ResumeReading, StartApp
from hypercorn_protocol.headers import header_value, tokens
from hypercorn_protocol.http1.parsers import wire_factory
from hypercorn_protocol.http1.wire import (
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    PEER_CLOSED,
    Body,
    HTTP1Wire,
    RequestHead,
    WireReplaced,
)
from hypercorn_protocol.typing import ASGIScope, Headers, Message
from hypercorn_protocol.websocket.handshake import (
    VERSION_HEADERS,
    accept_token,
    asks_for_websocket,
    handshake_problem,
)
from hypercorn_protocol.websocket.replies import WebSocketState

if TYPE_CHECKING:
    from hypercorn_protocol.websocket.stream import WebSocket

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
# How long a connection accepted just before a graceful shutdown may take to send
# its first request (see start_shutdown).
_FIRST_REQUEST_GRACE = 1.0
# _check_head's answers for upgrade requests (not errors).
_HTTP1_VERSIONS = (b"1.0", b"1.1")
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
_VERSION_TEXT = {b"1.1": "1.1", b"1.0": "1.0"}
_METHOD_TEXT = {
    method.encode("ascii"): method
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE")
}
# The wire's entry in _paused_by: pipelined requests wait in its buffer.
_WIRE = 0
H2CSwitch = Callable[[Headers, bytes, bytes, bool, float], None]
_NONE = ResponseState.NONE
_BODY = ResponseState.BODY
_DONE = ResponseState.DONE
_STARTED = ResponseState.STARTED


class HTTP11Connection(StreamConnection[Stream]):
    """The HTTP/1.1 protocol of a :class:`~hypercorn_protocol.ServerConnection`."""

    interim_by_start = True
    extensions = frozenset({"http.response.pathsend"})

    def __init__(
        self,
        context: ConnectionContext,
        now: float,
        *,
        wire: HTTP1Wire | None = None,
        on_h2c: H2CSwitch | None = None,
    ) -> None:
        super().__init__(context, "h11")
        settings = context.settings
        self._scheme = context.scopes.scheme
        self._wire: HTTP1Wire = wire or wire_factory(settings.http_parser)(
            settings.h11_max_incomplete_size
        )
        self._server_names = {name.encode("latin-1") for name in settings.server_names}
        self._pass_raw_headers = settings.h11_pass_raw_headers
        self._max_requests = settings.keep_alive_max_requests
        self._keep_alive_timeout = settings.keep_alive_timeout
        self._read_timeout = settings.read_timeout
        self._stream: Stream | None = None  # the one stream in flight
        self._last_stream_id = 0
        self._idle_since = now
        self._last_read = now
        self._head_since: float | None = None  # the first byte of a request head
        self._pending_body: bytes | None = None
        self._shutting_down = False
        self._grace_deadline: float | None = None
        self._on_h2c = on_h2c
        self._ws: WebSocket | None = None  # set once a request asked for a WebSocket
        self._ws_key = b""

    # ------------------------------------------------------------------ outputs
    def get_timer(self) -> float | None:
        if self._closed:
            return None
        if self._ws is not None:
            ws_deadline = self._ws.get_timer()
            write_deadline = self._write_deadline()
            if write_deadline is None or (ws_deadline is not None and ws_deadline < write_deadline):
                return ws_deadline
            return write_deadline
        deadline: float | None = None
        stream = self._stream
        if stream is None:
            deadline = self._idle_deadline()
            if self._head_since is not None and self._header_timeout is not None:
                head_deadline = self._head_since + self._header_timeout
                if head_deadline < deadline:
                    deadline = head_deadline
        elif stream.waiting_since is not None:
            deadline = self._body_deadline(stream)
        if self._write_blocked_since is not None:
            write_deadline = self._write_deadline()
            if write_deadline is not None and (deadline is None or write_deadline < deadline):
                deadline = write_deadline
        if self._read_timeout is not None and self._awaiting_request_bytes():
            read_deadline = self._last_read + self._read_timeout
            deadline = read_deadline if deadline is None else min(deadline, read_deadline)
        return deadline

    # ------------------------------------------------------------------- inputs
    def receive_data(self, data: bytes, now: float) -> None:
        if self._closed:
            return
        if self._ws is not None:
            self._ws.receive_data(data, now)
            self._ws_flush_current(now)
            return
        if data:
            self._last_read = now
            stream = self._stream
            if stream is None:
                if self._head_since is None:
                    self._head_since = now
            else:
                stream.last_body = now  # progress, even if only chunk framing
        self._wire.receive(data)
        self._process(now)
        if not data:
            self._peer_done_sending()

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        write_deadline = self._write_deadline()
        if write_deadline is not None and now >= write_deadline:
            self._write_timed_out(now)  # a WebSocket's app hears 1006
            return
        if self._ws is not None:
            self._ws.handle_timer(now)
            self._ws_flush_current(now)
            return
        stream = self._stream
        if stream is None:
            head_since = self._head_since
            if (
                head_since is not None
                and self._header_timeout is not None
                and now >= head_since + self._header_timeout
            ) or (now >= self._idle_deadline() and self._head_started()):
                self._refused("request_header_timeout", 408)
                self._reject(408, "request head not received in time", now)
                return
            if now >= self._idle_deadline():
                self._close()
                return
        else:
            body_deadline = self._body_deadline(stream)
            if body_deadline is not None and now >= body_deadline:
                self._refuse_body(stream, "request_body_timeout", 408, now)
                return
        if (
            self._read_timeout is not None
            and self._awaiting_request_bytes()
            and now >= self._last_read + self._read_timeout
        ):
            self._abandon(now)
            self._close()

    def start_shutdown(self, now: float) -> None:
        self._shutting_down = True
        if self._ws is not None:
            self._ws.start_shutdown(now)
            self._ws_flush_current(now)
            return
        if self._stream is None and not self._closed:
            if self._requests == 0 and self._wire_has_nothing_yet():
                # A fresh connection's first request may be on its way already
                # (accepted just before the shutdown): closing now would reset it.
                # It gets a short grace, then is served with connection: close.
                self._grace_deadline = now + _FIRST_REQUEST_GRACE
            else:
                self._close()

    def _head_started(self) -> bool:
        """Part of a request head was read (a pipelined one counts from its cycle)."""
        return self._head_since is not None or bool(self._wire.leftover()[0])

    def _refuse_body(self, stream: Stream, reason: str, status: int, now: float) -> None:
        """A body too large or too slow: ``status`` unless the response began, then a cut."""
        self._pending_body = None
        if stream.response is _NONE or stream.response is _STARTED:
            self._refused(reason, status, stream.stream_id)
            headers = [(b"content-length", b"0"), (b"connection", b"close")]
            headers += self._default_headers.get(now)
            stream.status = status
            stream.headers = headers
            stream.response = _DONE
            self._out.append(_head(b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]), headers))
        else:
            self._refused(reason, None, stream.stream_id)
        self._abandon(now)
        self._close(linger=True)  # the rest of the body may still be on its way

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
        self._closed = True
        if self._ws is not None:
            self._ws.connection_lost()
            self._ws_flush_current(now)

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app awaits a body it has not got: time to answer ``Expect: 100-continue``."""
        stream = self._stream
        if stream is None or stream.stream_id != stream_id:
            return
        if stream.ws is None and not stream.request_complete:
            stream.waiting_since = now  # request_body_timeout runs (get_timer)
        if stream.expects_continue:
            stream.expects_continue = False
            if stream.response is ResponseState.NONE and not self._closed:
                self._out.append(self._wire.informational(100, self._default_headers.get(now)))

    # ------------------------------------------------------------ request side
    def _process(self, now: float) -> None:
        wire = self._wire
        while not self._closed:
            try:
                event = wire.next_event()
            except RemoteProtocolError as exc:
                self._protocol_error(exc, now)
                return
            if type(event) is RequestHead:
                self._start_request(event, now)
                if self._ws is not None:
                    return  # h11 is done with: the rest belongs to the WebSocket
            elif event is END_OF_BODY:
                self._end_of_body(now)
            elif type(event) is Body:
                self._receive_body(event.data, now)
            elif event is NEED_DATA:
                self._flush_pending_body()
                return
            elif event is PAUSED:
                self._flush_pending_body()
                if _WIRE not in self._paused_by:
                    self._paused_by.add(_WIRE)
                    if not self._reading_paused:
                        self._reading_paused = True
                        self._events.append(PauseReading())
                return
            elif event is PEER_CLOSED:
                self._peer_closed(now)
                return
            elif type(event) is WireReplaced:
                wire = self._wire = event.wire  # a request only h11 can parse

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
        self._head_since = None
        self._requests += 1
        self._last_stream_id += 1
        raw_path, query = split_target(head.target)
        method = head.method
        scope = self._scopes.http(
            _VERSION_TEXT.get(head.http_version) or head.http_version.decode("ascii"),
            _METHOD_TEXT.get(method) or method.decode("ascii"),
            raw_path,
            query,
            head.raw_headers if self._pass_raw_headers else head.headers,
            {"http.response.pathsend": {}},
        )
        stream = Stream(self._last_stream_id, scope, method, now)
        stream.expects_continue = head.expects_continue
        self._stream = self._streams[stream.stream_id] = stream
        self._events.append(StartApp(stream.stream_id, scope))  # _open, inline: per request

    def _check_head(self, head: RequestHead) -> tuple[int, str] | None:
        """Refuse what h11 lets through but smuggling or routing bugs feed on."""
        content_lengths = head.content_lengths
        declared = head.content_length
        transfer_encoding = head.transfer_encoding
        if head.http_version not in _HTTP1_VERSIONS:
            # h11 takes any "HTTP/d.d"; RFC 9110 section 15.6.6 answers 505 for another
            # major version (and ASGI has no "2.0" over HTTP/1.1 framing).
            return 505, "HTTP version not supported"
        target = head.target
        if not (
            target[:1] == b"/"
            or (target == b"*" and head.method == b"OPTIONS")
            or b"://" in target  # absolute-form (RFC 9112 section 3.2.2)
            or head.method == b"CONNECT"  # authority-form; answered 405 below
        ):
            return 400, "invalid request target"
        if content_lengths > 1:
            return 400, "duplicate Content-Length"
        if content_lengths and transfer_encoding:
            return 400, "both Content-Length and Transfer-Encoding"
        if head.method == b"CONNECT":
            return 405, "CONNECT is not supported"
        if self._body_limit is not None and self._over_declared_limit(declared):
            self._refused("max_request_body_size", 413)
            return 413, "content-length over max_request_body_size"
        if self._server_names and header_value(head.headers, b"host") not in self._server_names:
            return 404, "host not in server_names"
        if head.upgrade:
            if asks_for_websocket(head.headers):
                return _WEBSOCKET
            if (
                self._on_h2c is not None
                and not content_lengths
                and not transfer_encoding
                and _asks_for_h2c(head.headers)
            ):
                return _H2C
        return None

    def _receive_body(self, data: bytes, now: float) -> None:
        stream = self._stream
        if stream is None or stream.response is _DONE or not data:
            return  # the app already answered: the rest of the body is dropped
        if not self._count_body(stream, len(data), now):
            self._refuse_body(stream, "max_request_body_size", 413, now)
            return
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
        if stream.response is _DONE:
            self._next_cycle(now)
        else:
            self._deliver(stream, {"type": "http.request", "body": body, "more_body": False})

    def _peer_closed(self, now: float) -> None:
        stream = self._stream
        if stream is None:
            self._close()
        elif not stream.request_complete:
            self._abandon(now)
            self._close()
        else:
            self._peer_done_sending()

    def _peer_done_sending(self) -> None:
        """EOF after a complete request: the app hears ``http.disconnect``, but the
        connection stays open, so a response it still sends reaches a half-closed client
        (also when pipelined requests kept h11 from reporting the EOF itself)."""
        stream = self._stream
        if stream is not None and stream.request_complete and not self._closed:
            self._disconnect(stream)

    def _protocol_error(self, exc: RemoteProtocolError, now: float) -> None:
        stream = self._stream
        if stream is not None:
            self._abandon(now)
            if stream.response is _BODY:
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
        self._out.append(
            _head(b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"")), headers)
        )
        # the rest of what the client sends is not read, but lingered over
        self._close(exc or RemoteProtocolError(reason, status_hint=status), linger=True)

    # ----------------------------------------------------------- response side
    def _send_interim(self, stream: Stream, status: int, headers: Headers, now: float) -> None:
        self._out.append(self._wire.informational(status, headers + self._default_headers.get(now)))

    def _send_head(self, stream: Stream, message: Message, now: float) -> None:
        status = stream.status
        body_length = -1 if message.get("more_body", False) else len(message.get("body", b""))
        defaults, default_lines = self._default_headers.rendered(now)
        head, stream.headers = self._wire.response_head(
            status,
            stream.headers,
            _REASONS.get(status, b""),
            body_length,
            # a whole response before the whole request: the connection ends after it
            # (the body's rest is not read), so the client must not reuse it
            self._must_close_after_response() or (body_length >= 0 and not stream.request_complete),
            defaults,
            default_lines,
        )
        self._out.append(head)
        stream.response = _BODY

    def _send_body(self, stream: Stream, message: Message, now: float) -> bool:
        if stream.response is _STARTED:
            self._send_head(stream, message, now)
        body = message.get("body", b"")
        if body:
            data = self._wire.body(body)  # b"" where no body is allowed (HEAD, 204, 304)
            if data:
                self._out.append(data)
                stream.body_bytes += len(body)
        if not message.get("more_body", False):
            end = self._wire.end()
            if end:
                self._out.append(end)
            stream.response = _DONE
            self._complete(stream, now)
            self._disconnect(stream)
            if stream.request_complete:
                self._next_cycle(now)
            elif not self._closed:
                # The app answered before the body finished arriving; rather than
                # read and parse an unknown amount, this connection ends here.
                self._close(linger=True)
        return True

    def _raw_body_ok(self, stream: Stream) -> bool:
        # Plain TCP (TLS encrypts in user space), and framing that leaves bytes as they are.
        return self._scheme == "http" and self._wire.raw_body_ok

    def _raw_body_sent(self, stream: Stream, count: int) -> None:
        self._wire.raw_body_sent(count)

    def _abort_response(self, stream: Stream, now: float) -> None:
        self._abandon(now)  # the connection is cut: the client sees the truncation
        self._close()

    def _must_close_after_response(self) -> bool:
        return self._shutting_down or (
            self._max_requests > 0 and self._requests >= self._max_requests
        )

    def _abandon(self, now: float) -> None:
        """The exchange ended without a complete response: still one access-log entry,
        and the app hears ``http.disconnect``. (A WebSocket logs only its 101.)"""
        stream = self._stream
        if stream is not None:
            if stream.ws is None:
                self._complete(stream, now)
            self._disconnect(stream)

    def _next_cycle(self, now: float) -> None:
        if self._closed:
            return
        if self._stream is not None:
            del self._streams[self._stream.stream_id]
            self._stream = None
        if not self._wire.can_reuse or self._must_close_after_response():
            self._close()
            return
        self._wire.start_next_cycle()
        self._idle_since = now
        self._head_since = None
        self._pending_body = None
        if self._paused_by:
            self._paused_by.clear()
        if self._reading_paused:
            self._reading_paused = False
            self._events.append(ResumeReading())
        self._process(now)  # requests that were pipelined behind this one

    def _awaiting_request_bytes(self) -> bool:
        stream = self._stream
        return stream is None or (not stream.request_complete and not self._reading_paused)

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
        problem = handshake_problem(head.method, head.http_version, head.headers)
        if problem is not None:
            reason, part = problem
            self._reject(400, reason, now, extra=VERSION_HEADERS if part == "version" else None)
            return
        self._last_stream_id += 1
        headers = head.raw_headers if self._pass_raw_headers else head.headers
        stream = self._open_websocket(
            self._last_stream_id, "1.1", head.method, head.target, headers, now
        )
        # never request_complete: the connection ends with the WebSocket
        self._stream = stream
        ws = self._ws = stream.ws
        assert ws is not None
        self._ws_key = header_value(head.headers, b"sec-websocket-key") or b""
        leftover, peer_closed = self._wire.leftover()
        if leftover:
            ws.receive_data(leftover, now)
        if peer_closed:
            ws.receive_data(b"", now)
        # A client must wait for the 101 before sending frames: read nothing until then.
        if not self._reading_paused:
            self._reading_paused = True
            self._events.append(PauseReading())
        self._ws_flush(stream, now)

    def _new_stream(self, stream_id: int, scope: ASGIScope, method: bytes, now: float) -> Stream:
        return Stream(stream_id, scope, method, now)

    def _ws_flush_current(self, now: float) -> None:
        if self._stream is not None:
            self._ws_flush(self._stream, now)

    def _ws_accept(self, stream: Stream, headers: Headers, now: float) -> None:
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_token(self._ws_key)),
            *headers,
            *self._default_headers.get(now),
        ]
        self._out.append(_head(b"HTTP/1.1 101 Switching Protocols\r\n", headers))
        stream.status = 101
        stream.headers = headers
        stream.response = _DONE
        self._complete(stream, now)

    def _ws_response_headers(self, headers: Headers) -> Headers:
        return [*headers, (b"connection", b"close")]

    def _ws_consumed(self, stream: Stream, ws: WebSocket) -> None:
        self._ws_forward(stream, ws)
        self._ws_follow(ws, ws.bytes_to_send())

    def _ws_output(self, stream: Stream, ws: WebSocket, data: bytes, now: float) -> None:
        self._ws_follow(ws, data)

    def _ws_follow(self, ws: WebSocket, data: bytes) -> None:
        """Write the WebSocket's frames; read while it wants data; close when it ends."""
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


def _head(status_line: bytes, headers: Headers) -> bytes:
    lines = [status_line]
    lines.extend(b"%s: %s\r\n" % pair for pair in headers)
    lines.append(b"\r\n")
    return b"".join(lines)


def _asks_for_h2c(headers: Headers) -> bool:
    """``Upgrade: h2c`` with one ``HTTP2-Settings`` and both named in ``Connection``."""
    connection: set[bytes] = set()
    h2c = False
    settings = 0
    for name, value in headers:
        if name == b"connection":
            connection.update(tokens(value))
        elif name == b"upgrade":
            h2c = h2c or b"h2c" in tokens(value)
        elif name == b"http2-settings":
            settings += 1
    return h2c and settings == 1 and {b"upgrade", b"http2-settings"} <= connection
