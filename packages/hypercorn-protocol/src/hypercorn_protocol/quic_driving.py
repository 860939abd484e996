"""Driving HTTP/3: one UDP socket's QUIC endpoint and its connections' apps, written once.

A driver (``hypercorn_asyncio._quic``, ``hypercorn_trio._quic``) owns the UDP socket,
the clock, the single timer and the app tasks; :class:`QuicServer` owns everything else:

* the :class:`~hypercorn_protocol.http3.endpoint.QuicEndpoint` (routing, admission, the
  one timer heap of every connection) and, per QUIC connection, an
  :class:`~hypercorn_protocol.http3.connection.HTTP3Connection` run by a
  :class:`QuicConnectionDriver` (the shared :class:`~hypercorn_protocol.driving.DriverBase`
  with an I/O half that needs no socket of its own);
* inputs: the driver calls :meth:`QuicServer.receive_datagram` for each datagram and
  :meth:`QuicServer.timer_fired` when its timer fires; the connections that got events
  are pumped (apps started, messages queued) before the call returns;
* coalesced sends: whatever produced output (datagrams in, a timer, an app's ``send``)
  asks for one :meth:`QuicServer.flush` per loop turn (:meth:`DatagramIO.schedule_flush`),
  which collects every connection's datagrams at once and re-arms the one timer.

Sans-IO, like :mod:`~hypercorn_protocol.driving`: nothing here reads a clock or a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from hypercorn_protocol.asgi.scope import ScopeBuilder
from hypercorn_protocol.asgi.stream import ConnectionContext
from hypercorn_protocol.driving import DriverBase, StreamIO, Worker
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.http3.connection import HTTP3Connection, paced_connection_class
from hypercorn_protocol.http3.endpoint import (
    EndpointConnection,
    EndpointSettings,
    NetworkAddress,
    QuicConnectionHandler,
    QuicEndpoint,
)
from hypercorn_protocol.typing import ASGIScope

if TYPE_CHECKING:
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import QuicEvent

__all__ = ["DatagramIO", "QuicConnectionDriver", "QuicServer"]

S = TypeVar("S", bound=StreamIO)


class DatagramIO(Protocol[S]):
    """What a driver does for :class:`QuicServer`: the UDP socket, the timer, the tasks."""

    def send_datagrams(self, datagrams: list[tuple[bytes, NetworkAddress]]) -> None:
        """Send each ``(data, address)``; never waits (a full socket drops, as UDP may)."""

    def arm_timer(self, deadline: float) -> None:
        """Call :meth:`QuicServer.timer_fired` at ``deadline`` (replacing the armed one)."""

    def schedule_flush(self) -> None:
        """Call :meth:`QuicServer.flush` once the tasks ready now have run."""

    def start_app(self, driver: QuicConnectionDriver[S], stream_id: int, scope: ASGIScope) -> S:
        """Start a task running ``driver.run_app`` for a new stream; its handle."""

    def request_completed(self, event: RequestCompleted) -> None:
        """One exchange finished: access log, metrics, ``max_requests``."""

    def request_refused(self, event: RequestRefused) -> None:
        """A deadline or a limit refused a request (metrics count them)."""


class QuicConnectionDriver(DriverBase[S, HTTP3Connection]):
    """The shared connection driver, on an HTTP/3 connection.

    Its byte counts (for metrics) are the endpoint's for the connection: the UDP
    payloads of the datagrams routed to it and sent by it.
    """

    __slots__ = ("endpoint_connection", "quic_server")

    def __init__(
        self,
        server: QuicServer[S],
        worker: Worker,
        conn: HTTP3Connection,
        clock: Callable[[], float],
        endpoint_connection: EndpointConnection,
    ) -> None:
        self.endpoint_connection = endpoint_connection
        super().__init__(_ConnectionIO(server, self), worker, conn, clock=clock)
        self.quic_server = server

    def _report_transfer(self) -> None:
        connection = self.endpoint_connection
        self.bytes_received = connection.bytes_received
        self.bytes_sent = connection.bytes_sent
        super()._report_transfer()


class _ConnectionIO(Generic[S]):
    """The ``ConnectionIO`` of one QUIC connection: it has no socket, the endpoint sends."""

    __slots__ = ("_driver", "_server")

    def __init__(self, server: QuicServer[S], driver: QuicConnectionDriver[S]) -> None:
        self._server = server
        self._driver = driver

    def write(self, data: bytes) -> None:
        pass  # HTTP3Connection.data_to_send is always empty: QUIC output is datagrams

    def close(self, discard: bool = False, linger: bool = False) -> None:
        conn = self._driver.conn
        conn.close_quic()
        self._server.request_flush(self._driver)

    def pause_reading(self) -> None:
        pass  # one socket serves every connection; stream windows bound each app's queue

    def resume_reading(self) -> None:
        pass

    def start_app(self, stream_id: int, scope: ASGIScope) -> S:
        return self._server.io.start_app(self._driver, stream_id, scope)

    def arm_timer(self, deadline: float) -> None:
        pass  # the endpoint's heap holds the connection's deadline (handler.get_timer)

    def schedule_flush(self) -> None:
        self._server.request_flush(self._driver)

    def request_completed(self, event: RequestCompleted) -> None:
        self._server.io.request_completed(event)

    def request_refused(self, event: RequestRefused) -> None:
        self._server.io.request_refused(event)


class _Handler:
    """The endpoint's handler of one connection: the HTTP/3 core, then a pump."""

    __slots__ = ("driver", "server")

    def __init__(self, server: QuicServer[Any], driver: QuicConnectionDriver[Any]) -> None:
        self.server = server
        self.driver = driver

    def quic_event(self, event: QuicEvent, now: float) -> None:
        from aioquic.quic.events import ConnectionTerminated

        driver = self.driver
        if type(event) is ConnectionTerminated:
            self.server.forget(driver)
            driver.lost(now)
            return
        driver.conn.quic_event(event, now)
        self.server.pending_pump[driver] = None

    def get_timer(self) -> float | None:
        return self.driver.conn.get_timer()

    def handle_timer(self, now: float) -> None:
        self.driver.conn.handle_timer(now)
        self.server.pending_pump[self.driver] = None


