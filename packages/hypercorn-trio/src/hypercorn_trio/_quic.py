"""HTTP/3 on one UDP socket: trio tasks around a QuicServer.

Everything QUIC and HTTP/3 happens in the sans-IO core
(:class:`hypercorn_protocol.quic_driving.QuicServer`); this module only implements its
I/O interface with trio: a reader task, one timer task for the whole socket (the
endpoint's timer heap), a flusher task that coalesces every send of a loop turn, and
one task per stream, all in the socket's own nursery. Sends use the non-blocking
socket directly: a datagram the kernel cannot take now is dropped (counted), as UDP
may, and QUIC's loss recovery resends it.

Receive path: the reader processes each datagram before it reads the next, so nothing
queues here; under overload the kernel's socket buffer drops. What the endpoint
refuses is counted in its ``stats`` and logged at debug level when the socket closes.

Mirrors ``hypercorn_asyncio._quic``: the same classes and methods, each doing the same job.
"""

from __future__ import annotations

import math
import socket
from time import time
from typing import TYPE_CHECKING, Any

import trio
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.quic_driving import QuicConnectionDriver, QuicServer
from hypercorn_protocol.server.binding import address_tuple
from hypercorn_protocol.server.udp import DatagramSender
from hypercorn_protocol.typing import ASGIScope, Message
from hypercorn_trio._stream import TrioStream

if TYPE_CHECKING:
    from aioquic.quic.configuration import QuicConfiguration

    from hypercorn_trio._context import WorkerContext

_MAX_DATAGRAM = 65536


class _QuicAppStream(TrioStream):
    """One HTTP/3 stream's app side; ``send`` only waits for the stream's window."""

    __slots__ = ()

    async def send(self, message: Message) -> None:
        if not self._driver.app_send(self.stream_id, message, time()):
            await self._wait_for_window()
        else:
            await trio.lowlevel.checkpoint()  # a streaming app must not starve the socket


class QuicSocket:
    """Serves HTTP/3 on one UDP socket: trio's tasks for it, and the QuicServer's I/O."""

    def __init__(
        self, context: WorkerContext, configuration: QuicConfiguration, sock: socket.socket
    ) -> None:
        self.context = context
        self._sock = sock
        self._trio_sock = trio.socket.from_stdlib_socket(sock)
        self._sender = DatagramSender(sock)
        self.server: QuicServer[_QuicAppStream] = QuicServer(
            self,
            context,
            configuration,
            context.config,
            server=address_tuple(sock.getsockname()),
            clock=time,
        )
        self.send_drops = 0
        self._nursery: trio.Nursery | None = None
        self._timer_scope = trio.CancelScope()
        self._timer_at = math.inf
        self._timer_set = trio.Event()
        self._flush_wanted = trio.Event()

    # ------------------------------------------------------------ trio's tasks
    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled (see :meth:`close`)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._run_timer)
                nursery.start_soon(self._run_flusher)
                task_status.started()
                await self._read()
        finally:
            self._trio_sock.close()

    async def _read(self) -> None:
        server = self.server
        while True:
            try:
                data, addr = await self._trio_sock.recvfrom(_MAX_DATAGRAM)
            except (trio.ClosedResourceError, OSError):
                return
            server.receive_datagram(data, addr, time())

    async def _run_timer(self) -> None:
        while True:
            if self._timer_at == math.inf:
                self._timer_set = trio.Event()
                await self._timer_set.wait()
            with trio.CancelScope(deadline=self._timer_at) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            if scope.cancelled_caught and trio.current_time() >= self._timer_at:
                self._timer_at = math.inf
                self.server.timer_fired(time())

    async def _run_flusher(self) -> None:
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted = trio.Event()
            self.server.flush(time())

    # ---------------------------------------------------------- the server's I/O
    def send_datagrams(self, datagrams: list[tuple[bytes, Any]]) -> None:
        self._sender.send(datagrams, self._send_one)

    def _send_one(self, data: bytes, addr: Any) -> None:
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self.send_drops += 1  # the kernel's buffer is full: QUIC resends
        except OSError:
            self.send_drops += 1  # unreachable peer, closed socket

    def arm_timer(self, deadline: float) -> None:
        self._timer_at = trio.current_time() + max(deadline - time(), 0.0)
        self._timer_scope.deadline = self._timer_at
        self._timer_set.set()

    def schedule_flush(self) -> None:
        self._flush_wanted.set()

    def start_app(
        self, driver: QuicConnectionDriver[_QuicAppStream], stream_id: int, scope: ASGIScope
    ) -> _QuicAppStream:
        assert self._nursery is not None
        stream = _QuicAppStream(driver, stream_id)
        self._nursery.start_soon(driver.run_app, stream_id, scope, stream.receive, stream.send)
        return stream

    def request_completed(self, event: RequestCompleted) -> None:
        self.context.request_completed(event)

    def request_refused(self, event: RequestRefused) -> None:
        self.context.request_refused(event)

    # ------------------------------------------------------------------ the socket
    def start_shutdown(self) -> None:
        """GOAWAY on every connection; each closes once its streams are done."""
        self.server.start_shutdown(time())

    async def wait_idle(self) -> None:
        """Return once no QUIC connection is left."""
        while not self.server.idle:
            await trio.sleep(0.05)

    async def close(self) -> None:
        """Close what is left (CONNECTION_CLOSE), cancel its apps and the socket's tasks."""
        self.server.abort()
        self.server.flush(time())
        stats = self.server.endpoint.stats
        if stats.datagrams_dropped or stats.connections_refused or self.send_drops:
            await self.context.config.log.debug(
                "QUIC: %d datagrams dropped, %d connections refused, %d sends dropped",
                stats.datagrams_dropped,
                stats.connections_refused,
                self.send_drops,
            )
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
