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
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from http import HTTPStatus
from typing import Any

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
from hypercorn_protocol.typing import Headers, Message, Scope

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_DISCONNECT: Message = {"type": "http.disconnect"}
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


class ResponseState(Enum):
    NONE = "no response yet"
    STARTED = "response started, head held back"
    BODY = "sending body"
    DONE = "response complete"


class _Stream:
    __slots__ = (
        "app_finished",
        "body_bytes",
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

    def __init__(self, stream_id: int, scope: Scope, method: bytes, start: float) -> None:
        self.stream_id = stream_id
        self.scope = scope
        self.method = method
        self.start = start
        self.response = ResponseState.NONE
        self.status = 0
        self.headers: Headers = []
        self.body_bytes = 0
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
        self._closed = False

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
        deadline: float | None = None
        stream = self._stream
        if stream is None:
            deadline = self._idle_since + self._keep_alive_timeout
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
        if data:
            self._last_read = now
        self._wire.receive(data)
        self._process(now)

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        if self._stream is None and now >= self._idle_since + self._keep_alive_timeout:
            self._close()
        elif (
            self._read_timeout is not None
            and self._awaiting_request_bytes()
            and now >= self._last_read + self._read_timeout
        ):
            self._disconnect_stream()
            self._close()

    def start_shutdown(self, now: float) -> None:
        self._shutting_down = True
        if self._stream is None and not self._closed:
            self._close()

    def connection_lost(self, now: float) -> None:
        """The transport is gone (reset, write failure): tell the app, stop everything."""
        self._disconnect_stream()
        self._closed = True

    def app_consumed(self, stream_id: int) -> None:
        stream = self._stream
        if stream is None or stream.stream_id != stream_id:
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
                self._peer_closed()
                return

    def _start_request(self, head: RequestHead, now: float) -> None:
        error = self._check_head(head)
        if error is not None:
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
        for name, _ in head.headers:
            if name == b"content-length":
                content_lengths += 1
            elif name == b"transfer-encoding":
                transfer_encoding = True
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

    def _peer_closed(self) -> None:
        stream = self._stream
        if stream is None:
            self._close()
        elif not stream.request_complete:
            self._disconnect_stream()
            self._close()
        # else: a half-close after a full request; the response is still written.

    def _protocol_error(self, exc: RemoteProtocolError, now: float) -> None:
        stream = self._stream
        if stream is not None:
            self._disconnect_stream()
            if stream.response is ResponseState.BODY:
                self._close(exc)
                return
        self._reject(exc.status_hint, str(exc), now, exc)

    def _reject(self, status: int, reason: str, now: float, exc: Exception | None = None) -> None:
        """Answer a request the app never sees, then close (its framing is not trusted)."""
        headers = [(b"content-length", b"0"), (b"connection", b"close")]
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
        summary = ResponseSummary(stream.status, stream.headers, stream.body_bytes)
        self._events.append(
            RequestCompleted(stream.stream_id, stream.scope, summary, stream.start, now)
        )
        self._disconnect_stream()

    def _disconnect_stream(self) -> None:
        stream = self._stream
        if stream is not None and not stream.disconnected:
            stream.disconnected = True
            if not stream.app_finished:
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
