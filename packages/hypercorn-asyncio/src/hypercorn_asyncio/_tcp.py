"""One TCP (or TLS, or unix) connection: an asyncio Protocol around a ServerConnection.

Everything HTTP happens in the sans-IO core; this class only moves bytes, runs one
task per stream, and keeps a single timer. After each input it *pumps*: drains the
core's events, writes what the core queued in one ``transport.write``, and re-arms
the timer only if the deadline moved earlier (a late timer re-checks and re-arms
itself, so keep-alive needs no cancel/reschedule per request).

On an HTTP/2 connection many stream tasks produce output in the same loop turn, so
the write (and the timer check) is deferred to one callback at the end of the turn:
one system call for all of them instead of one per response.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import time
from typing import TYPE_CHECKING, cast

from hypercorn_protocol import ServerConnection
from hypercorn_protocol.errors import WebSocketClosedError
from hypercorn_protocol.events import (
    AppMessage,
    CloseConnection,
    PauseReading,
    RequestCompleted,
    ResumeReading,
    StartApp,
    StreamWritable,
)
from hypercorn_protocol.server.binding import address_tuple
from hypercorn_protocol.typing import ASGIScope, Message

if TYPE_CHECKING:
    from hypercorn_asyncio._context import WorkerContext


class _AppStream:
    """The app side of one stream: its receive FIFO and the task running the app.

    Apps may call ``receive()`` again while a call is pending (Starlette listens for
    ``http.disconnect`` in one task while another reads): each pending call has its own
    future, and messages go to them first come, first served.
    """

    __slots__ = ("_protocol", "queue", "stream_id", "task", "waiters", "writable")

    def __init__(self, protocol: HTTPProtocol, stream_id: int) -> None:
        self._protocol = protocol
        self.stream_id = stream_id
        self.queue: deque[Message] = deque()
        self.waiters: deque[asyncio.Future[Message]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.writable: asyncio.Future[None] | None = None

    def push(self, message: Message) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled receive() leaves a cancelled future
                waiter.set_result(message)
                return
        self.queue.append(message)

    async def receive(self) -> Message:
        protocol = self._protocol
        if not self.queue:
            protocol.conn.app_receive_waiting(self.stream_id, time())
            protocol.pump()
        if self.queue:
            message = self.queue.popleft()
        else:
            waiter: asyncio.Future[Message] = protocol.loop.create_future()
            self.waiters.append(waiter)
            try:
                message = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    # Handed over just as the caller was cancelled: the next one gets it.
                    self._give_back(waiter.result())
                elif waiter in self.waiters:
                    self.waiters.remove(waiter)
                raise
        conn = protocol.conn
        conn.app_consumed(self.stream_id)
        if protocol.reading_paused or conn.http_version == "2":
            protocol.pump()  # may resume reading, or owe the peer an HTTP/2 WINDOW_UPDATE
        return message

    def _give_back(self, message: Message) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(message)
                return
        self.queue.appendleft(message)

    async def send(self, message: Message) -> None:
        protocol = self._protocol
        may_continue = protocol.conn.app_send(self.stream_id, message, time())
        protocol.pump()
        if not may_continue:
            # HTTP/2: this stream's buffer is full; wait for window, not for the socket.
            while not protocol.conn.writable(self.stream_id) and not protocol.closing:
                self.writable = protocol.loop.create_future()
                try:
                    await self.writable
                finally:
                    self.writable = None
        if protocol.write_paused:
            await protocol.drained()

    def wake_writer(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)


class HTTPProtocol(asyncio.Protocol):
    """asyncio Protocol serving one client connection."""

    def __init__(self, context: WorkerContext, *, secure: bool) -> None:
        self.context = context
        self.loop = context.loop
        self.secure = secure
        self.conn: ServerConnection = None  # type: ignore[assignment]  # set in connection_made
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _AppStream] = {}
        self.reading_paused = False
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._closing = False
        self._multiplexed = False  # HTTP/2: writes are coalesced per loop turn
        self._flush_pending = False
        self._tls = False

    # ------------------------------------------------------------ transport API
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        alpn = None
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = ssl_object is not None
        if ssl_object is not None:
            alpn = ssl_object.selected_alpn_protocol()
        context = self.context
        self.conn = ServerConnection(
            context.config,
            client=address_tuple(transport.get_extra_info("peername")),
            server=address_tuple(transport.get_extra_info("sockname")),
            scheme="https" if self.secure else "http",
            now=time(),
            alpn=alpn,
            state=context.lifespan_state,
            dates=context.dates,
        )
        self._multiplexed = self.conn.http_version == "2"  # ALPN h2
        context.connection_opened(self)
        if context.shutting_down:
            self.conn.start_shutdown(time())
        self.pump()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data, time())
        if not self._multiplexed:  # input is where prior knowledge or h2c switches to HTTP/2
            self._multiplexed = conn.http_version == "2"
        self.pump()

    def eof_received(self) -> bool:
        self.conn.receive_data(b"", time())
        self.pump()
        # Plain TCP: keep the transport open, a half-closed client still gets its response.
        # TLS transports close regardless, and asking for more makes asyncio warn on stderr.
        return not self._tls

    @property
    def closing(self) -> bool:
        return self._closing

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.conn.connection_lost(time())
        self.pump()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        self.write_paused = False
        for stream in self.streams.values():
            stream.wake_writer()
        self.context.connection_closed(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        # A peer that does not read what we send (PING / SETTINGS floods, or just
        # a stalled client) is not read either, so the write buffer stays bounded.
        if self.transport is not None and not self._closing:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self._closing and not self.reading_paused:
            self.transport.resume_reading()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    async def drained(self) -> None:
        if self.write_paused and not self._closing:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    # --------------------------------------------------------------- the pump
    def pump(self) -> None:
        conn = self.conn
        close = False
        while (event := conn.next_event()) is not None:
            kind = type(event)
            if kind is AppMessage:
                stream = self.streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    stream.push(event.message)  # type: ignore[attr-defined]
            elif kind is StartApp:
                self._start_app(event.stream_id, event.scope)  # type: ignore[attr-defined]
            elif kind is RequestCompleted:
                self.context.request_completed(event)  # type: ignore[arg-type]
            elif kind is PauseReading:
                if not self.reading_paused and self.transport is not None:
                    self.reading_paused = True
                    self.transport.pause_reading()
            elif kind is ResumeReading:
                if self.reading_paused and self.transport is not None and not self._closing:
                    self.reading_paused = False
                    if not self.write_paused:
                        self.transport.resume_reading()
            elif kind is StreamWritable:
                stream = self.streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    stream.wake_writer()
            elif kind is CloseConnection:
                close = True
        transport = self.transport
        if transport is None or self._closing:
            return
        if close:
            data = conn.data_to_send()
            if data:
                transport.write(data)
            self._closing = True
            transport.close()
            return
        if self._multiplexed:
            if not self._flush_pending:
                self._flush_pending = True
                self.loop.call_soon(self._flush)
            return
        self._flush()

    def _flush(self) -> None:
        """Write what the core queued and re-arm the timer if its deadline moved earlier."""
        self._flush_pending = False
        transport = self.transport
        # is_closing(): the transport failed and connection_lost is on its way; a
        # write now would only make asyncio log "socket.send() raised exception".
        if transport is None or self._closing or transport.is_closing():
            return
        conn = self.conn
        data = conn.data_to_send()
        if data:
            transport.write(data)
        deadline = conn.get_timer()
        if deadline is not None and (
            self._timer_deadline is None or deadline < self._timer_deadline
        ):
            if self._timer is not None:
                self._timer.cancel()
            self._timer_deadline = deadline
            self._timer = self.loop.call_later(max(deadline - time(), 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        now = time()
        deadline = self.conn.get_timer()
        if deadline is not None and deadline <= now:
            self.conn.handle_timer(now)
        self.pump()

    # ---------------------------------------------------------------- the app
    def _start_app(self, stream_id: int, scope: ASGIScope) -> None:
        stream = _AppStream(self, stream_id)
        self.streams[stream_id] = stream
        stream.task = self.loop.create_task(self._run_app(stream, scope))
        self.context.tasks.add(stream.task)
        stream.task.add_done_callback(self.context.tasks.discard)

    async def _run_app(self, stream: _AppStream, scope: ASGIScope) -> None:
        exc: BaseException | None = None
        try:
            await self.context.app(scope, stream.receive, stream.send)
        except WebSocketClosedError:
            pass  # the app sent after its WebSocket closed: ASGI says that is not an error
        except Exception as error:
            exc = error
            # Through the configured logger: a custom logger_class, StatsD counters.
            await self.context.config.log.exception("Error in ASGI Framework")
        finally:
            del self.streams[stream.stream_id]
            self.conn.app_finished(stream.stream_id, exc, time())
            self.pump()

    def start_shutdown(self) -> None:
        self.conn.start_shutdown(time())
        self.pump()

    def abort(self) -> None:
        for stream in list(self.streams.values()):
            if stream.task is not None:
                stream.task.cancel()
        if self.transport is not None:
            self.transport.abort()
