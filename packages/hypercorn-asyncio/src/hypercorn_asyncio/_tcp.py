"""One TCP (or TLS, or unix) connection: an asyncio Protocol around a ServerConnection.

Everything HTTP happens in the sans-IO core, and the event dispatch, the write
coalescing, the timer and the app's side of each stream in
:class:`hypercorn_protocol.driving.ConnectionDriver`; this module only implements its
I/O interface with asyncio: ``transport.write``, ``pause_reading``, one
``call_later`` timer, one task per stream, and a ``call_soon`` for a deferred flush.

It is a :class:`asyncio.BufferedProtocol`: the transport reads into one buffer per
thread (:func:`_read_buffer`) and :meth:`HTTPConnection.buffer_updated` copies out what
arrived. A plain ``Protocol`` costs a fresh 256 KiB ``bytes`` per read on the standard
loop (``sock.recv(max_size)``, then shrunk), which glibc serves, depending on what the
process allocated before, with an ``mmap`` / ``mremap`` / ``munmap`` per read: a third
of the CPU time of a WebSocket echo. uvloop reads into its own buffer either way.

Mirrors ``hypercorn_trio._tcp``: the same classes and methods, each doing the same job.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable
from time import time
from typing import TYPE_CHECKING, BinaryIO, cast

from hypercorn_asyncio._stream import AsyncioStream
from hypercorn_protocol.driving import FILE_CHUNK, LINGER_TIMEOUT, ConnectionDriver
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.proxy import ProxyAccepted, ProxyPreamble
from hypercorn_protocol.server.binding import address_tuple, reset_on_close
from hypercorn_protocol.server.files import open_file
from hypercorn_protocol.server.tls_facts import read_tls_facts
from hypercorn_protocol.typing import ASGIScope, Message

if TYPE_CHECKING:
    import ssl

    from hypercorn_asyncio._context import WorkerContext


class _AppStream(AsyncioStream):
    """One TCP stream's app side; ``send`` waits for the transport and may sendfile."""

    __slots__ = ("_connection",)

    def __init__(self, connection: HTTPConnection, stream_id: int) -> None:
        AsyncioStream.__init__(self, connection.loop, connection.driver, stream_id)
        self._connection = connection

    async def send(self, message: Message) -> None:
        if not self._driver.app_send(self.stream_id, message, time()):
            await self._wait_for_window()
        if message["type"] == "http.response.pathsend":
            await self._send_path(message["path"])
            return
        connection = self._connection
        if connection.write_paused:
            await connection.drained()

    async def _drain(self) -> None:
        connection = self._connection
        if connection.write_paused:
            await connection.drained()

    async def _open_file(self, path: str) -> tuple[BinaryIO, int]:
        return open_file(path)

    async def _read_file(self, file: BinaryIO, size: int) -> bytes:
        return await self._connection.loop.run_in_executor(None, file.read, size)

    async def _sendfile(self, file: BinaryIO, count: int) -> int:
        return await self._connection.sendfile(file, count)


#: How much one read may take: asyncio's own ``max_size`` for a plain Protocol.
READ_SIZE = 256 * 1024

_buffers = threading.local()


def _read_buffer() -> memoryview:
    """This thread's read buffer: reads happen one at a time on a loop, and are copied out."""
    buffer: memoryview | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = memoryview(bytearray(READ_SIZE))
    return buffer


