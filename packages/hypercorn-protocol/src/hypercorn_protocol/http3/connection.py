"""HTTP/3 on one QUIC connection: aioquic's H3Connection mapped onto the stream model.

Theory of operation
-------------------
:class:`HTTP3Connection` is the :class:`~hypercorn_protocol.http3.endpoint.QuicConnectionHandler`
of one QUIC connection and a :class:`~hypercorn_protocol.asgi.stream.StreamConnection`:
the endpoint hands it QUIC events, aioquic's ``H3Connection`` turns them into HTTP/3
events, and this module maps those onto the shared stream model, which knows ASGI.

* Inbound: the first ``HeadersReceived`` of a request stream opens a stream (a second
  one is its trailers: they end the body, ASGI has no request trailers);
  ``DataReceived`` becomes ``http.request``. A client's ``RESET_STREAM`` or
  ``STOP_SENDING`` ends that stream alone (``http.disconnect``).
* Receive flow control: aioquic raises a stream's MAX_STREAM_DATA as data *arrives*;
  the connection :class:`PacedQuicConnection` raises it only as the app *takes*
  messages (``_release_window``), so a slow app stalls its own stream, bounded by
  ``max_stream_data``, and no other.
* Send side: aioquic buffers whatever it is given. A stream with more than
  ``_HIGH_WATER`` bytes not yet sent makes its app wait (``app_send`` returns False)
  until :meth:`check_writable`, run after each flush, sees it drained.
* Limits: ``h2_max_concurrent_streams`` open streams (beyond: H3_REQUEST_REJECTED),
  ``h2_max_header_list_size`` (beyond: 431), ``keep_alive_max_requests``.
* Deadlines and the body limit, per stream as on HTTP/2: a ``content-length`` over
  ``max_request_body_size`` is answered 413 before the app starts, and body crossing it
  413 (or H3_REQUEST_CANCELLED once the response began), as is ``request_body_timeout``
  (408); each then asks the client to stop sending (STOP_SENDING). A request stream
  whose HEADERS frame is not whole ``request_header_timeout`` after its first byte is
  refused (H3_REQUEST_REJECTED: the client may retry it); a stream whose app waits on
  unsent bytes for ``response_write_timeout`` is reset. The connection's other streams
  go on in every case.
* Graceful shutdown sends GOAWAY, refuses later streams, lets the open ones finish and
  then closes the connection (H3_NO_ERROR).

The driver side (pumping events, flushing) is :mod:`hypercorn_protocol.quic_driving`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hypercorn_protocol.asgi.scope import split_target
from hypercorn_protocol.asgi.stream import (
    ConnectionContext,
    ResponseState,
    Stream,
    StreamConnection,
)
from hypercorn_protocol.errors import InvalidMessageError
from hypercorn_protocol.events import StartApp, StreamWritable
from hypercorn_protocol.headers import header_value, normalise_app_headers
from hypercorn_protocol.typing import ASGIScope, Headers, Message
from hypercorn_protocol.websocket.stream import WebSocket

if TYPE_CHECKING:
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import H3Event
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.events import QuicEvent

    from hypercorn_protocol.http3.endpoint import EndpointConnection

__all__ = ["H3Stream", "HTTP3Connection", "interim_responses_supported", "paced_connection_class"]

# Bytes an app may have queued on a stream that QUIC has not sent yet before it waits.
_HIGH_WATER = 256 * 1024
_LOW_WATER = _HIGH_WATER // 2
_PUSH_PATH = re.compile(rb"/[\x21-\x7e]*")
_NONE = ResponseState.NONE
_STARTED = ResponseState.STARTED
_BODY = ResponseState.BODY
_DONE = ResponseState.DONE
_OPEN_HEAD: Message = {"body": b"", "more_body": True}
# RFC 9114 section 4.2: connection-specific fields are malformed in HTTP/3.
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_H3_NO_ERROR = 0x100
_H3_INTERNAL_ERROR = 0x102
_H3_REQUEST_REJECTED = 0x10B
_H3_REQUEST_CANCELLED = 0x10C
_H3_MESSAGE_ERROR = 0x10E
_GOAWAY_FRAME = 0x7
# Closing a QUIC connection drops what it has not sent: after the last stream ends it
# is polled this often until the peer has acknowledged every response, at most _DRAIN_MAX.
_DRAIN_POLL = 0.05
_DRAIN_MAX = 5.0

_paced_class: type[QuicConnection] | None = None


def interim_responses_supported() -> bool:
    """Whether aioquic can send a 1xx before the final response (1.7 can, 1.3 cannot:
    it takes the 103 for the final head and the real one for trailers)."""
    from aioquic.h3 import connection

    return hasattr(connection, "is_interim_response")


def paced_connection_class() -> type[QuicConnection]:
    """aioquic's ``QuicConnection``, with request streams' receive windows opened by the app.

    ``paced[stream_id]`` is how many bytes of that stream the app has taken; its
    MAX_STREAM_DATA is kept at that plus the configured ``max_stream_data``. Streams
    not in ``paced`` keep aioquic's own policy (it doubles the window as data arrives).
    """
    global _paced_class
    if _paced_class is None:
        from aioquic.quic.connection import QuicConnection

        class PacedQuicConnection(QuicConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.paced: dict[int, int] = {}

            def _write_stream_limits(self, builder: Any, space: Any, stream: Any) -> None:
                consumed = self.paced.get(stream.stream_id)
                if consumed is None:
                    super()._write_stream_limits(builder, space, stream)
                    return
                target = consumed + self._configuration.max_stream_data
                if target > stream.max_stream_data_local:
                    stream.max_stream_data_local = target
                # aioquic doubles the window once half of it has arrived; hiding the
                # arrivals leaves only the frame writing to it.
                receiver = stream.receiver
                highest, receiver.highest_offset = receiver.highest_offset, 0
                try:
                    super()._write_stream_limits(builder, space, stream)
                finally:
                    receiver.highest_offset = highest

        _paced_class = PacedQuicConnection
    return _paced_class


class H3Stream(Stream):
    """A stream of the shared model, plus what HTTP/3 needs to pace it."""

    __slots__ = (
        "pending_acks",
        "push_parent",
        "stalled_since",
        "trailers_ready",
        "waiting",
        "written",
        "ws_held",
    )

    def __init__(self, stream_id: int, scope: ASGIScope, method: bytes, start: float) -> None:
        super().__init__(stream_id, scope, method, start)
        self.pending_acks: deque[int] = deque()  # the size of each message queued for the app
        self.waiting = False
        self.stalled_since: float | None = None  # the app waits on unsent bytes since then
        self.written = 0  # stream bytes handed to QUIC (frames included)
        self.push_parent: int | None = None
        self.trailers_ready = False  # the app sent its last trailers before its body ended
        self.ws_held = 0  # WebSocket bytes whose window waits for the app to catch up


class HTTP3Connection(StreamConnection[H3Stream]):
    """The HTTP/3 protocol of one QUIC connection (a ``QuicConnectionHandler``)."""

    extensions = frozenset(
        {"http.response.early_hint", "http.response.push", "http.response.trailers"}
    )
    flow_controlled = True

    def __init__(self, context: ConnectionContext, connection: EndpointConnection) -> None:
        super().__init__(context, "h3")
        settings = context.settings
        self._connection = connection
        self._quic = connection.quic
        self._h3: H3Connection | None = None  # made once ALPN chose h3
        self._server_names = {name.encode("latin-1") for name in settings.server_names}
        self._max_requests = settings.keep_alive_max_requests
        self._max_streams = settings.h2_max_concurrent_streams
        self._max_header_list = settings.h2_max_header_list_size
        self._shutting_down = False
        self._highest_stream = -4  # the highest client request stream seen
        # request streams whose headers came: every id below _floor, and those in _seen
        self._floor = 0
        self._seen: set[int] = set()
        self._drain_at: float | None = None  # next check whether closing may go ahead
        self._drain_until = 0.0
        # request streams whose HEADERS frame is still incomplete: when their first byte came
        self._heads: dict[int, float] = {}
        self._paced: dict[int, int] = getattr(self._quic, "paced", {})
        self._app_headers = self._response_headers
        self._interim = interim_responses_supported()

    # ------------------------------------------------------------------ outputs
    def data_to_send(self) -> bytes:
        # QUIC sends through the endpoint: a flush of the driver only marks this
        # connection for the endpoint's next datagrams_to_send.
        self._connection.wake()
        return b""

    def get_timer(self) -> float | None:
        deadline = self._drain_at
        if self._heads and self._header_timeout is not None:
            head = min(self._heads.values()) + self._header_timeout
            if deadline is None or head < deadline:
                deadline = head
        for stream in self._streams.values():
            timer = self._stream_deadline(stream)
            if timer is not None and (deadline is None or timer < deadline):
                deadline = timer
        return deadline

    def _stream_deadline(self, stream: H3Stream) -> float | None:
        ws = stream.ws
        if ws is not None:
            return ws.get_timer()
        deadline = self._body_deadline(stream)
        if stream.stalled_since is not None and self._write_timeout is not None:
            stall = stream.stalled_since + self._write_timeout
            if deadline is None or stall < deadline:
                deadline = stall
        return deadline

    def handle_timer(self, now: float) -> None:
        if self._drain_at is not None and now >= self._drain_at:
            self._close_when_drained(now)
        if self._heads and self._header_timeout is not None:
            for stream_id, since in list(self._heads.items()):
                if now >= since + self._header_timeout:
                    self._mark_seen(stream_id)
                    self._refused("request_header_timeout", None, stream_id)
                    self._refuse(stream_id)
        for stream in list(self._streams.values()):
            ws = stream.ws
            if ws is not None:
                timer = ws.get_timer()
                if timer is not None and now >= timer:
                    ws.handle_timer(now)
                    self._ws_flush(stream, now)
                continue
            body_deadline = self._body_deadline(stream)
            if body_deadline is not None and now >= body_deadline:
                self._refuse_body(stream, "request_body_timeout", 408, now)
            elif (
                stream.stalled_since is not None
                and self._write_timeout is not None
                and now >= stream.stalled_since + self._write_timeout
            ):
                # the client takes none of what QUIC holds for it: free the stream and its app
                self._refused("response_write_timeout", None, stream.stream_id)
                self._reset_id(stream.stream_id, _H3_REQUEST_CANCELLED)
                self._finish_stream(stream, now)

    @property
    def http_version(self) -> str:
        return "3"

    @property
    def waiting(self) -> bool:
        """True while an app waits for its stream's send buffer to drain."""
        return any(stream.waiting for stream in self._streams.values())

    def writable(self, stream_id: int) -> bool:
        stream = self._streams.get(stream_id)
        return stream is None or not stream.waiting

    def check_writable(self) -> None:
        """After a flush: wake the apps whose stream's unsent bytes fell below low water."""
        for stream in self._streams.values():
            if stream.waiting and self._unsent(stream) <= _LOW_WATER:
                stream.waiting = False
                stream.stalled_since = None
                self._events.append(StreamWritable(stream.stream_id))

    def _unsent(self, stream: H3Stream) -> int:
        quic_stream = self._quic._streams.get(stream.stream_id)
        if quic_stream is None:
            return 0
        sender = quic_stream.sender
        written = getattr(sender, "_buffer_stop", stream.written)
        return max(written - sender.highest_offset, 0)

    # ------------------------------------------------------------------- inputs
    def quic_event(self, event: QuicEvent, now: float) -> None:
        from aioquic.h3.connection import H3_ALPN, H3Connection
        from aioquic.quic import events

        kind = type(event)
        if kind is events.ProtocolNegotiated:
            if self._h3 is None and event.alpn_protocol in H3_ALPN:  # type: ignore[attr-defined]
                self._h3 = H3Connection(self._quic)
            return
        if kind is events.ConnectionTerminated:
            self.connection_lost(now)
            return
        h3 = self._h3
        if h3 is None or self._closed:
            return
        if kind is events.StreamDataReceived:
            stream_id = event.stream_id  # type: ignore[attr-defined]
            if stream_id % 4 == 0 and stream_id not in self._paced and not self._seen_id(stream_id):
                self._paced[stream_id] = 0  # a new request stream: its window follows its app
                if self._header_timeout is not None and not self._shutting_down:
                    self._heads[stream_id] = now
        for h3_event in h3.handle_event(event):
            self._handle(h3_event, now)
        if kind is events.StreamReset or kind is events.StopSendingReceived:
            self._remote_reset(event.stream_id, now)  # type: ignore[attr-defined]

    def start_shutdown(self, now: float) -> None:
        if self._closed or self._shutting_down:
            return
        self._shutting_down = True
        self._goaway()
        if not self._streams:
            self._drain_until = now + _DRAIN_MAX
            self._close_when_drained(now)
            return
        for stream in list(self._streams.values()):
            if stream.ws is not None:
                stream.ws.start_shutdown(now)
                self._ws_flush(stream, now)

    def connection_lost(self, now: float) -> None:
        for stream in list(self._streams.values()):
            ws = stream.ws
            if ws is not None:
                ws.connection_lost()
                self._ws_forward(stream, ws)
            self._disconnect(stream)
            if stream.waiting:
                stream.waiting = False
                self._events.append(StreamWritable(stream.stream_id))
            stream.closed = True
        self._close()

    # -------------------------------------------------------------- h3 events
    def _handle(self, event: H3Event, now: float) -> None:
        from aioquic.h3 import events

        if type(event) is events.HeadersReceived:
            stream = self._streams.get(event.stream_id)
            if stream is None:
                stream_id = event.stream_id
                if stream_id % 4 != 0 or self._seen_id(stream_id):
                    return  # trailers of a stream this connection already finished with
                self._mark_seen(stream_id)
                self._request(event, now)
            else:  # a second header block: the request's trailers
                if event.stream_ended:
                    self._end_of_body(stream, now)
        elif type(event) is events.DataReceived:
            self._data(event, now)

    def _seen_id(self, stream_id: int) -> bool:
        return stream_id < self._floor or stream_id in self._seen

    def _mark_seen(self, stream_id: int) -> None:
        """The stream's head came (or it was refused): later header blocks are not requests."""
        self._heads.pop(stream_id, None)
        self._seen.add(stream_id)
        while self._floor in self._seen:
            self._seen.discard(self._floor)
            self._floor += 4

    def _request(self, event: Any, now: float) -> None:
        stream_id: int = event.stream_id
        self._highest_stream = max(self._highest_stream, stream_id)
        if self._shutting_down or len(self._streams) >= self._max_streams:
            self._refuse(stream_id)
            return
        self._requests += 1
        if self._max_requests > 0 and self._requests > self._max_requests:
            self._refuse(stream_id)
            if not self._shutting_down:
                self.start_shutdown(now)
            return
        pseudo: dict[bytes, bytes] = {}
        headers: Headers = []
        size = 0
        for name, value in event.headers:
            size += len(name) + len(value) + 32
            if name[:1] == b":":
                pseudo[name] = value
            else:
                headers.append((name, value))
        if size > self._max_header_list:
            self._reject_stream(stream_id, 431, [], now)
            return
        method = pseudo.get(b":method", b"")
        path = pseudo.get(b":path")
        authority = pseudo.get(b":authority")
        if authority is not None and header_value(headers, b"host") is None:
            headers.insert(0, (b"host", authority))
        protocol = pseudo.get(b":protocol")
        if protocol is not None:
            self._start_websocket(stream_id, protocol, path, headers, now)
            return
        if path is None:  # plain CONNECT: no tunnels here, as over HTTP/1.1 and HTTP/2
            self._reject_stream(stream_id, 405, [], now)
            return
        scope = self._scope(method, path, headers)
        if scope is None:
            self._reset_id(stream_id, _H3_MESSAGE_ERROR)
            return
        stream = H3Stream(stream_id, scope, method, now)
        if self._server_names and header_value(headers, b"host") not in self._server_names:
            self._streams[stream_id] = stream
            stream.status = 404
            stream.headers = [(b"content-length", b"0")]
            stream.response = _STARTED
            stream.app_finished = True
            self._send_body(stream, {"body": b""}, now)
            return
        if self._body_limit is not None and self._over_declared_limit(
            header_value(headers, b"content-length")
        ):
            self._refused("max_request_body_size", 413, stream_id)
            self._reject_stream(stream_id, 413, [(b"content-length", b"0")], now)
            return
        for name, value in headers:
            if name == b"te" and b"trailers" in value:
                stream.trailers_allowed = True
        self._streams[stream_id] = stream
        self._events.append(StartApp(stream_id, scope))
        if event.stream_ended:
            self._end_of_body(stream, now)

    def _scope(self, method: bytes, path: bytes, headers: Headers) -> ASGIScope | None:
        raw_path, query = split_target(path)
        if not raw_path.isascii() or not method.isascii():
            return None
        extensions: dict[str, Any] = {"http.response.trailers": {}}
        if self._interim:
            extensions["http.response.early_hint"] = {}
        if self._push_enabled():
            extensions["http.response.push"] = {}
        self._scopes.client = _address(self._connection.remote_address)
        return self._scopes.http("3", method.decode("ascii"), raw_path, query, headers, extensions)

    def _push_enabled(self) -> bool:
        # aioquic learns the client's MAX_PUSH_ID; without one no push may be promised
        return self._h3 is not None and getattr(self._h3, "_max_push_id", None) is not None

    def _data(self, event: Any, now: float) -> None:
        stream = self._streams.get(event.stream_id)
        data = bytes(event.data or b"")
        if stream is not None and stream.ws is not None:
            stream.ws.receive_data(data, now)
            if event.stream_ended:
                stream.ws.receive_data(b"", now)
            stream.ws_held += len(data)
            self._ws_flush(stream, now)
            self._ws_release_window(stream)
            return
        if stream is None or stream.closed or stream.response is _DONE or stream.request_complete:
            self._consume(event.stream_id, len(data))  # nobody will take it
            return
        more = not event.stream_ended
        if not more:
            stream.request_complete = True
        stream.pending_acks.append(len(data))
        if not self._count_body(stream, len(data), now):
            self._refuse_body(stream, "max_request_body_size", 413, now)
            return
        self._deliver(stream, {"type": "http.request", "body": data, "more_body": more})

    def _end_of_body(self, stream: H3Stream, now: float) -> None:
        if stream.ws is not None:
            stream.ws.receive_data(b"", now)
            self._ws_flush(stream, now)
            return
        if stream.request_complete:
            return  # aioquic 1.3 may report the end twice
        stream.request_complete = True
        stream.pending_acks.append(0)
        self._deliver(stream, {"type": "http.request", "body": b"", "more_body": False})

    def _consume(self, stream_id: int, size: int) -> None:
        if size and stream_id in self._paced:
            self._paced[stream_id] += size

    def _release_window(self, stream: H3Stream) -> None:
        if stream.pending_acks:
            self._consume(stream.stream_id, stream.pending_acks.popleft())

    def _remote_reset(self, stream_id: int, now: float) -> None:
        self._heads.pop(stream_id, None)
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.ws is not None:
            stream.ws.connection_lost()
            self._ws_flush(stream, now)
        if not stream.closed:
            # the other half goes too: nobody is left to read a response or send a body
            try:
                self._quic.reset_stream(stream_id, _H3_REQUEST_CANCELLED)
            except Exception:
                pass
            try:
                self._quic.stop_stream(stream_id, _H3_REQUEST_CANCELLED)
            except Exception:
                pass
        stream.closed = True
        self._finish_stream(stream, now)

    # -------------------------------------------------------------- responses
    def _response_headers(self, raw: Iterable[Any]) -> Headers:
        headers: Headers = []
        for name, value in normalise_app_headers(raw):
            name = name.lower()
            if name not in _CONNECTION_SPECIFIC:
                headers.append((name, value))
        return headers

    def _send_head(self, stream: H3Stream, end: bool, now: float) -> bool:
        assert self._h3 is not None
        headers = [(b":status", b"%d" % stream.status), *stream.headers]
        headers.extend(self._default_headers.get(now))
        stream.headers = headers[1:]
        try:
            self._h3.send_headers(stream.stream_id, headers, end_stream=end)
        except Exception:
            stream.closed = True
            self._finish_stream(stream, now)
            return False
        stream.written += 1  # at least: a HEADERS frame is never empty
        stream.response = _DONE if end else _BODY
        return True

    def _send_body(self, stream: H3Stream, message: Message, now: float) -> bool:
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if not (stream.status not in (204, 304) and stream.method != b"HEAD"):
            body = b""
        end = not more and stream.trailers is None
        if stream.response is _STARTED:
            if not self._send_head(stream, end and not body, now):
                return True
            if end and not body:
                self._finish_stream(stream, now)
                return True
        assert self._h3 is not None
        if body or end:
            try:
                self._h3.send_data(stream.stream_id, bytes(body), end_stream=end)
            except Exception:
                stream.closed = True
                self._finish_stream(stream, now)
                return True
            stream.written += len(body) + 9  # the frame header: at most 9 bytes
            stream.body_bytes += len(body)
        if not more:
            stream.response = _DONE
            if end:
                self._finish_stream(stream, now)
            elif stream.trailers_ready:
                self._send_trailers(stream, now)
            return True
        waiting = stream.waiting = self._unsent(stream) > _HIGH_WATER
        if waiting and stream.stalled_since is None:
            stream.stalled_since = now  # response_write_timeout runs (get_timer)
        return not waiting

    def _send_interim(self, stream: H3Stream, status: int, headers: Headers, now: float) -> None:
        assert self._h3 is not None
        if not self._interim:
            return  # not offered (scope extensions): dropped rather than break the response
        try:
            self._h3.send_headers(stream.stream_id, [(b":status", b"%d" % status), *headers])
        except Exception:
            return

    def _send_trailers(self, stream: H3Stream, now: float) -> None:
        assert self._h3 is not None and stream.trailers is not None
        if stream.response is not _DONE:
            stream.trailers_ready = True  # sent as the body ends
            return
        try:
            self._h3.send_headers(stream.stream_id, stream.trailers, end_stream=True)
        except Exception:
            stream.closed = True
        self._finish_stream(stream, now)

    def _refuse_body(self, stream: H3Stream, reason: str, status: int, now: float) -> None:
        """A body too large or too slow: ``status`` unless the response began, then a reset.

        Either way the client is asked to stop sending the rest (STOP_SENDING)."""
        stream_id = stream.stream_id
        if stream.response is _NONE or stream.response is _STARTED:
            self._refused(reason, status, stream_id)
            stream.status = status
            stream.headers = [(b"content-length", b"0")]
            stream.trailers = None
            stream.response = _STARTED
            if self._send_head(stream, True, now):
                self._finish_stream(stream, now)  # not request_complete: STOP_SENDING
        else:
            self._refused(reason, None, stream_id)
            self._reset_id(stream_id, _H3_REQUEST_CANCELLED)
            self._finish_stream(stream, now)

    def _abort_response(self, stream: H3Stream, now: float) -> None:
        self._reset_id(stream.stream_id, _H3_INTERNAL_ERROR)
        stream.closed = True
        self._finish_stream(stream, now)

    def _finish_stream(self, stream: H3Stream, now: float) -> None:
        if self._streams.pop(stream.stream_id, None) is None:
            return
        stream.closed = True
        if not stream.request_complete and stream.ws is None and stream.push_parent is None:
            # answered before the body ended: the rest is not wanted (RFC 9114 section 4.1)
            self._stop(stream.stream_id)
        self._paced.pop(stream.stream_id, None)
        self._complete(stream, now)
        self._disconnect(stream)
        if stream.waiting:
            stream.waiting = False
            self._events.append(StreamWritable(stream.stream_id))
        if stream.stream_id in self._paused_by:
            self._paused_by.discard(stream.stream_id)
            self._maybe_resume()
        if not self._streams and self._shutting_down:
            self._drain_until = now + _DRAIN_MAX
            self._close_when_drained(now)

    def _push(self, stream: H3Stream, message: Message, now: float) -> None:
        if not self._push_enabled() or stream.response is _DONE or stream.push_parent is not None:
            return
        assert self._h3 is not None
        raw_path = message["path"]
        path = raw_path.encode("ascii") if isinstance(raw_path, str) else bytes(raw_path)
        if not _PUSH_PATH.fullmatch(path):
            raise InvalidMessageError(f"Invalid push path {path!r}")
        authority = header_value(stream.scope["headers"], b"host") or b""
        headers = self._app_headers(message.get("headers", []))
        request_headers = [
            (b":method", b"GET"),
            (b":scheme", self._scopes.scheme.encode("ascii")),
            (b":authority", authority),
            (b":path", path),
            *headers,
        ]
        try:
            promised = self._h3.send_push_promise(stream.stream_id, request_headers)
        except Exception:
            return
        scope_headers = [(b"host", authority), *headers] if authority else headers
        scope = self._scope(b"GET", path, scope_headers)
        if scope is None:
            return
        pushed = H3Stream(promised, scope, b"GET", now)
        pushed.push_parent = stream.stream_id
        pushed.request_complete = True
        self._requests += 1
        self._open(pushed)
        pushed.pending_acks.append(0)
        self._deliver(pushed, {"type": "http.request", "body": b"", "more_body": False})

    # ------------------------------------------------------------- WebSocket
    def _start_websocket(
        self, stream_id: int, protocol: bytes, path: bytes | None, headers: Headers, now: float
    ) -> None:
        """RFC 9220: ``CONNECT`` with ``:protocol websocket`` opens a WebSocket on a stream."""
        if protocol.lower() != b"websocket" or path is None:
            self._reject_stream(stream_id, 501, [], now)
            return
        if header_value(headers, b"sec-websocket-version") != b"13":
            self._reject_stream(stream_id, 400, [(b"sec-websocket-version", b"13")], now)
            return
        self._scopes.client = _address(self._connection.remote_address)
        stream = self._open_websocket(stream_id, "3", b"CONNECT", path, headers, now)
        self._ws_flush(stream, now)

    def _new_stream(self, stream_id: int, scope: ASGIScope, method: bytes, now: float) -> H3Stream:
        return H3Stream(stream_id, scope, method, now)

    def _reject_stream(self, stream_id: int, status: int, headers: Headers, now: float) -> None:
        assert self._h3 is not None
        response = [(b":status", b"%d" % status), *headers, *self._default_headers.get(now)]
        try:
            self._h3.send_headers(stream_id, response, end_stream=True)
        except Exception:
            return
        self._stop(stream_id)

    def _ws_accept(self, stream: H3Stream, headers: Headers, now: float) -> None:
        stream.status = 200
        stream.headers = self._ws_response_headers(headers)
        stream.response = _STARTED
        self._send_head(stream, False, now)

    def _ws_response_headers(self, headers: Headers) -> Headers:
        return [(name.lower(), value) for name, value in headers]

    def _ws_output(self, stream: H3Stream, ws: WebSocket, data: bytes, now: float) -> None:
        assert self._h3 is not None
        if stream.closed:
            return
        end = ws.finished and stream.response in (_BODY, _DONE)
        if (data or end) and stream.response in (_BODY, _DONE):
            try:
                self._h3.send_data(stream.stream_id, data, end_stream=end)
            except Exception:
                stream.closed = True
                self._finish_stream(stream, now)
                return
            stream.written += len(data) + 9
        if end:
            self._finish_stream(stream, now)
        elif ws.finished and stream.response is _NONE and stream.stream_id in self._streams:
            self._finish_stream(stream, now)  # refused before any answer

    def _ws_consumed(self, stream: H3Stream, ws: WebSocket) -> None:
        self._ws_release_window(stream)

    def _ws_release_window(self, stream: H3Stream) -> None:
        # The peer may send more only while the app keeps up: per-stream backpressure.
        ws = stream.ws
        if ws is None or not stream.ws_held or not ws.wants_data or stream.closed:
            return
        held, stream.ws_held = stream.ws_held, 0
        self._consume(stream.stream_id, held)

    # ------------------------------------------------------------------ errors
    def _refuse(self, stream_id: int) -> None:
        self._reset_id(stream_id, _H3_REQUEST_REJECTED)

    def _reset_id(self, stream_id: int, code: int) -> None:
        try:
            self._quic.reset_stream(stream_id, code)
        except Exception:
            pass
        self._stop(stream_id, code)

    def _stop(self, stream_id: int, code: int = _H3_NO_ERROR) -> None:
        # nothing more of this stream is wanted: its window is not held
        self._paced.pop(stream_id, None)
        try:
            self._quic.stop_stream(stream_id, code)
        except Exception:
            pass

    def _goaway(self) -> None:
        from aioquic.buffer import encode_uint_var
        from aioquic.h3.connection import encode_frame

        h3 = self._h3
        control = getattr(h3, "_local_control_stream_id", None)
        if h3 is None or control is None:
            return
        # streams from this id on are not processed: the client may retry them elsewhere
        last = self._highest_stream + 4
        self._quic.send_stream_data(control, encode_frame(_GOAWAY_FRAME, encode_uint_var(last)))

    def _close_when_drained(self, now: float) -> None:
        self._drain_at = None
        if self._closed:
            return
        unacknowledged = any(
            stream_id % 4 == 0 and not stream.sender.is_finished
            for stream_id, stream in self._quic._streams.items()
        )
        if unacknowledged and now < self._drain_until:
            self._drain_at = now + _DRAIN_POLL
            return
        self.close_quic()

    def close_quic(self) -> None:
        self._quic.close(error_code=_H3_NO_ERROR)
        self._close()


def _address(address: Any) -> tuple[str, int] | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return (str(address[0]), int(address[1]))
    return None
