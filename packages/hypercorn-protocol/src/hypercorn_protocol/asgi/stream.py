"""The ASGI stream model, shared by every HTTP version.

Theory of operation
-------------------
A *stream* is one request and its response: an HTTP/1.1 request/response cycle, an
HTTP/2 (or HTTP/3) stream. :class:`StreamConnection` is the part of a protocol
connection that an ASGI app can see, written once; a protocol module subclasses it,
maps its wire events onto it and implements the few ``_send_*`` hooks that put a
response on its wire. Nothing else about ASGI lives in a protocol module.

Request side. The protocol starts a stream with :meth:`~StreamConnection._open`
(:class:`StartApp`), then hands it each piece of the body with
:meth:`~StreamConnection._deliver` (:class:`AppMessage`, ``http.request``). A stream
whose app has ``max_app_queue_size`` messages it has not taken yet joins
``_paused_by``, and reading pauses (:class:`PauseReading`) until every such stream
has caught up (``app_consumed``; :class:`ResumeReading`). A flow-controlled protocol
also gets each taken message's size back (``_release_window``), so a slow app
throttles only its own stream.

Response side. ``app_send`` checks each message against :data:`RESPONSE_TRANSITIONS`
(below: the state machine as data, after h11's ``_state.py``); a message missing from
its state's row raises :class:`~hypercorn_protocol.errors.UnexpectedMessageError`,
as does one of an extension the protocol does not offer (``extensions``). The head
of a response is held back (STARTED) until its first body message, so that they
can leave together (and a one-message body gets a ``content-length`` on HTTP/1.1).

Ending. Every stream ends with exactly one :class:`RequestCompleted` (the access-log
summary, :meth:`~StreamConnection._complete`; ``response`` is None unless the head
went out) and, unless its app has returned or it is a WebSocket, exactly one
``http.disconnect`` (:meth:`~StreamConnection._disconnect`). An app that fails
before its response head went out gets a 500 with an empty body in its place; one
that fails in the middle of a body has its response cut (``_abort_response``: the
connection closed on HTTP/1.1, the stream reset on HTTP/2), so the truncation
shows instead of looking complete.

Deadlines and limits (written once here; each protocol maps them onto its wire).
``max_request_body_size``: :meth:`~StreamConnection._count_body` counts each body
piece before it is delivered, so the app never gets a byte past the limit.
``request_body_timeout``: while the app waits in ``receive()`` for body that has not
come (``waiting_since``), :meth:`~StreamConnection._body_deadline` runs from the
later of that wait and the last body progress. ``response_write_timeout``: the driver
says when the transport's send buffer is full (:meth:`~StreamConnection.transport_blocked`)
and when it drained; past the deadline every stream is ended and the connection
aborted, its unsent bytes dropped (:meth:`~StreamConnection._write_timed_out`).
``request_header_timeout`` is each protocol's, as only it knows where a head begins.
Every refusal is one :class:`RequestRefused` event (metrics count them).

Files. ``http.response.pathsend`` (after the start, in place of a body) moves the
stream to FILE: the head is still held back and the app's ``send`` stays with the
driver, which opens the file and reports its size (:meth:`~StreamConnection.file_opened`).
That writes the head (with the file's size as ``content-length`` unless the app gave
one) and answers how many bytes to send and whether the driver may send them itself,
past the protocol (``os.sendfile``: only where the bytes go on the wire unchanged,
plain TCP HTTP/1.1 with length framing; then :meth:`~StreamConnection.file_sent`).
Otherwise the driver reads the file in bounded chunks and hands each to
:meth:`~StreamConnection.file_data`, which writes it as body like any app's
(backpressure, flow control, framing, every protocol the same);
:meth:`~StreamConnection.file_done` ends the body. A file that cannot be opened
raises in the app's ``send``: the app fails with the head unsent, so a 500 takes its
place; a failure after the head is out cuts the response, as with any body.

WebSocket. A stream may carry a :class:`~hypercorn_protocol.websocket.stream.WebSocket`
(``stream.ws``): its app's messages go to the WebSocket, whose *replies* (accept,
a refusal response) come back through ``_ws_replies`` and whose ASGI messages and
frames come out through ``_ws_flush``; only writing the accept and moving frames
(``_ws_accept``, ``_ws_output``) is the protocol's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar

from hypercorn_protocol.asgi.scope import ScopeBuilder, split_target
from hypercorn_protocol.errors import InvalidMessageError, UnexpectedMessageError
from hypercorn_protocol.events import (
    AppMessage,
    CloseConnection,
    Event,
    PauseReading,
    RequestCompleted,
    RequestRefused,
    ResponseSummary,
    ResumeReading,
    StartApp,
)
from hypercorn_protocol.headers import (
    DateCache,
    DefaultHeaders,
    body_allowed,
    header_value,
    normalise_app_headers,
)
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import ASGIScope, Headers, Message
from hypercorn_protocol.websocket.handshake import HandshakeOffer
from hypercorn_protocol.websocket.replies import (
    AcceptReply,
    Reply,
    ResponseBody,
    ResponseStart,
    WebSocketOptions,
)

if TYPE_CHECKING:
    from hypercorn_protocol.websocket.stream import WebSocket

DISCONNECT: Final[Message] = {"type": "http.disconnect"}
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b"", "more_body": False}


class ResponseState(Enum):
    NONE = "no response yet"
    STARTED = "response started, head held back"
    BODY = "sending body"
    FILE = "file to send, head held back"
    DONE = "response complete"

    # Members are singletons: hashing them by identity keeps the per-message state
    # lookups in C (Enum's own __hash__ is a Python function).
    __hash__ = object.__hash__


_NONE, _STARTED, _BODY, _FILE, _DONE = (
    ResponseState.NONE,
    ResponseState.STARTED,
    ResponseState.BODY,
    ResponseState.FILE,
    ResponseState.DONE,
)

#: The response state machine: for each state, the app messages it accepts and the
#: state each leads to. ``http.response.body`` leads to BODY while ``more_body`` is
#: true and to DONE with the last one (:data:`LAST_BODY`). An early hint, a push or
#: trailers leave the state as it is. Anything missing is UnexpectedMessageError.
RESPONSE_TRANSITIONS: Final[dict[ResponseState, dict[str, ResponseState]]] = {
    _NONE: {
        "http.response.start": _STARTED,  # a 1xx start (HTTP/1.1) is sent at once: NONE
        "http.response.early_hint": _NONE,
        "http.response.push": _NONE,
    },
    _STARTED: {
        "http.response.body": _BODY,
        "http.response.pathsend": _FILE,  # the driver takes it from here (file_opened)
        "http.response.push": _STARTED,
    },
    _BODY: {
        "http.response.body": _BODY,
        "http.response.trailers": _BODY,
        "http.response.push": _BODY,
    },
    _FILE: {},  # the app's send() is busy with the file until the response is done
    _DONE: {"http.response.trailers": _DONE, "http.response.push": _DONE},
}
#: Where the last body message (``more_body`` false) leads, from STARTED or BODY.
LAST_BODY: Final = _DONE
#: The messages of ASGI extensions; a protocol accepts those in its ``extensions``.
EXTENSION_MESSAGES: Final = frozenset(
    {
        "http.response.early_hint",
        "http.response.pathsend",
        "http.response.push",
        "http.response.trailers",
    }
)
_NEXT_BODY: Final[Message] = {"body": b"", "more_body": True}


@dataclass(frozen=True, slots=True)
class ConnectionContext:
    """What every protocol of one connection shares (an h2c upgrade hands it on)."""

    settings: ProtocolSettings
    scopes: ScopeBuilder
    dates: DateCache  # shared by a worker's connections: Date is formatted once a second


class Stream:
    """The per-stream state every HTTP version shares."""

    __slots__ = (
        "app_finished",
        "body_bytes",
        "body_received",
        "closed",
        "completed",
        "disconnected",
        "expects_continue",
        "headers",
        "last_body",
        "method",
        "request_complete",
        "response",
        "scope",
        "start",
        "status",
        "stream_id",
        "trailers",
        "trailers_allowed",
        "unconsumed",
        "waiting_since",
        "ws",
    )

    def __init__(self, stream_id: int, scope: ASGIScope, method: bytes, start: float) -> None:
        self.stream_id = stream_id
        self.scope = scope
        self.method = method
        self.start = start  # the ``now`` of the request head (RequestCompleted.start)
        self.response = ResponseState.NONE
        self.status = 0
        self.headers: Headers = []  # the response's, as sent once the head is out
        self.body_bytes = 0
        self.trailers: Headers | None = None  # a list once the app announced trailers
        self.trailers_allowed = False  # the client asked for them (te: trailers)
        self.unconsumed = 0  # messages queued for the app that it has not taken yet
        self.request_complete = False
        self.completed = False  # RequestCompleted was emitted
        self.disconnected = False  # http.disconnect was sent, or never will be
        self.app_finished = False
        self.expects_continue = False
        self.closed = False  # the transport of this stream is gone (reset, closed)
        self.ws: WebSocket | None = None  # a WebSocket carried by this stream
        self.body_received = 0  # request body bytes counted (max_request_body_size)
        self.last_body = start  # when body last made progress (request_body_timeout)
        self.waiting_since: float | None = None  # the app waits in receive() for body


S = TypeVar("S", bound=Stream)


class StreamConnection(Generic[S]):
    """The ASGI side of a protocol connection: streams, app messages and their events.

    Subclasses start streams with :meth:`_open` (inlined on their per-request paths),
    feed request bodies to :meth:`_deliver`, end streams with :meth:`_complete` and
    :meth:`_disconnect`, and implement the hooks at the end of this class.
    """

    #: The ASGI extension messages this protocol offers (see EXTENSION_MESSAGES).
    extensions: ClassVar[frozenset[str]] = frozenset()
    #: Whether ``http.response.start`` with a 1xx status sends an interim response.
    interim_by_start: ClassVar[bool] = False
    #: Whether taken messages give flow-control window back (``_release_window``).
    flow_controlled: ClassVar[bool] = False
    _transitions: ClassVar[dict[ResponseState, dict[str, ResponseState]]] = RESPONSE_TRANSITIONS

    def __init__(
        self,
        context: ConnectionContext,
        protocol: str,
        events: deque[Event] | None = None,
        out: list[bytes] | None = None,
    ) -> None:
        settings = context.settings
        self._scopes = context.scopes
        # the Server (``hypercorn-<protocol>``), Alt-Svc and Date headers
        self._default_headers = DefaultHeaders(settings, protocol, context.dates)
        self._max_queue = max(settings.max_app_queue_size, 1)
        self._settings = settings
        self._websocket_options: WebSocketOptions | None = None  # read on the first WebSocket
        self._events: deque[Event] = events if events is not None else deque()
        self._out: list[bytes] = out if out is not None else []
        self._streams: dict[int, S] = {}
        self._paused_by: set[int] = set()  # streams whose app is behind (and 0: the wire)
        self._reading_paused = False
        self._closed = False
        self._requests = 0
        self._body_limit = settings.max_request_body_size
        self._body_timeout = settings.request_body_timeout
        self._header_timeout = settings.request_header_timeout
        self._write_timeout = settings.response_write_timeout
        self._write_blocked_since: float | None = None  # the send buffer is full since
        # validates (and, per protocol, rewrites) the header fields of an app's message
        self._app_headers: Callable[[Iterable[Any]], Headers] = normalise_app_headers

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # each row of the state machine, limited to the messages this protocol offers
        unsupported = EXTENSION_MESSAGES - cls.extensions
        cls._transitions = {
            state: {kind: to for kind, to in row.items() if kind not in unsupported}
            for state, row in RESPONSE_TRANSITIONS.items()
        }

    # ------------------------------------------------------------------ outputs
    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        return data

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle(self) -> bool:
        return not self._streams

    def _close(
        self, error: Exception | None = None, *, discard: bool = False, linger: bool = False
    ) -> None:
        if not self._closed:
            self._closed = True
            self._events.append(CloseConnection(error, discard, linger))

    # ---------------------------------------------------- deadlines and limits
    def _refused(self, reason: str, status: int | None, stream_id: int = 0) -> None:
        """One refusal by a deadline or a limit, for metrics (``RequestRefused``)."""
        self._events.append(RequestRefused(reason, status, stream_id))

    def _count_body(self, stream: S, size: int, now: float) -> bool:
        """Count ``size`` body bytes arriving; False once they cross the body limit."""
        stream.last_body = now
        stream.body_received += size
        limit = self._body_limit
        return limit is None or stream.body_received <= limit

    def _over_declared_limit(self, declared: bytes | None) -> bool:
        """A ``content-length`` over ``max_request_body_size`` (answered before any read)."""
        limit = self._body_limit
        return (
            limit is not None
            and declared is not None
            and declared.isdigit()
            and int(declared) > limit
        )

    def _body_deadline(self, stream: S) -> float | None:
        """When the app, waiting for body that does not come, is given up on."""
        since = stream.waiting_since
        if since is None or self._body_timeout is None or stream.request_complete:
            return None
        last = stream.last_body
        return (since if since > last else last) + self._body_timeout

    def _write_deadline(self) -> float | None:
        """When a send buffer that stays full ends the connection."""
        since = self._write_blocked_since
        if since is None or self._write_timeout is None:
            return None
        return since + self._write_timeout

    def transport_blocked(self, now: float) -> None:
        """The driver's send buffer is full: the peer is not taking bytes (from ``now``)."""
        if self._write_blocked_since is None:
            self._write_blocked_since = now

    def transport_unblocked(self) -> None:
        """The send buffer drained below its low-water mark."""
        self._write_blocked_since = None

    def _write_timed_out(self, now: float) -> None:
        """``response_write_timeout``: end every stream, abort without flushing."""
        streams = list(self._streams.values())
        self._refused("response_write_timeout", None, streams[0].stream_id if streams else 0)
        for stream in streams:
            ws = stream.ws
            if ws is not None:
                ws.connection_lost()
                self._ws_forward(stream, ws)
            else:
                self._complete(stream, now)
            self._disconnect(stream)
            stream.closed = True
        self._close(discard=True)

    # ------------------------------------------------------------ request side
    def _open(self, stream: S) -> None:
        """Start the app of a new stream."""
        self._streams[stream.stream_id] = stream
        self._events.append(StartApp(stream.stream_id, stream.scope))

    def _deliver(self, stream: S, message: Message) -> None:
        """Queue ``message`` for the stream's app; a full queue pauses reading."""
        self._events.append(AppMessage(stream.stream_id, message))
        stream.unconsumed += 1
        if stream.unconsumed >= self._max_queue and stream.stream_id not in self._paused_by:
            self._paused_by.add(stream.stream_id)
            if not self._reading_paused:
                self._reading_paused = True
                self._events.append(PauseReading())

    def _maybe_resume(self) -> None:
        if self._reading_paused and not self._paused_by:
            self._reading_paused = False
            self._events.append(ResumeReading())

    def app_consumed(self, stream_id: int) -> None:
        """The app of ``stream_id`` took one message from its receive queue."""
        try:
            stream = self._streams[stream_id]
        except KeyError:
            return  # the stream is over
        ws = stream.ws
        if ws is not None:
            ws.app_consumed()
            self._ws_consumed(stream, ws)
            return
        stream.unconsumed -= 1
        stream.waiting_since = None
        if self.flow_controlled:
            self._release_window(stream)
        if stream.unconsumed < self._max_queue and stream_id in self._paused_by:
            self._paused_by.discard(stream_id)
            self._maybe_resume()

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app waits in ``receive()`` with nothing queued (HTTP/1.1: 100-continue)."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.ws is None and not stream.request_complete:
            stream.waiting_since = now  # request_body_timeout runs (get_timer)

    # ----------------------------------------------------------- response side
    def app_send(self, stream_id: int, message: Message, now: float) -> bool:
        """The app's ``send(message)``; False asks it to wait for StreamWritable.

        Raises:
            UnexpectedMessageError: the message is not valid in the stream's state.
            InvalidMessageError: (a ValueError) a malformed status or header.
        """
        try:
            stream = self._streams[stream_id]
        except KeyError:
            return True  # the stream is over (client gone, or an error answered it)
        if stream.closed:
            return True
        ws = stream.ws
        if ws is not None:
            self._ws_replies(stream, ws.app_send(message, now), now)
            return True
        if self._closed:
            return True
        kind = message["type"]
        state = stream.response
        row = self._transitions[state]
        if kind not in row:
            raise UnexpectedMessageError(state.value, kind)
        if kind == "http.response.body":
            return self._send_body(stream, message, now)
        if kind == "http.response.start":
            headers = self._app_headers(message.get("headers", ()))
            status = int(message["status"])
            if self.interim_by_start and 100 <= status < 200 and status != 101:
                self._send_interim(stream, status, headers, now)
                return True
            if not 200 <= status <= 999:
                raise InvalidMessageError(f"Invalid response status {status}")
            stream.status = status
            stream.headers = headers
            stream.response = row[kind]  # STARTED
            stream.expects_continue = False
            if stream.trailers_allowed and message.get("trailers", False):
                stream.trailers = []
            return True
        if kind == "http.response.pathsend":
            # The spec asks for an absolute path; a relative one is opened from the
            # working directory, as the app's own read would have been (Starlette's
            # FileResponse sends its path as it was given).
            path = message.get("path")
            if not isinstance(path, str) or not path:
                raise InvalidMessageError(f"pathsend needs a file path, not {path!r}")
            stream.response = row[kind]  # FILE: the driver opens it (file_opened)
            return True
        if kind == "http.response.trailers":
            if stream.trailers_allowed:  # else dropped: the body ended without them
                trailers = self._app_headers(message.get("headers", ()))
                stream.trailers = (stream.trailers or []) + trailers
                if not message.get("more_trailers", False):
                    self._send_trailers(stream, now)
            return True
        if kind == "http.response.early_hint":
            links = message.get("links", [])
            hints = normalise_app_headers((b"link", bytes(link)) for link in links)
            self._send_interim(stream, 103, hints, now)
            return True
        self._push(stream, message, now)  # http.response.push
        return True

    # ------------------------------------------------------ http.response.pathsend
    def file_opened(self, stream_id: int, size: int, now: float) -> tuple[int, bool]:
        """The driver opened the app's file (``size`` bytes): the head goes out.

        Returns:
            How many bytes of the file to send, and whether the driver may send them
            past the protocol (``os.sendfile``, then :meth:`file_sent`); if not, it
            hands them to :meth:`file_data`. Then :meth:`file_done`, in both cases.
        """
        stream = self._streams.get(stream_id)
        if stream is None or stream.closed or self._closed or stream.response is not _FILE:
            return 0, False  # the client went away meanwhile
        count = 0
        declared = header_value(stream.headers, b"content-length")
        if declared is None and stream.status != 204 and stream.status != 304:
            # HEAD too: the length its GET would have
            stream.headers = [*stream.headers, (b"content-length", b"%d" % size)]
        if body_allowed(stream.method, stream.status):
            # A length the app got wrong is its to answer for: too short sends only that
            # much, too long leaves the body short (and the response cut).
            count = size if declared is None or not declared.isdigit() else min(int(declared), size)
        stream.response = _STARTED
        self._send_body(stream, _NEXT_BODY, now)  # the head, and nothing of the body yet
        if stream.response is not _BODY:
            return 0, False
        return count, count > 0 and self._raw_body_ok(stream)

    def file_data(self, stream_id: int, data: bytes, now: float) -> bool:
        """A chunk of the file, written as body; False asks the driver to wait for window."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.closed or self._closed or stream.response is not _BODY:
            return True
        return self._send_body(stream, {"body": data, "more_body": True}, now)

    def sending_file(self, stream_id: int) -> bool:
        """Whether the stream still wants its file's body (not reset, not closed)."""
        stream = self._streams.get(stream_id)
        return (
            stream is not None
            and not stream.closed
            and not self._closed
            and stream.response is _BODY
        )

    def file_sent(self, stream_id: int, count: int) -> None:
        """The driver sent ``count`` bytes of the file itself (``os.sendfile``)."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.response is _BODY:
            self._raw_body_sent(stream, count)
            stream.body_bytes += count

    def file_done(self, stream_id: int, now: float) -> None:
        """The file was sent (or ended early, which leaves the body short): end the body."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.closed or self._closed or stream.response is not _BODY:
            return
        self._send_body(stream, _EMPTY_BODY, now)

    def app_finished(self, stream_id: int, exc: BaseException | None, now: float) -> None:
        """The app returned or raised: a response it never started becomes a 500."""
        try:
            stream = self._streams[stream_id]
        except KeyError:
            return
        stream.app_finished = True
        if stream.closed or self._closed:
            return
        ws = stream.ws
        if ws is not None:
            self._ws_replies(stream, ws.app_finished(exc, now), now)
            return
        state = stream.response
        if state is _DONE:
            return
        if state is _BODY:
            # Part of the body is out; ending it cleanly would make a truncated
            # response look complete, so it is cut instead.
            self._abort_response(stream, now)
            return
        stream.status = 500
        stream.headers = [(b"content-length", b"0")]
        stream.response = _STARTED
        self._send_body(stream, _EMPTY_BODY, now)

    def _complete(self, stream: S, now: float) -> None:
        """The stream's one access-log entry; with the response if its head went out."""
        if stream.completed:
            return
        stream.completed = True
        state = stream.response
        summary = (
            ResponseSummary(stream.status, stream.headers, stream.body_bytes)
            if state is _BODY or state is _DONE
            else None
        )
        self._events.append(
            RequestCompleted(stream.stream_id, stream.scope, summary, stream.start, now)
        )

    def _disconnect(self, stream: S) -> None:
        """``http.disconnect``, once, unless the app has returned.

        A WebSocket tells its app itself (with a close code), via :meth:`_ws_flush`.
        """
        if not stream.disconnected:
            stream.disconnected = True
            if not stream.app_finished and stream.ws is None:
                self._events.append(AppMessage(stream.stream_id, DISCONNECT))

    # --------------------------------------------------------------- WebSocket
    def _open_websocket(
        self,
        stream_id: int,
        http_version: str,
        method: bytes,
        target: bytes,
        headers: Headers,
        now: float,
    ) -> S:
        """Start a WebSocket stream whose opening request the protocol has accepted."""
        self._requests += 1
        raw_path, query = split_target(target)
        offer = HandshakeOffer.from_headers(headers)
        scope = self._scopes.websocket(http_version, raw_path, query, headers, offer.subprotocols)
        stream = self._new_stream(stream_id, scope, method, now)
        # Imported by the first upgrade: a server that never sees one never loads wsproto.
        from hypercorn_protocol.websocket.stream import WebSocket

        options = self._websocket_options
        if options is None:
            options = self._websocket_options = WebSocketOptions.from_settings(self._settings)
        stream.ws = WebSocket(offer, options, now)
        self._open(stream)
        return stream

    def _ws_replies(self, stream: S, replies: tuple[Reply, ...], now: float) -> None:
        """Write what the WebSocket asked for (handshake answers), then flush it."""
        for reply in replies:
            if self._closed or stream.closed:
                break
            if type(reply) is AcceptReply:
                self._ws_accept(stream, reply.headers, now)
            elif type(reply) is ResponseStart:
                stream.status = reply.status
                stream.headers = self._ws_response_headers(reply.headers)
                stream.response = _STARTED
            elif type(reply) is ResponseBody:  # a refusal, written like any HTTP response
                message = {"body": reply.body, "more_body": reply.more_body}
                self._send_body(stream, message, now)
            else:  # AbortReply: a refusal cut short, the truncation must show
                self._abort_response(stream, now)
                return
        self._ws_flush(stream, now)

    def _ws_flush(self, stream: S, now: float) -> None:
        """Forward the WebSocket's messages to its app and its frames to the protocol."""
        ws = stream.ws
        assert ws is not None
        self._ws_forward(stream, ws)
        self._ws_output(stream, ws, ws.bytes_to_send(), now)

    def _ws_forward(self, stream: S, ws: WebSocket) -> None:
        while (message := ws.next_message()) is not None:
            self._events.append(AppMessage(stream.stream_id, message))

    # ------------------------------------------------- what a protocol implements
    def _new_stream(self, stream_id: int, scope: ASGIScope, method: bytes, now: float) -> S:
        """A stream of this protocol's kind (for a WebSocket)."""
        raise NotImplementedError

    def _send_body(self, stream: S, message: Message, now: float) -> bool:
        """Write a body message (the held-back head first, when STARTED); move to
        BODY, or DONE with the last one. Returns False while the stream's buffer is
        too full for more (the app's ``send`` waits for StreamWritable)."""
        raise NotImplementedError

    def _send_interim(self, stream: S, status: int, headers: Headers, now: float) -> None:
        """Write an interim (1xx) response: 103 Early Hints, or a 1xx start."""
        raise NotImplementedError

    def _send_trailers(self, stream: S, now: float) -> None:
        """``stream.trailers`` are complete: write them (they end the stream)."""
        raise NotImplementedError

    def _push(self, stream: S, message: Message, now: float) -> None:
        """``http.response.push``: promise and start a pushed stream."""
        raise NotImplementedError

    def _abort_response(self, stream: S, now: float) -> None:
        """A response cannot be completed: make the truncation show (close or reset)."""
        raise NotImplementedError

    def _raw_body_ok(self, stream: S) -> bool:
        """Whether body bytes may bypass the protocol (the driver's ``os.sendfile``)."""
        return False

    def _raw_body_sent(self, stream: S, count: int) -> None:
        """(``_raw_body_ok``) ``count`` body bytes went out past the protocol."""
        raise NotImplementedError

    def _release_window(self, stream: S) -> None:
        """(``flow_controlled``) the app took a message: give its window back."""
        raise NotImplementedError

    def _ws_accept(self, stream: S, headers: Headers, now: float) -> None:
        """Complete the WebSocket handshake, adding ``headers``."""
        raise NotImplementedError

    def _ws_response_headers(self, headers: Headers) -> Headers:
        """The headers of a refusal response, as this protocol sends them."""
        raise NotImplementedError

    def _ws_output(self, stream: S, ws: WebSocket, data: bytes, now: float) -> None:
        """Send the WebSocket's frames; follow its reading and its end."""
        raise NotImplementedError

    def _ws_consumed(self, stream: S, ws: WebSocket) -> None:
        """The WebSocket's app took a message: it may want more data now."""
        raise NotImplementedError


__all__ = [
    "DISCONNECT",
    "ConnectionContext",
    "EXTENSION_MESSAGES",
    "LAST_BODY",
    "RESPONSE_TRANSITIONS",
    "ResponseState",
    "Stream",
    "StreamConnection",
]
