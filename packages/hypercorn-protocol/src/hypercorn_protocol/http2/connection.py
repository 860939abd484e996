"""HTTP/2 server connection on h2: many streams, one socket.

Theory of operation
-------------------
h2 parses frames and keeps the RFC 9113 state machines; this module maps its events
onto the shared stream model (:class:`~hypercorn_protocol.asgi.stream.StreamConnection`,
which knows the ASGI rules) and schedules what goes out.

* Inbound: ``RequestReceived`` opens a stream; ``DataReceived`` becomes
  ``http.request`` messages. Flow-control window is given back only when the app
  *takes* a message (``_release_window``), so a slow app throttles its own stream,
  not the others and not the connection.
* Outbound: each stream has a byte buffer. ``_flush`` walks the streams that have
  data round-robin (or by priority, :mod:`~hypercorn_protocol.http2.scheduling`),
  one frame each per turn, as far as the connection and stream windows allow. An
  app whose buffer is above ``_HIGH_WATER`` is told to wait (``app_send`` returns
  False) until :class:`StreamWritable`.
* A stream ends when its response is fully flushed (END_STREAM) or when either side
  resets it (``_finish_stream``). Every lookup is by ``dict.get``: frames for streams
  already gone are h2's business (it answers with RST_STREAM), never a crash of the
  connection. An app that fails mid-body has its stream reset (INTERNAL_ERROR).
* Protocol errors close the connection with GOAWAY carrying h2's error code.
  ``keep_alive_max_requests`` bounds the streams one connection may open (HTTP/2
  rapid reset, CVE-2023-44487), and so does a reset-rate budget.
* Deadlines and limits (the stream model's, per stream): a ``content-length`` over
  ``max_request_body_size`` is answered 413 before the app starts, DATA crossing it
  413 (or RST_STREAM once the response began), and so does ``request_body_timeout``
  (408); a response stuck behind a zero window past ``h2_stall_timeout`` or
  ``response_write_timeout`` is reset; each costs only its stream. A header block
  (HEADERS and its CONTINUATIONs) still incomplete ``request_header_timeout`` after
  its first byte blocks every frame behind it (RFC 9113 section 6.10) and cannot be
  decoded, so the connection takes no more input: GOAWAY (the unfinished stream is
  not processed, safe to retry) once the open streams have finished.
* Graceful shutdown refuses new streams (REFUSED_STREAM), lets the open ones finish,
  then sends one GOAWAY (last stream id = highest seen) and closes. An earlier GOAWAY
  would cost the open streams their responses with h2 and httpcore clients, which stop
  taking frames once they see one; ``keep_alive_max_requests`` drains the same way.
* The client's GOAWAY (NO_ERROR) drains the same way: it opens no more streams, those
  it opened get their responses (RFC 9113 section 6.8), then GOAWAY and close. h2
  would close its state machine on it; ``_H2._receive_goaway_frame`` keeps it open.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from hypercorn_protocol.asgi.scope import split_target
from hypercorn_protocol.asgi.stream import (
    ConnectionContext,
    ResponseState,
    Stream,
    StreamConnection,
)
from hypercorn_protocol.errors import InvalidMessageError, RemoteProtocolError
from hypercorn_protocol.events import Event, StartApp, StreamWritable
from hypercorn_protocol.headers import header_value, normalise_app_headers
from hypercorn_protocol.http2 import hpack
from hypercorn_protocol.http2.fields import (
    CONNECTION_SPECIFIC,
    FieldCache,
    MalformedRequest,
    RequestHead,
    has_pseudo_field,
    request_head,
)
from hypercorn_protocol.http2.scheduling import (
    DEFAULT_URGENCY,
    PRIORITY_UPDATE,
    apply_priority,
    priority_order,
    priority_update,
)
from hypercorn_protocol.typing import ASGIScope, Headers, Message
from hypercorn_protocol.websocket.stream import Reply, WebSocket

_HIGH_WATER = 64 * 1024
_PUSH_PATH = re.compile(rb"/[\x21-\x7e]*")
# A client that resets more streams than this within _RESET_WINDOW seconds is
# flooding (rapid reset); it is sent GOAWAY ENHANCE_YOUR_CALM.
_RESET_BUDGET = 200
_RESET_WINDOW = 10.0
_FIELD_CACHE_LIMIT = 512
_UNSEEN: tuple[bytes, bytes] = (b"\x00unseen", b"")  # a marker, compared by identity
_NONE = ResponseState.NONE
_STARTED = ResponseState.STARTED
_BODY = ResponseState.BODY
_DONE = ResponseState.DONE
_OPEN_HEAD: Message = {"body": b"", "more_body": True}
_CLOSED = (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError)
_HEAD_FRAMES = (0x1, 0x9)  # HEADERS, CONTINUATION: a request head (or trailers) arriving


class H2Stream(Stream):
    """A stream of the shared model, plus its HTTP/2 send buffer and flow accounting."""

    __slots__ = (
        "end_pending",
        "incremental",
        "outbound",
        "pending_acks",
        "stalled_since",
        "trailers_ready",
        "urgency",
        "waiting",
        "ws_held",
    )

    def __init__(self, stream_id: int, scope: ASGIScope, method: bytes, start: float) -> None:
        super().__init__(stream_id, scope, method, start)
        self.outbound = bytearray()
        self.end_pending = False
        self.trailers_ready = False
        self.pending_acks: deque[int] = deque()  # the flow size of each queued message
        self.waiting = False
        self.stalled_since: float | None = None  # waiting on a zero window since then
        self.urgency = DEFAULT_URGENCY  # RFC 9218 defaults
        self.incremental = False
        self.ws_held = 0  # DATA bytes whose window is held back while the app is behind


class _H2(h2.connection.H2Connection):
    """h2's connection, except that a stream beyond MAX_CONCURRENT_STREAMS costs only itself.

    h2 treats such a HEADERS frame as a connection error (TooManyStreamsError, GOAWAY),
    which loses every open stream. RFC 9113 section 5.1.2 allows a stream error: the
    stream is opened as usual (its header block must be decoded anyway, to keep HPACK
    in step), recorded in ``over_limit``, and reset REFUSED_STREAM by the caller.
    """

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        self.over_limit: set[int] = set()
        self._counted = False
        self.peer_went_away = False  # the client sent GOAWAY, its streams may finish

    @property
    def open_inbound_streams(self) -> int:
        if self._counted:  # counted already in _receive_headers_frame: pass h2's check
            return 0
        return super().open_inbound_streams

    def _receive_headers_frame(self, frame: Any) -> Any:
        if frame.stream_id in self.streams:  # trailers
            return super()._receive_headers_frame(frame)
        if (
            super().open_inbound_streams >= self.local_settings.max_concurrent_streams
            and frame.stream_id > self.highest_inbound_stream_id  # else h2 rejects it anyway
        ):
            self.over_limit.add(frame.stream_id)
        self._counted = True
        try:
            return super()._receive_headers_frame(frame)
        finally:
            self._counted = False

    def _receive_goaway_frame(self, frame: Any) -> Any:
        """A client's GOAWAY: report it, but leave the connection open for its streams.

        h2 moves its connection state machine to CLOSED on any received GOAWAY (and
        drops the frames it had queued), after which no HEADERS, DATA or WINDOW_UPDATE
        can pass either way: the responses to streams the client opened before it
        would be lost, and even a PING or SETTINGS behind the GOAWAY (which the client
        may still send) would be a protocol error. RFC 9113 section 6.8 only says the
        client opens no more streams; those it opened still complete. So the state is
        left as it is and h2's ConnectionTerminated is built here instead; the caller
        refuses new streams and closes once the open ones are done. The only place
        h2's connection state machine is worked around.
        """
        if self.state_machine.state is h2.connection.ConnectionState.CLOSED:
            return super()._receive_goaway_frame(frame)  # ours went out already
        self.peer_went_away = True
        event = h2.events.ConnectionTerminated()
        try:
            event.error_code = h2.errors.ErrorCodes(frame.error_code)
        except ValueError:  # an unknown code is passed on as a number, as h2 does
            event.error_code = frame.error_code
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class HTTP2Connection(StreamConnection[H2Stream]):
    """The HTTP/2 protocol of a :class:`~hypercorn_protocol.ServerConnection`."""

    extensions = frozenset(
        {
            "http.response.early_hint",
            "http.response.pathsend",
            "http.response.push",
            "http.response.trailers",
        }
    )
    flow_controlled = True

    def __init__(
        self,
        context: ConnectionContext,
        now: float,
        *,
        upgrade: tuple[Headers, bytes] | None = None,
        output_prefix: bytes = b"",
        pending_events: list[Event] | None = None,
    ) -> None:
        events = deque(pending_events or ())
        super().__init__(context, "h2", events, [output_prefix] if output_prefix else [])
        settings = context.settings
        self._scheme = context.scopes.scheme
        self._server_names = {name.encode("latin-1") for name in settings.server_names}
        self._max_requests = settings.keep_alive_max_requests
        self._keep_alive_timeout = settings.keep_alive_timeout
        # a stream behind a shut window: the stricter of the HTTP/2 and the generic deadline
        stall = [t for t in (settings.h2_stall_timeout, settings.response_write_timeout) if t]
        self._stall_timeout = min(stall) if stall else None
        self._head_since: float | None = None  # a header block is incomplete since
        self._deaf = False  # a head timed out: no more input is read
        self._sending: deque[int] = deque()  # streams with buffered output, round-robin
        self._resets: deque[float] = deque()
        self._idle_since = now
        self._shutting_down = False
        # RFC 9218: once the client sends any priority signal, sending follows
        # urgency; until then streams share the connection round-robin.
        self._prioritized = False
        self._early_priorities: dict[int, bytes] = {}
        self._known_fields = FieldCache()  # request fields validated on this connection
        # app response fields -> as sent (None: dropped), so each is checked once
        self._app_fields: dict[tuple[bytes, bytes], tuple[bytes, bytes] | None] = {}
        self._app_headers = self._response_headers

        # Header blocks are validated here, in one pass each way: inbound by
        # http2.fields (a malformed request costs its stream, not the connection),
        # outbound by _response_headers. h2's generator chains cost a fifth of a request.
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = _H2(config)
        max_frame = settings.h2_max_inbound_frame_size
        max_header_list = settings.h2_max_header_list_size
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: settings.h2_max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: max_frame,
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        # h2's interface, faster; h2 types these attributes as its own (hpack's) classes
        encoder = hpack.Encoder()
        decoder = hpack.Decoder()
        conn.encoder = encoder  # type: ignore[assignment]
        conn.decoder = decoder  # type: ignore[assignment]
        # h2 derives these from its settings only when a change is acknowledged,
        # which initial values never are; set them so the advertised limits hold.
        conn.max_inbound_frame_size = max_frame
        decoder.max_header_list_size = max_header_list
        self._h2 = conn
        if upgrade is None:
            conn.initiate_connection()
        else:
            _, settings_header = upgrade
            conn.initiate_upgrade_connection(settings_header)
        # Read per request; h2's Settings mapping is slow, so follow its changes here.
        self._push_enabled = bool(conn.remote_settings.enable_push)
        self._out.append(conn.data_to_send())
        if upgrade is not None:
            self._start_upgraded_stream(upgrade[0], now)

    # ------------------------------------------------------------------ outputs
    def data_to_send(self) -> bytes:
        # Frames h2 queued since the last _flush go after the ones already collected.
        pending = self._h2.data_to_send()
        if not self._out:
            return pending
        if pending:
            self._out.append(pending)
        data = b"".join(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        if self._closed:
            return None
        deadline = self._write_deadline()
        if self._head_since is not None and self._header_timeout is not None:
            head_deadline = self._head_since + self._header_timeout
            if deadline is None or head_deadline < deadline:
                deadline = head_deadline
        if not self._streams:
            idle = self._idle_since + self._keep_alive_timeout
            return idle if deadline is None or idle < deadline else deadline
        for stream in self._streams.values():
            ws = stream.ws
            timer = ws.get_timer() if ws is not None else self._body_deadline(stream)
            if timer is not None and (deadline is None or timer < deadline):
                deadline = timer
        if self._stall_timeout is not None:
            for stream_id in self._sending:
                sending = self._streams.get(stream_id)
                if sending is not None and sending.stalled_since is not None:
                    timer = sending.stalled_since + self._stall_timeout
                    if deadline is None or timer < deadline:
                        deadline = timer
        return deadline

    # ------------------------------------------------------------------- inputs
    def receive_data(self, data: bytes, now: float) -> None:
        if self._closed:
            return
        if not data:
            self._connection_gone()
            self._close()
            return
        if self._deaf:
            return
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._protocol_error(exc)
            return
        for event in events:
            self._handle(event, now)
            if self.closed:  # (the property: mypy takes _closed for still False here)
                return  # nothing after a GOAWAY of ours is processed
        if self._shutting_down and not self._streams:
            # the client's GOAWAY left nothing open (a stream opened after it was refused)
            self._goaway(h2.errors.ErrorCodes.NO_ERROR)
            self._close()
            return
        if self._header_timeout is not None:
            self._track_head(now)
        self._flush(now)

    def _track_head(self, now: float) -> None:
        """Note when a header block began arriving, and forget it once it is complete."""
        # h2 keeps the bytes of an unfinished frame and the frames of an unfinished
        # header block in its frame buffer; it has no public view of either.
        buffer = self._h2.incoming_buffer
        pending = buffer._data
        in_head = bool(buffer._headers_buffer) or (len(pending) >= 4 and pending[3] in _HEAD_FRAMES)
        if not in_head:
            self._head_since = None
        elif self._head_since is None:
            self._head_since = now

    def _head_timed_out(self, now: float) -> bool:
        """``request_header_timeout``: read nothing more, finish the open streams, GOAWAY.

        Returns True when that closed the connection (no stream was open)."""
        buffer = self._h2.incoming_buffer
        pending = buffer._headers_buffer[0].stream_id if buffer._headers_buffer else 0
        if not pending and len(buffer._data) >= 9:
            pending = int.from_bytes(buffer._data[5:9], "big") & 0x7FFFFFFF
        self._refused("request_header_timeout", None, pending)
        self._head_since = None
        self._deaf = True
        self._shutting_down = True
        if not self._streams:
            self._goaway(h2.errors.ErrorCodes.NO_ERROR)
            self._close()
            return True
        return False

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        write_deadline = self._write_deadline()
        if write_deadline is not None and now >= write_deadline:
            self._write_timed_out(now)
            return
        head_since = self._head_since
        if (
            head_since is not None
            and self._header_timeout is not None
            and now >= head_since + self._header_timeout
            and self._head_timed_out(now)
        ):
            return
        if not self._streams:
            if now >= self._idle_since + self._keep_alive_timeout:
                self._goaway(h2.errors.ErrorCodes.NO_ERROR)
                self._close()
            return
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
        if self._stall_timeout is not None:
            for stream_id in list(self._sending):
                sending = self._streams.get(stream_id)
                if (
                    sending is not None
                    and sending.stalled_since is not None
                    and now >= sending.stalled_since + self._stall_timeout
                ):
                    # The peer keeps the window shut: free the stream and its app.
                    self._refused("response_write_timeout", None, stream_id)
                    self._reset(sending, h2.errors.ErrorCodes.CANCEL, now)
        self._flush(now)

    def start_shutdown(self, now: float) -> None:
        if self._closed or self._shutting_down:
            return
        self._shutting_down = True
        if not self._streams:
            self._goaway(h2.errors.ErrorCodes.NO_ERROR)
            self._close()
            return
        for stream in list(self._streams.values()):
            if stream.ws is not None:
                stream.ws.start_shutdown(now)
                self._ws_flush(stream, now)
        # No GOAWAY yet: h2 and httpcore clients stop reading at the first one, so the
        # open streams would lose their responses. New streams are refused meanwhile
        # (REFUSED_STREAM: safe to retry), and the one GOAWAY goes out as the last
        # open stream ends (_finish_stream).
        self._flush(now)

    def connection_lost(self, now: float) -> None:
        self._connection_gone()
        self._closed = True

    def writable(self, stream_id: int) -> bool:
        stream = self._streams.get(stream_id)
        return stream is None or not stream.waiting

    # -------------------------------------------------------------- h2 events
    def _handle(self, event: h2.events.Event, now: float) -> None:
        if type(event) is h2.events.RequestReceived:
            self._request(event, now)
        elif type(event) is h2.events.DataReceived:
            self._data(event, now)
        elif type(event) is h2.events.StreamEnded:
            self._end_of_body(event.stream_id, now)
        elif type(event) is h2.events.StreamReset:
            self._remote_reset(event.stream_id, now)
        elif type(event) is h2.events.ConnectionTerminated:
            self._client_goaway(event, now)
        elif type(event) is h2.events.RemoteSettingsChanged:
            # no push after the client's GOAWAY: a push opens a stream
            self._push_enabled = (
                bool(self._h2.remote_settings.enable_push) and not self._h2.peer_went_away
            )
        elif type(event) is h2.events.UnknownFrameReceived:
            self._unknown_frame(event.frame)
        elif type(event) is h2.events.TrailersReceived:
            self._trailers(event, now)

    def _client_goaway(self, event: h2.events.ConnectionTerminated, now: float) -> None:
        """The client's GOAWAY: it opens no more streams; the open ones still finish.

        Only a GOAWAY with NO_ERROR is a graceful goodbye. With an error code the client
        reports a connection error and closes the connection itself (RFC 9113 section
        5.4.1), so the open streams' apps are told at once, as for EOF.
        """
        if event.error_code != h2.errors.ErrorCodes.NO_ERROR or not self._h2.peer_went_away:
            self._connection_gone()
            self._close()
            return
        self._shutting_down = True  # later HEADERS are refused (REFUSED_STREAM)
        self._push_enabled = False
        # Pushed streams (even ids) above its last stream id the client will not process.
        last = event.last_stream_id or 0
        for stream in list(self._streams.values()):
            if stream.stream_id % 2 == 0 and stream.stream_id > last and not self._closed:
                self._reset(stream, h2.errors.ErrorCodes.CANCEL, now)
        # The GOAWAY in return goes out as the last open stream ends (_finish_stream),
        # or, with none open, once this input is processed (receive_data).

    def _request(self, event: h2.events.RequestReceived, now: float) -> None:
        stream_id = event.stream_id
        if self._h2.over_limit and stream_id in self._h2.over_limit:
            # beyond the advertised concurrency: refused alone (the client may retry it);
            # as cheap to send as a reset, so it counts against the same budget
            self._h2.over_limit.discard(stream_id)
            self._refuse(stream_id)
            self._reset_budget_spent(now)
            return
        if self._shutting_down:
            self._refuse(stream_id)
            return
        self._requests += 1
        if self._max_requests > 0 and self._requests > self._max_requests:
            # GOAWAY waits for the open streams, as in a graceful shutdown
            self._refuse(stream_id)
            if not self._streams:
                self._goaway(h2.errors.ErrorCodes.NO_ERROR)
                self._close()
            return
        try:
            head = request_head(event.headers or (), self._known_fields)
        except MalformedRequest:
            self._reset_id(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        if head.protocol is not None:
            self._start_websocket(stream_id, head, now)
            return
        if head.path is None:  # plain CONNECT: no tunnels here, as over HTTP/1.1
            self._reject_stream(stream_id, 405, [], now)
            return
        scope = self._scope(head)
        if scope is None:
            self._reset_id(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        stream = H2Stream(stream_id, scope, head.method, now)
        headers = scope["headers"]
        if self._server_names and header_value(headers, b"host") not in self._server_names:
            # answered here, the app never runs
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
            if not event.stream_ended:  # RFC 9113 section 8.1: stop sending, no error
                self._reset_id(stream_id, h2.errors.ErrorCodes.NO_ERROR)
            return
        # one pass for both fields (this runs for every request)
        priority = None
        for name, value in headers:
            if name == b"te":
                stream.trailers_allowed = stream.trailers_allowed or b"trailers" in value
            elif name == b"priority" and priority is None:
                priority = value
        priority = self._early_priorities.pop(stream_id, None) or priority
        if priority is not None:
            self._prioritized = True
            apply_priority(stream, priority)
        self._streams[stream_id] = stream
        self._events.append(StartApp(stream_id, scope))  # _open, inline: per request
        if event.stream_ended:
            stream.request_complete = True
            stream.pending_acks.append(0)
            self._deliver(stream, {"type": "http.request", "body": b"", "more_body": False})

    def _scope(self, head: RequestHead) -> ASGIScope | None:
        headers = head.scope_headers()
        assert head.path is not None
        raw_path, query = split_target(head.path)
        if not raw_path.isascii():
            return None
        # trailers are advertised on every request, as by Hypercorn 0.18: apps check the
        # extension, not te; those the client did not ask for are dropped (app_send)
        extensions: dict[str, Any] = {
            "http.response.early_hint": {},
            "http.response.pathsend": {},
            "http.response.trailers": {},
        }
        if self._push_enabled:
            extensions["http.response.push"] = {}
        return self._scopes.http(
            "2", head.method.decode("ascii"), raw_path, query, headers, extensions
        )

    def _start_upgraded_stream(self, request: Headers, now: float) -> None:
        # h2c: the HTTP/1.1 request that asked for the upgrade is stream 1, already complete.
        self._requests += 1
        # h11 validated it; only the pseudo-headers _switch_to_h2c put first are split off
        # (it turned host into :authority, so no host field is left among the others)
        pseudo = {name: value for name, value in request if name[:1] == b":"}
        head = RequestHead(
            pseudo[b":method"],
            pseudo[b":path"],
            pseudo.get(b":authority") or None,
            None,
            [(name, value) for name, value in request if name[:1] != b":"],
        )
        scope = self._scope(head)
        if scope is None:
            self._reset_id(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        stream = H2Stream(1, scope, head.method, now)
        stream.request_complete = True
        self._open(stream)
        stream.pending_acks.append(0)
        self._deliver(stream, {"type": "http.request", "body": b"", "more_body": False})

    def _data(self, event: h2.events.DataReceived, now: float) -> None:
        stream = self._streams.get(event.stream_id)
        size = event.flow_controlled_length or 0
        if stream is not None and stream.ws is not None:
            stream.ws_held += size
            stream.ws.receive_data(bytes(event.data or b""), now)
            self._ws_flush(stream, now)
            self._ws_release_window(stream)
            return
        if stream is None or stream.closed or stream.response is _DONE:
            # Nobody will consume it: give the window back at once.
            if size and not self._closed:
                try:
                    self._h2.acknowledge_received_data(size, event.stream_id)
                except _CLOSED:
                    pass
            return
        more = not event.stream_ended
        if not more:
            stream.request_complete = True
        stream.pending_acks.append(size)
        if not self._count_body(stream, len(event.data or b""), now):
            stream.request_complete = True  # nothing more of it is taken
            self._refuse_body(stream, "max_request_body_size", 413, now)
            return
        self._deliver(
            stream, {"type": "http.request", "body": bytes(event.data or b""), "more_body": more}
        )

    def _end_of_body(self, stream_id: int, now: float) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.ws is not None:
            stream.ws.receive_data(b"", now)  # the client ended its side
            self._ws_flush(stream, now)
            return
        if stream is None or stream.request_complete:
            return
        stream.request_complete = True
        stream.pending_acks.append(0)
        self._deliver(stream, {"type": "http.request", "body": b"", "more_body": False})

    def _trailers(self, event: h2.events.TrailersReceived, now: float) -> None:
        # ASGI has no request trailers: they are checked, then only end the body.
        if has_pseudo_field(event.headers or ()):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                self._reset(stream, h2.errors.ErrorCodes.PROTOCOL_ERROR, now)
            else:
                self._reset_id(event.stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        if event.stream_ended:
            self._end_of_body(event.stream_id, now)

    def _release_window(self, stream: H2Stream) -> None:
        if stream.pending_acks:
            size = stream.pending_acks.popleft()
            if size and not stream.closed and not self._closed:
                try:
                    self._h2.acknowledge_received_data(size, stream.stream_id)
                except _CLOSED:
                    pass
                self._out.append(self._h2.data_to_send())

    def _remote_reset(self, stream_id: int, now: float) -> None:
        stream = self._streams.get(stream_id)
        if self._reset_budget_spent(now):
            return
        if stream is not None:
            if stream.ws is not None:
                stream.ws.connection_lost()
                self._ws_flush(stream, now)
            stream.closed = True
            self._finish_stream(stream, now)

    def _reset_budget_spent(self, now: float) -> bool:
        """Count one cheap stream the client made us drop; past the budget, GOAWAY."""
        self._resets.append(now)
        while self._resets and self._resets[0] < now - _RESET_WINDOW:
            self._resets.popleft()
        if len(self._resets) <= _RESET_BUDGET:
            return False
        self._goaway(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
        self._connection_gone()
        self._close(RemoteProtocolError("too many stream resets"))
        return True

    def _unknown_frame(self, frame: Any) -> None:
        if getattr(frame, "type", None) != PRIORITY_UPDATE:
            return
        update = priority_update(bytes(getattr(frame, "body", b"")))
        if update is None:
            return
        stream_id, value = update
        stream = self._streams.get(stream_id)
        if stream is not None:
            self._prioritized = True
            apply_priority(stream, value)
        elif stream_id > self._h2.highest_inbound_stream_id and len(self._early_priorities) < 100:
            self._early_priorities[stream_id] = value  # for a stream yet to open

    # -------------------------------------------------------------- responses
    def _response_headers(self, raw: Iterable[Any]) -> Headers:
        """The app's response fields, validated (each distinct one once) and lower-cased."""
        seen = self._app_fields
        headers: Headers = []
        for item in raw:
            try:
                field = seen.get(item, _UNSEEN)
                hashable = True
            except TypeError:  # a list pair, or a bytearray: checked every time
                field, hashable = _UNSEEN, False
            if field is _UNSEEN:
                name, value = item
                field = _response_field(name, value)
                if hashable and len(seen) < _FIELD_CACHE_LIMIT:
                    seen[item] = field
            if field is not None:
                headers.append(field)
        return headers

    def _send_head(self, stream: H2Stream, message: Message, now: float) -> None:
        headers = [(b":status", b"%d" % stream.status)]
        headers.extend(stream.headers)  # lower-cased by _response_headers
        headers.extend(self._default_headers.get(now))
        stream.headers = headers[1:]
        body = message.get("body", b"")
        end = not message.get("more_body", False) and not body and stream.trailers is None
        try:
            self._h2.send_headers(stream.stream_id, headers, end_stream=end)
        except _CLOSED:
            stream.closed = True
            self._finish_stream(stream, now)
            return
        stream.response = _DONE if end else _BODY
        if end:
            self._finish_stream(stream, now)

    def _send_body(self, stream: H2Stream, message: Message, now: float) -> bool:
        if stream.response is _STARTED:
            self._send_head(stream, message, now)
        body = message.get("body", b"")
        # body_allowed(), inline on the hot path (status is 200 or above here)
        if body and stream.status != 204 and stream.status != 304 and stream.method != b"HEAD":
            stream.outbound += body
            stream.body_bytes += len(body)
        if not message.get("more_body", False):
            stream.response = _DONE
            stream.end_pending = True
        self._schedule(stream)
        self._flush(now)
        if stream.stream_id not in self._streams:  # fully sent, or reset meanwhile
            return True
        stream.waiting = len(stream.outbound) > _HIGH_WATER
        return not stream.waiting

    def _send_interim(self, stream: H2Stream, status: int, headers: Headers, now: float) -> None:
        try:
            self._h2.send_headers(stream.stream_id, [(b":status", b"%d" % status), *headers])
        except h2.exceptions.ProtocolError:
            return
        self._out.append(self._h2.data_to_send())

    def _send_trailers(self, stream: H2Stream, now: float) -> None:
        stream.trailers_ready = True
        self._schedule(stream)
        self._flush(now)

    def _refuse_body(self, stream: H2Stream, reason: str, status: int, now: float) -> None:
        """A body too large or too slow: ``status`` unless the response began, then a reset."""
        if stream.response is _NONE or stream.response is _STARTED:
            self._refused(reason, status, stream.stream_id)
            stream.status = status
            stream.headers = [(b"content-length", b"0")]
            stream.response = _STARTED
            stream.outbound.clear()
            self._send_head(stream, {"body": b""}, now)  # ends the stream (DONE)
            if stream.stream_id in self._streams:
                self._finish_stream(stream, now)
            self._reset_id(stream.stream_id, h2.errors.ErrorCodes.NO_ERROR)
        else:
            self._refused(reason, None, stream.stream_id)
            self._reset(stream, h2.errors.ErrorCodes.CANCEL, now)

    def _abort_response(self, stream: H2Stream, now: float) -> None:
        self._reset(stream, h2.errors.ErrorCodes.INTERNAL_ERROR, now)

    def _schedule(self, stream: H2Stream) -> None:
        if stream.stream_id not in self._sending:
            self._sending.append(stream.stream_id)

    def _flush(self, now: float) -> None:
        """Send buffered bodies round-robin, one frame per stream per turn."""
        conn = self._h2
        progress = True
        while self._sending and progress and not self._closed:
            progress = False
            if self._prioritized:
                self._sending = priority_order(self._sending, self._streams)
            for _ in range(len(self._sending)):
                if progress and self._prioritized:
                    break  # one frame, then choose again: the most urgent stream goes next
                stream_id = self._sending.popleft()
                stream = self._streams.get(stream_id)
                if stream is None or stream.closed:
                    continue
                if stream.outbound:
                    try:
                        window = min(
                            conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size
                        )
                    except _CLOSED:
                        stream.closed = True
                        self._finish_stream(stream, now)
                        continue
                    if window <= 0:
                        if stream.stalled_since is None:
                            stream.stalled_since = now
                        self._sending.append(stream_id)
                        continue
                    stream.stalled_since = None
                    chunk = bytes(stream.outbound[:window])
                    del stream.outbound[:window]
                    end = not stream.outbound and stream.end_pending and stream.trailers is None
                    conn.send_data(stream_id, chunk, end_stream=end)
                    progress = True
                    if end:
                        self._finish_stream(stream, now)
                        continue
                    if stream.waiting and len(stream.outbound) <= _HIGH_WATER // 2:
                        stream.waiting = False
                        self._events.append(StreamWritable(stream_id))
                if not stream.outbound and stream.end_pending:
                    if stream.trailers is not None:
                        if not stream.trailers_ready:
                            continue  # rescheduled when the app sends them
                        conn.send_headers(stream_id, stream.trailers, end_stream=True)
                    else:
                        conn.end_stream(stream_id)
                    progress = True
                    self._finish_stream(stream, now)
                    continue
                if stream.outbound:
                    self._sending.append(stream_id)
                elif stream.waiting:
                    stream.waiting = False
                    self._events.append(StreamWritable(stream_id))
        data = conn.data_to_send()
        if data:
            self._out.append(data)

    def _finish_stream(self, stream: H2Stream, now: float) -> None:
        if self._streams.pop(stream.stream_id, None) is None:
            return
        stream.closed = True
        # Body bytes the app never took still hold the connection's window: hand them
        # back (h2 credits only the connection for a closed stream), or a few streams
        # that ignore their bodies would stall every later upload on the connection.
        unread = sum(stream.pending_acks)
        stream.pending_acks.clear()
        if unread and not self._closed:
            self._h2.acknowledge_received_data(unread, stream.stream_id)
            self._out.append(self._h2.data_to_send())
        self._complete(stream, now)
        self._disconnect(stream)
        if stream.waiting:
            stream.waiting = False
            self._events.append(StreamWritable(stream.stream_id))
        if stream.stream_id in self._paused_by:
            self._paused_by.discard(stream.stream_id)
            self._maybe_resume()
        if not self._streams:
            self._idle_since = now
            if self._shutting_down or (
                self._max_requests > 0 and self._requests >= self._max_requests
            ):
                self._goaway(h2.errors.ErrorCodes.NO_ERROR)
                self._close()

    def _push(self, stream: H2Stream, message: Message, now: float) -> None:
        if not self._push_enabled or stream.response is _DONE:
            return
        raw_path = message["path"]
        path = raw_path.encode("ascii") if isinstance(raw_path, str) else bytes(raw_path)
        if not _PUSH_PATH.fullmatch(path):
            raise InvalidMessageError(f"Invalid push path {path!r}")
        authority = header_value(stream.scope["headers"], b"host") or b""
        headers = self._app_headers(message.get("headers", []))
        request_headers = [
            (b":method", b"GET"),
            (b":path", path),
            (b":scheme", self._scheme.encode("ascii")),
            (b":authority", authority),
            *headers,
        ]
        try:
            promised = self._h2.get_next_available_stream_id()
            self._h2.push_stream(stream.stream_id, promised, request_headers)
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            return
        self._out.append(self._h2.data_to_send())
        host = header_value(headers, b"host")
        scope = self._scope(RequestHead(b"GET", path, authority, None, headers, host))
        if scope is None:
            return
        pushed = H2Stream(promised, scope, b"GET", now)
        pushed.request_complete = True
        self._requests += 1
        self._open(pushed)
        pushed.pending_acks.append(0)
        self._deliver(pushed, {"type": "http.request", "body": b"", "more_body": False})

    # ------------------------------------------------------------- WebSocket
    def _start_websocket(self, stream_id: int, head: RequestHead, now: float) -> None:
        """RFC 8441: ``CONNECT`` with ``:protocol websocket`` opens a WebSocket on a stream."""
        headers = head.scope_headers()
        assert head.protocol is not None and head.path is not None  # checked by request_head
        if head.protocol.lower() != b"websocket":
            self._reject_stream(stream_id, 501, [], now)
            return
        if header_value(headers, b"sec-websocket-version") != b"13":
            self._reject_stream(stream_id, 400, [(b"sec-websocket-version", b"13")], now)
            return
        stream = self._open_websocket(stream_id, "2", b"CONNECT", head.path, headers, now)
        self._ws_flush(stream, now)

    def _new_stream(self, stream_id: int, scope: ASGIScope, method: bytes, now: float) -> H2Stream:
        return H2Stream(stream_id, scope, method, now)

    def _reject_stream(self, stream_id: int, status: int, headers: Headers, now: float) -> None:
        response = [(b":status", b"%d" % status), *headers, *self._default_headers.get(now)]
        try:
            self._h2.send_headers(stream_id, response, end_stream=True)
        except _CLOSED:
            return
        self._out.append(self._h2.data_to_send())

    def _ws_replies(self, stream: H2Stream, replies: tuple[Reply, ...], now: float) -> None:
        super()._ws_replies(stream, replies, now)
        self._flush(now)

    def _ws_accept(self, stream: H2Stream, headers: Headers, now: float) -> None:
        stream.status = 200
        stream.headers = self._ws_response_headers(headers)
        stream.response = _STARTED
        self._send_head(stream, _OPEN_HEAD, now)

    def _ws_response_headers(self, headers: Headers) -> Headers:
        return [(name.lower(), value) for name, value in headers]

    def _ws_output(self, stream: H2Stream, ws: WebSocket, data: bytes, now: float) -> None:
        if data and stream.response is _BODY and not stream.closed:
            stream.outbound += data
            self._schedule(stream)
        if ws.finished and not stream.closed and stream.response in (_BODY, _DONE):
            stream.end_pending = True
            self._schedule(stream)
        elif ws.finished and stream.response is _NONE and stream.stream_id in self._streams:
            self._finish_stream(stream, now)  # refused before any answer

    def _ws_consumed(self, stream: H2Stream, ws: WebSocket) -> None:
        self._ws_release_window(stream)

    def _ws_release_window(self, stream: H2Stream) -> None:
        # The peer may send more only while the app keeps up: per-stream backpressure.
        ws = stream.ws
        if ws is None or not stream.ws_held or not ws.wants_data or stream.closed or self._closed:
            return
        held, stream.ws_held = stream.ws_held, 0
        try:
            self._h2.acknowledge_received_data(held, stream.stream_id)
        except _CLOSED:
            return
        self._out.append(self._h2.data_to_send())

    # ------------------------------------------------------------------ errors
    def _refuse(self, stream_id: int) -> None:
        self._reset_id(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)

    def _reset_id(self, stream_id: int, code: h2.errors.ErrorCodes) -> None:
        try:
            self._h2.reset_stream(stream_id, error_code=code)
        except _CLOSED:
            return
        self._out.append(self._h2.data_to_send())

    def _reset(self, stream: H2Stream, code: h2.errors.ErrorCodes, now: float) -> None:
        self._reset_id(stream.stream_id, code)
        self._finish_stream(stream, now)

    def _goaway(self, code: h2.errors.ErrorCodes) -> None:
        try:
            self._h2.close_connection(
                error_code=code, last_stream_id=self._h2.highest_inbound_stream_id
            )
        except h2.exceptions.ProtocolError:
            return
        self._out.append(self._h2.data_to_send())

    def _protocol_error(self, exc: h2.exceptions.ProtocolError) -> None:
        # h2 has already queued GOAWAY with the right error code.
        self._out.append(self._h2.data_to_send())
        self._connection_gone()
        self._close(RemoteProtocolError(str(exc) or type(exc).__name__))

    def _connection_gone(self) -> None:
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


def _response_field(name: bytes, value: bytes) -> tuple[bytes, bytes] | None:
    # HTTP/2 field names are lower case, and it has no hop-by-hop headers: drop those.
    ((name, value),) = normalise_app_headers(((name, value),))
    name = name.lower()
    return None if name in CONNECTION_SPECIFIC else (name, value)
