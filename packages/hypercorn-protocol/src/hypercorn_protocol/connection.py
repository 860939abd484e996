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

from typing import Any

from hypercorn_protocol._headers import DateCache
from hypercorn_protocol._http11 import HTTP11Connection
from hypercorn_protocol._scope import Address
from hypercorn_protocol.events import Event
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import Message


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
    """

    __slots__ = ("_protocol",)

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
    ) -> None:
        self._protocol = HTTP11Connection(
            settings,
            client=client,
            server=server,
            scheme=scheme,
            now=now,
            state=state,
            dates=dates,
        )

    # The methods below are the whole API; each forwards to the active protocol.
    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the peer; ``b""`` means end of stream."""
        self._protocol.receive_data(data, now)

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
        """Act on an expired deadline (keep-alive, read timeout)."""
        self._protocol.handle_timer(now)

    def app_send(self, stream_id: int, message: Message, now: float) -> None:
        """The app of ``stream_id`` called ``send(message)``.

        Raises:
            UnexpectedMessageError: the message is not valid in the stream's state.
            ValueError: a malformed status or header.
        """
        self._protocol.app_send(stream_id, message, now)

    def app_consumed(self, stream_id: int) -> None:
        """The app of ``stream_id`` took one message from its receive queue."""
        self._protocol.app_consumed(stream_id)

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app of ``stream_id`` waits in ``receive()`` with nothing queued."""
        self._protocol.app_receive_waiting(stream_id, now)

    def app_finished(self, stream_id: int, exc: BaseException | None, now: float) -> None:
        """The app of ``stream_id`` returned (``exc`` None) or raised ``exc``."""
        self._protocol.app_finished(stream_id, exc, now)

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
    def idle(self) -> bool:
        """True when no request is in flight."""
        return self._protocol.idle