class HTTPConnection(asyncio.BufferedProtocol):
    """Serves one client connection: asyncio's Protocol callbacks, and the driver's I/O."""

    request_completed: Callable[[RequestCompleted], None]
    request_refused: Callable[[RequestRefused], None]

    def __init__(
        self,
        context: WorkerContext,
        *,
        secure: bool,
        endpoints: tuple[tuple[str, int] | None, tuple[str, int] | None] | None = None,
    ) -> None:
        self.context = context
        self._endpoints = endpoints  # (client, server) from a PROXY header
        self.loop = context.loop
        self.secure = secure
        # Set in connection_made, before anything else can use them.
        self.driver: ConnectionDriver[_AppStream]
        self.transport: asyncio.Transport
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lingering: asyncio.TimerHandle | None = None  # closes a lingering close
        self._tls = False
        self._held: list[bytes] | None = None  # written while a file owns the socket
        self._buffer = _read_buffer()  # get_buffer / buffer_updated run on this thread
        # The driver reports each finished request straight to the worker.
        self.request_completed = context.request_completed
        self.request_refused = context.request_refused
        # Bound once, used per request (start_app).
        self._create_task = self.loop.create_task
        self._track = context.tasks.add
        self._untrack = context.tasks.discard

    # -------------------------------------------------------- asyncio's callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        alpn = None
        tls = None
        context = self.context
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = ssl_object is not None
        if ssl_object is not None:
            alpn = ssl_object.selected_alpn_protocol()
            tls = read_tls_facts(ssl_object, context.config.certfile)
        if self._endpoints is not None:
            client, server = self._endpoints
        else:
            client = address_tuple(transport.get_extra_info("peername"))
            server = address_tuple(transport.get_extra_info("sockname"))
        self.driver = ConnectionDriver(
            self,
            context,
            secure=self.secure,
            client=client,
            server=server,
            alpn=alpn,
            clock=time,
            tls=tls,
        )
        context.connection_opened(self)
        if context.shutting_down:
            self.driver.start_shutdown(time())
        else:
            self.driver.pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._lingering is not None:
            return  # closing: what the peer still sends is dropped
        driver = self.driver
        driver.bytes_received += nbytes
        driver.conn.receive_data(self._buffer[:nbytes].tobytes(), time())
        driver.pump()

    def eof_received(self) -> bool:
        if self._lingering is not None:
            return False  # the peer is done too: the transport closes
        driver = self.driver
        driver.conn.receive_data(b"", time())
        driver.pump()
        # Plain TCP: keep the transport open, a half-closed client still gets its response.
        # TLS transports close regardless, and asking for more makes asyncio warn on stderr.
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost()

    def pause_writing(self) -> None:
        self.write_paused = True
        # A peer that does not read what we send (PING / SETTINGS floods, or just
        # a stalled client) is not read either, so the write buffer stays bounded.
        if not self.driver.closing:
            self.transport.pause_reading()
            self.driver.write_blocked(time())  # response_write_timeout runs

    def resume_writing(self) -> None:
        self.write_paused = False
        self.driver.write_unblocked()
        if not self.driver.closing and not self.driver.reading_paused:
            self.transport.resume_reading()
        self._release_drain_waiters()

    # ---------------------------------------------------------- the driver's I/O
    def write(self, data: bytes) -> None:
        # is_closing(): the transport failed and connection_lost is on its way; a
        # write now would only make asyncio log "socket.send() raised exception".
        if self._held is not None:
            self._held.append(data)
            return
        transport = self.transport
        if not transport.is_closing():
            transport.write(data)

    def close(self, discard: bool = False, linger: bool = False) -> None:
        transport = self.transport
        if discard:  # the peer stopped reading: the buffers would never drain
            reset_on_close(transport.get_extra_info("socket"))
            transport.abort()
        elif linger and not self._tls and self._held is None and transport.can_write_eof():
            # FIN once the output is out, then drop what comes until the peer closes
            transport.write_eof()
            transport.resume_reading()
            self._lingering = self.loop.call_later(LINGER_TIMEOUT, transport.close)
        else:
            transport.close()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.write_paused:
            self.transport.resume_reading()

    def start_app(self, stream_id: int, scope: ASGIScope) -> _AppStream:
        stream = _AppStream(self, stream_id)
        task = self._create_task(self.driver.run_app(stream_id, scope, stream.receive, stream.send))
        stream.task = task
        self._track(task)  # cancelled at shutdown
        task.add_done_callback(self._untrack)
        return stream

    def arm_timer(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(max(deadline - time(), 0.0), self._run_timer)

    def schedule_flush(self) -> None:
        self.loop.call_soon(self.driver.flush)

    # ----------------------------------------------------------- the connection
    def _run_timer(self) -> None:
        self._timer = None
        self.driver.timer_fired(time())

    async def sendfile(self, file: BinaryIO, count: int) -> int:
        """``os.sendfile`` of the file's first ``count`` bytes, straight on the socket
        whenever the transport's own buffer is empty (so the bytes stay in order): the
        bytes sent, or 0 when this transport has no socket to send on.

        Not ``loop.sendfile``: uvloop has none, and the standard loop's waits for the
        socket inside it, where no ``response_write_timeout`` runs. Neither loop lets
        anything else wait on a transport's socket (``add_writer`` raises), so once the
        socket is full the next chunk goes through ``transport.write`` and the wait is
        for the transport to drain it: with its write limits at zero meanwhile,
        ``resume_writing`` means "empty", and ``pause_writing`` starts
        ``response_write_timeout`` as for any other body.
        """
        transport = self.transport
        if transport.is_closing():
            return count  # nothing more goes out on this connection anyway
        sock = transport.get_extra_info("socket")
        if sock is None:
            return 0
        out, source = sock.fileno(), file.fileno()
        low, high = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=0, low=0)
        self._held = []
        sent = 0
        try:
            while sent < count:
                if transport.is_closing() or self.driver.closing:
                    return count  # aborted (deadline, lost peer): nothing more goes out
                if transport.get_write_buffer_size():
                    await self.drained()
                    continue
                try:
                    written = os.sendfile(out, source, sent, count - sent)
                except BlockingIOError:
                    chunk = os.pread(source, min(FILE_CHUNK, count - sent), sent)
                    transport.write(chunk)
                    written = len(chunk)
                except OSError:
                    transport.abort()  # the peer went away mid-file: connection_lost follows
                    return count
                if not written:
                    break  # the file shrank: the body ends short, the response is cut
                sent += written
            if transport.get_write_buffer_size():
                await self.drained()
            return sent
        finally:
            if not transport.is_closing():
                transport.set_write_buffer_limits(high=high, low=low)
            held, self._held = self._held, None
            for data in held:
                self.write(data)

    async def drained(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        if self.write_paused and not self.driver.closing:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _release_drain_waiters(self) -> None:
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    def _lost(self) -> None:
        """The transport is gone: tell the core (it disconnects the apps), stop the timer."""
        if self._lingering is not None:
            self._lingering.cancel()
        self.driver.lost(time())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.write_paused = False
        self._release_drain_waiters()
        self.context.connection_closed(self)

    def start_shutdown(self) -> None:
        """Finish the current request (if any) with ``connection: close``, then close."""
        self.driver.start_shutdown(time())

    def abort(self) -> None:
        """Cancel the apps and drop the connection (graceful shutdown timed out)."""
        for stream in list(self.driver.streams.values()):
            if stream.task is not None:
                stream.task.cancel()
        self.transport.abort()


async def serve_proxied(
    context: WorkerContext, sock: socket.socket, ssl_context: ssl.SSLContext | None
) -> None:
    """Serve one accepted socket that starts with a PROXY header (TLS after the header).

    The header is read from the bare socket, before asyncio makes a transport of it,
    so the transport (and its TLS handshake) starts at the first byte after it.
    """
    loop = context.loop
    try:
        client = address_tuple(sock.getpeername())
        server = address_tuple(sock.getsockname())
    except OSError:
        sock.close()  # the peer is already gone
        return
    assert context.proxy_trust is not None
    preamble = ProxyPreamble(context.proxy_trust, client, server)
    try:
        await asyncio.wait_for(
            _read_proxy_header(loop, sock, preamble), context.config.ssl_handshake_timeout
        )
    except asyncio.TimeoutError:
        preamble.timed_out()
    except OSError:
        preamble.peeked(b"")  # reset or gone: the header is incomplete
    except BaseException:
        sock.close()
        raise
    outcome = preamble.outcome
    if not isinstance(outcome, ProxyAccepted):
        sock.close()
        if outcome is not None:
            await context.proxy_refused(outcome)
        return
    secure = ssl_context is not None
    try:
        await loop.connect_accepted_socket(
            lambda: HTTPConnection(
                context, secure=secure, endpoints=(outcome.client, outcome.server)
            ),
            sock,
            ssl=ssl_context,
            ssl_handshake_timeout=context.config.ssl_handshake_timeout if secure else None,
        )
    except (OSError, asyncio.TimeoutError):
        # A failed or stalled handshake is the peer's business (the socket is closed).
        sock.close()


async def _read_proxy_header(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, preamble: ProxyPreamble
) -> None:
    """Peek, then consume exactly what ``preamble`` says, until it has an outcome."""
    while preamble.outcome is None:
        try:
            data = sock.recv(preamble.peek_size, socket.MSG_PEEK)
        except BlockingIOError:
            await _readable(loop, sock)
            continue
        remaining = preamble.peeked(data)
        while remaining > 0:  # already in the socket's buffer: no waiting
            taken = sock.recv(remaining)
            if not taken:
                break
            remaining -= len(taken)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    waiter: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def ready() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await waiter
    finally:
        loop.remove_reader(fd)
