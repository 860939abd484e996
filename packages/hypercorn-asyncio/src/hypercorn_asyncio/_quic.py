"""HTTP/3 on one UDP socket: an asyncio DatagramProtocol around a QuicServer.

Everything QUIC and HTTP/3 happens in the sans-IO core
(:class:`hypercorn_protocol.quic_driving.QuicServer`); this module only implements its
I/O interface with asyncio: ``transport.sendto``, one ``call_later`` timer for the whole
socket (the endpoint's timer heap), one task per stream, and a ``call_soon`` flush that
coalesces every send of a loop turn. A DatagramProtocol, so uvloop runs it unchanged.

Receive path: asyncio hands over one datagram per callback and each is processed before
the next is read, so nothing queues here; under overload the kernel's socket buffer
drops. What the endpoint refuses (unroutable, too small, over ``quic_max_connections``)
is counted in its ``stats`` and logged at debug level when the socket closes.

Mirrors ``hypercorn_trio._quic``: the same classes and methods, each doing the same job.
"""

from __future__ import annotations

import asyncio
import os
import socket
from time import time
from typing import TYPE_CHECKING, Any, cast

from hypercorn_asyncio._stream import AsyncioStream
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.quic_driving import QuicConnectionDriver, QuicServer
from hypercorn_protocol.server.binding import address_tuple
from hypercorn_protocol.server.udp import DatagramSender
from hypercorn_protocol.typing import ASGIScope, Message

if TYPE_CHECKING:
    from aioquic.quic.configuration import QuicConfiguration

    from hypercorn_asyncio._context import WorkerContext


class _QuicAppStream(AsyncioStream):
    """One HTTP/3 stream's app side; ``send`` only waits for the stream's window."""

    __slots__ = ()

    async def send(self, message: Message) -> None:
        if not self._driver.app_send(self.stream_id, message, time()):
            await self._wait_for_window()


class QuicSocket(asyncio.DatagramProtocol):
    """Serves HTTP/3 on one UDP socket: asyncio's callbacks, and the QuicServer's I/O."""

    def __init__(
        self, context: WorkerContext, configuration: QuicConfiguration, sock: socket.socket
    ) -> None:
        self.context = context
        # Batched sends go past the transport, on a duplicate of the socket the loop owns
        # (uvloop keeps the original's descriptor to itself).
        self._send_sock = socket.socket(fileno=os.dup(sock.fileno()))
        self._sender = DatagramSender(self._send_sock)
        self.loop = context.loop
        self._configuration = configuration
        self.transport: asyncio.DatagramTransport
        self.server: QuicServer[_QuicAppStream]
        self._timer: asyncio.TimerHandle | None = None
        self.closed = asyncio.Event()

    # -------------------------------------------------------- asyncio's callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        context = self.context
        self.server = QuicServer(
            self,
            context,
            self._configuration,
            context.config,
            server=address_tuple(transport.get_extra_info("sockname")),
            clock=time,
        )

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.receive_datagram(data, addr, time())

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors of one peer (port unreachable) are QUIC's loss, not ours

    def connection_lost(self, exc: Exception | None) -> None:
        self._send_sock.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.closed.set()

    # ---------------------------------------------------------- the server's I/O
    def send_datagrams(self, datagrams: list[tuple[bytes, Any]]) -> None:
        transport = self.transport
        if transport.is_closing():
            return
        # (asyncio's and uvloop's datagram transports both have it; typeshed does not say so)
        if transport.get_write_buffer_size():  # type: ignore[attr-defined]
            for data, addr in datagrams:  # behind what the transport holds, in order
                transport.sendto(data, addr)
            return
        self._sender.send(datagrams, transport.sendto)

    def arm_timer(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(max(deadline - time(), 0.0), self._run_timer)

    def schedule_flush(self) -> None:
        self.loop.call_soon(self._flush)

    def start_app(
        self, driver: QuicConnectionDriver[_QuicAppStream], stream_id: int, scope: ASGIScope
    ) -> _QuicAppStream:
        stream = _QuicAppStream(self.loop, driver, stream_id)
        task = self.loop.create_task(driver.run_app(stream_id, scope, stream.receive, stream.send))
        stream.task = task
        tasks = self.context.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return stream

    def request_completed(self, event: RequestCompleted) -> None:
        self.context.request_completed(event)

    def request_refused(self, event: RequestRefused) -> None:
        self.context.request_refused(event)

    # ------------------------------------------------------------------ the socket
    def _run_timer(self) -> None:
        self._timer = None
        self.server.timer_fired(time())

    def _flush(self) -> None:
        if not self.transport.is_closing():
            self.server.flush(time())

    def start_shutdown(self) -> None:
        """GOAWAY on every connection; each closes once its streams are done."""
        self.server.start_shutdown(time())

    async def wait_idle(self) -> None:
        """Return once no QUIC connection is left."""
        while not self.server.idle:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Close what is left (CONNECTION_CLOSE), cancel its apps, then the socket."""
        self.server.abort()
        self.server.flush(time())
        for driver in list(self.server.drivers):
            for stream in list(driver.streams.values()):
                if stream.task is not None:
                    stream.task.cancel()
        stats = self.server.endpoint.stats
        if stats.datagrams_dropped or stats.connections_refused:
            await self.context.config.log.debug(
                "QUIC: %d datagrams dropped, %d connections refused",
                stats.datagrams_dropped,
                stats.connections_refused,
            )
        self.transport.close()