class QuicServer(Generic[S]):
    """HTTP/3 on one UDP socket (see the module docstring).

    Args:
        io: the driver's socket, timer and tasks.
        worker: the app, the config, the lifespan state and the Date cache.
        configuration: aioquic's server configuration
            (:func:`~hypercorn_protocol.server.quic.build_quic_configuration`).
        settings: the endpoint's limits (the worker's ``Config``).
        server: the socket's local ``(host, port)``, for the scopes.
        clock: the driver's wall clock, read when an app ends.
    """

    def __init__(
        self,
        io: DatagramIO[S],
        worker: Worker,
        configuration: QuicConfiguration,
        settings: EndpointSettings,
        *,
        server: tuple[str, int] | None,
        clock: Callable[[], float],
    ) -> None:
        self.io = io
        self._worker = worker
        self._server = server
        self._clock = clock
        self.endpoint = QuicEndpoint(
            configuration, self._new_handler, settings, quic_class=paced_connection_class()
        )
        self.drivers: dict[QuicConnectionDriver[S], None] = {}
        self.pending_pump: dict[QuicConnectionDriver[S], None] = {}
        self._pending_flush: dict[QuicConnectionDriver[S], None] = {}
        self._flush_scheduled = False
        self._timer_at: float | None = None
        self.shutting_down = False

    # ------------------------------------------------------------------- inputs
    def receive_datagram(self, data: bytes, address: NetworkAddress, now: float) -> None:
        """One datagram from ``address``; a flush is scheduled for what it produced."""
        self.endpoint.receive_datagram(data, address, now)
        self._after_input()

    def timer_fired(self, now: float) -> None:
        """The armed deadline passed."""
        self._timer_at = None
        deadline = self.endpoint.get_timer()
        if deadline is not None and deadline <= now:
            self.endpoint.handle_timer(now)
        self._after_input()

    def start_shutdown(self, now: float) -> None:
        """Open no more connections; each sends GOAWAY, finishes its streams and closes."""
        self.shutting_down = True
        self.endpoint.stop_accepting()
        for driver in list(self.drivers):
            driver.start_shutdown(now)
        self._schedule()

    def abort(self) -> None:
        """Close every connection now (graceful shutdown timed out); apps are the driver's."""
        self.endpoint.close_all()
        self._schedule()

    @property
    def idle(self) -> bool:
        """True when no connection is left."""
        return not self.drivers

    # ------------------------------------------------------------------ outputs
    def flush(self, now: float) -> None:
        """Send what every connection queued, wake drained senders, re-arm the timer."""
        self._flush_scheduled = False
        pending, self._pending_flush = self._pending_flush, {}
        for driver in pending:
            driver.flush()  # marks the connection for the endpoint (data_to_send)
        datagrams = self.endpoint.datagrams_to_send(now)
        if datagrams:
            self.io.send_datagrams(datagrams)
        for driver in self.drivers:
            if driver.conn.waiting:
                driver.conn.check_writable()
                self.pending_pump[driver] = None
        self._pump_pending()
        deadline = self.endpoint.get_timer()
        if deadline is not None and (self._timer_at is None or deadline != self._timer_at):
            self._timer_at = deadline
            self.io.arm_timer(deadline)

    def request_flush(self, driver: QuicConnectionDriver[S]) -> None:
        """(A connection's ``schedule_flush``) include ``driver`` in the next flush."""
        self._pending_flush[driver] = None
        self._schedule()

    def forget(self, driver: QuicConnectionDriver[S]) -> None:
        """The connection is gone from the endpoint."""
        self.drivers.pop(driver, None)
        self.pending_pump.pop(driver, None)

    # ---------------------------------------------------------------- internals
    def _new_handler(self, connection: EndpointConnection) -> QuicConnectionHandler:
        worker = self._worker
        config = worker.config
        scopes = ScopeBuilder(
            client=None,
            server=self._server,
            scheme="https",
            root_path=config.root_path,
            state=worker.lifespan_state,
        )
        context = ConnectionContext(config, scopes, worker.dates)
        conn = HTTP3Connection(context, connection)
        driver: QuicConnectionDriver[S] = QuicConnectionDriver(
            self, worker, conn, self._clock, connection
        )
        self.drivers[driver] = None
        if self.shutting_down:
            driver.start_shutdown(self._clock())
        return _Handler(self, driver)

    def _after_input(self) -> None:
        self._pump_pending()
        self._schedule()

    def _pump_pending(self) -> None:
        while self.pending_pump:
            pending, self.pending_pump = self.pending_pump, {}
            for driver in pending:
                driver.pump()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.io.schedule_flush()
