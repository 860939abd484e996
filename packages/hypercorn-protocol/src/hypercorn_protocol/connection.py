"""The public sans-IO server connection.

A driver (asyncio, trio, a selectors loop, a test) owns the socket and the clock;
the connection owns the protocol. The loop is always the same::

    conn = ServerConnection(settings, client=peer, server=local, scheme="http", now=time())
    conn.receive_data(data, now)            # b"" means the peer closed its side
    while (event := conn.next_event()) is not None:
        ...                                 # StartApp, AppMessage, PauseReading, ...
    sock.sendall(conn.data_to_send())
    deadline = conn.get_timer()             # call conn.handle_timer(now) once it passes

and, from the app side, ``app_send`` (the ASGI ``send``), ``app_consumed`` (the app's
``receive`` returned a message), ``app_receive_waiting`` (it waits for one) and
``app_finished`` (the app returned or raised). ``now`` is wall-clock seconds
(``time.time()``): it dates responses as well as timing out connections.

Nothing here raises because of what the peer sent; errors become responses and a
:class:`~hypercorn_protocol.events.CloseConnection` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypercorn_protocol.asgi.scope import Address, ScopeBuilder
from hypercorn_protocol.asgi.stream import ConnectionContext
from hypercorn_protocol.asgi.tls import TLSFacts, tls_extension
from hypercorn_protocol.events import Event
from hypercorn_protocol.headers import DateCache
from hypercorn_protocol.http1.connection import HTTP11Connection
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import Headers, Message

if TYPE_CHECKING:
    from hypercorn_protocol.http2.connection import HTTP2Connection

# What HTTP/2 with prior knowledge starts with (RFC 9113 §3.4). Spelled out here so
# that h2 and hpack are imported only once a connection speaks HTTP/2: a worker that
# serves only HTTP/1.1 starts faster and smaller.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _http2_connection() -> type[HTTP2Connection]:
    from hypercorn_protocol.http2.connection import HTTP2Connection

    return HTTP2Connection


class ServerConnection:
    """One client connection, speaking whichever HTTP version the client chose.

    Args:
        settings: a :class:`~hypercorn_protocol.config.Config` or any object with the
            attributes of :class:`~hypercorn_protocol.settings.ProtocolSettings`.
        client: the peer's ``(host, port)``, or None (unix sockets).
        server: the local ``(host, port)``, or None.
        scheme: ``"http"`` or ``"https"``.
        now: the current time, wall-clock seconds.
        alpn: the protocol TLS negotiated, if any (``"h2"`` selects HTTP/2 once supported).
        state: the lifespan state; a shallow copy goes into each request scope.
        dates: a shared :class:`DateCache`, so a worker formats ``Date`` once a second.
        tls: what the TLS handshake established (a TLS connection only): every scope
            then carries the ASGI ``tls`` extension.
    """

    # __dict__: the per-request methods are bound to the active protocol (see _bind).
    __slots__ = ("__dict__", "_context", "_protocol", "_sniffed")

    def __init__(
        self,
        settings: ProtocolSettings,
        *,
        client: Address,
        server: Address,
        scheme: str,
        now: float,
        alpn: str | None = None,
        state: dict[str, Any] | None = None,
        dates: DateCache | None = None,
        tls: TLSFacts | None = None,
    ) -> None:
        scopes = ScopeBuilder(
            client=client,
            server=server,
            scheme=scheme,
            root_path=settings.root_path,
            state=state,
            tls=tls_extension(tls) if tls is not None else None,
        )
        self._context = ConnectionContext(settings, scopes, dates or DateCache())
        self._protocol: HTTP11Connection | HTTP2Connection
        if alpn == "h2":
            self._protocol = _http2_connection()(self._context, now)
            self._sniffed: bytes | None = None
        else:
            self._protocol = HTTP11Connection(self._context, now, on_h2c=self._switch_to_h2c)
            # HTTP/2 with prior knowledge starts with a fixed preface; until it is
            # ruled in or out, the first bytes wait here.
            self._sniffed = b""
        self._bind()

    def _bind(self) -> None:
        """Point the per-request methods straight at the active protocol.

        Each method below only forwards to ``self._protocol``; as instance attributes
        bound to it they save a call each, a dozen or more per request. A subclass
        (which may override them) keeps the methods as they are.
        """
        if type(self) is not ServerConnection:
            return
        protocol = self._protocol
        methods = vars(self)
        methods["next_event"] = protocol.next_event
        methods["data_to_send"] = protocol.data_to_send
        methods["get_timer"] = protocol.get_timer
        methods["app_send"] = protocol.app_send
        methods["app_consumed"] = protocol.app_consumed
        methods["app_receive_waiting"] = protocol.app_receive_waiting
        methods["app_finished"] = protocol.app_finished
        if self._sniffed is None:
            methods["receive_data"] = protocol.receive_data

    def _switch_to_h2c(
        self, request: Headers, settings: bytes, leftover: bytes, peer_closed: bool, now: float
    ) -> None:
        """``Upgrade: h2c`` accepted: HTTP/2 takes over, the request becomes stream 1."""
        old = self._protocol
        events = []
        while (event := old.next_event()) is not None:
            events.append(event)
        self._protocol = _http2_connection()(
            self._context,
            now,
            upgrade=(request, settings),
            output_prefix=old.data_to_send(),
            pending_events=events,
        )
        self._bind()
        if leftover:
            self._protocol.receive_data(leftover, now)
        if peer_closed:
            self._protocol.receive_data(b"", now)

    # The methods below are the whole API; each forwards to the active protocol.
    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the peer; ``b""`` means end of stream."""
        if self._sniffed is None:
            self._protocol.receive_data(data, now)
            return
        seen = self._sniffed + data
        if data and len(seen) < len(PREFACE) and PREFACE.startswith(seen):
            self._sniffed = seen
            return
        self._sniffed = None
        if seen.startswith(PREFACE):
            self._protocol = _http2_connection()(self._context, now)
            self._bind()
        elif type(self) is ServerConnection:
            vars(self)["receive_data"] = self._protocol.receive_data  # sniffing is over
        if seen:
            self._protocol.receive_data(seen, now)
        if not data:
            self._protocol.receive_data(b"", now)

    def next_event(self) -> Event | None:
        """The next event for the driver, or None when there is none."""
        return self._protocol.next_event()

    def data_to_send(self) -> bytes:
        """Everything queued for the wire since the last call (may be ``b""``)."""
        return self._protocol.data_to_send()

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None."""
        return self._protocol.get_timer()

    def handle_timer(self, now: float) -> None:
        """Act on an expired deadline (keep-alive, read timeout, the request deadlines)."""
        self._protocol.handle_timer(now)

    def app_send(self, stream_id: int, message: Message, now: float) -> bool:
        """The app of ``stream_id`` called ``send(message)``.

        Returns:
            False when the stream's buffer is full (HTTP/2 flow control): the app's
            ``send`` should wait for :class:`~hypercorn_protocol.events.StreamWritable`.

        Raises:
            UnexpectedMessageError: the message is not valid in the stream's state.
            InvalidMessageError: (a ValueError) a malformed status or header.
        """
        return self._protocol.app_send(stream_id, message, now)

    def file_opened(self, stream_id: int, size: int, now: float) -> tuple[int, bool]:
        """``http.response.pathsend``: the driver opened the file; the head goes out.

        Returns:
            The number of bytes to send, and whether the driver may send them itself
            (``os.sendfile``, then :meth:`file_sent`) rather than through :meth:`file_data`.
        """
        return self._protocol.file_opened(stream_id, size, now)

    def file_data(self, stream_id: int, data: bytes, now: float) -> bool:
        """A chunk of the file, sent as body (False: wait for StreamWritable)."""
        return self._protocol.file_data(stream_id, data, now)

    def sending_file(self, stream_id: int) -> bool:
        """Whether the stream still wants the rest of its file (False once reset or closed)."""
        return self._protocol.sending_file(stream_id)

    def file_sent(self, stream_id: int, count: int) -> None:
        """The driver sent ``count`` bytes of the file itself."""
        self._protocol.file_sent(stream_id, count)

    def file_done(self, stream_id: int, now: float) -> None:
        """The whole file was handed over: the response ends."""
        self._protocol.file_done(stream_id, now)

    def writable(self, stream_id: int) -> bool:
        """False while the stream waits for flow-control window (HTTP/2)."""
        protocol = self._protocol
        return True if isinstance(protocol, HTTP11Connection) else protocol.writable(stream_id)

    def app_consumed(self, stream_id: int) -> None:
        """The app of ``stream_id`` took one message from its receive queue."""
        self._protocol.app_consumed(stream_id)

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app of ``stream_id`` waits in ``receive()`` with nothing queued."""
        self._protocol.app_receive_waiting(stream_id, now)

    def app_finished(self, stream_id: int, exc: BaseException | None, now: float) -> None:
        """The app of ``stream_id`` returned (``exc`` None) or raised ``exc``."""
        self._protocol.app_finished(stream_id, exc, now)

    def transport_blocked(self, now: float) -> None:
        """The driver's send buffer is full (the peer is not reading): from ``now`` on,
        ``response_write_timeout`` runs (``get_timer``)."""
        self._protocol.transport_blocked(now)

    def transport_unblocked(self) -> None:
        """The send buffer drained: the peer is taking bytes again."""
        self._protocol.transport_unblocked()

    def start_shutdown(self, now: float) -> None:
        """Finish in-flight work, accept no more, then close."""
        self._protocol.start_shutdown(now)

    def connection_lost(self, now: float) -> None:
        """The transport failed or was closed under us."""
        self._protocol.connection_lost(now)

    @property
    def closed(self) -> bool:
        """True once a :class:`CloseConnection` has been emitted."""
        return self._protocol.closed

    @property
    def http_version(self) -> str:
        """``"1.1"`` or ``"2"``: the protocol this connection speaks now."""
        return "1.1" if isinstance(self._protocol, HTTP11Connection) else "2"

    @property
    def idle(self) -> bool:
        """True when no request is in flight."""
        return self._protocol.idle
