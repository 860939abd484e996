"""One TCP (or TLS, or unix) connection: a trio task around a ServerConnection.

Everything HTTP happens in the sans-IO core, and the event dispatch, the write
coalescing, the timer and the app's side of each stream in
:class:`hypercorn_protocol.driving.ConnectionDriver`; this module only implements its
I/O interface with trio. Whatever task gives the core an input (the reader, the timer,
an app's ``send``/``receive``) then pumps the driver, which never awaits, so it cannot
be cancelled halfway. Mirrors ``hypercorn_asyncio._tcp``: the same classes and methods,
each doing the same job.

Writes belong to the connection, never to an app's task: anyio and Starlette cancel an
app's tasks as soon as its response is queued, and a cancelled ``SSLStream.send_all``
breaks TLS for every stream of the connection. The connection's writer task sends what
the pumps queued, joined into one ``send_all``, and runs the HTTP/2 flushes the driver
defers to the end of a turn. On a plain socket a write first tries the non-blocking
``send`` itself when nothing is queued (the common case: no task switch).
An app's ``send`` and the reader wait while more than ``_HIGH_WATER`` bytes are unsent,
so a client that does not read cannot make the server buffer without bound.

Tasks per connection: the connection task (reads, then closes the stream), the writer,
one timer task, and one task per running app; all in the connection's own nursery,
inside the worker's nursery, so cancelling the worker's nursery aborts everything.
"""

from __future__ import annotations

import errno
import math
import os
import socket
import ssl
from collections.abc import Callable
from time import time
from typing import TYPE_CHECKING, BinaryIO

import trio
from hypercorn_protocol.asgi.tls import TLSFacts
from hypercorn_protocol.driving import LINGER_TIMEOUT, ConnectionDriver
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.proxy import ProxyAccepted, ProxyPreamble, ProxyRefused
from hypercorn_protocol.server.binding import address_tuple, reset_on_close
from hypercorn_protocol.server.files import open_file
from hypercorn_protocol.server.tls_facts import read_tls_facts
from hypercorn_protocol.typing import ASGIScope, Message
from hypercorn_trio._stream import TrioStream

if TYPE_CHECKING:
    from hypercorn_trio._context import WorkerContext

READ_SIZE = 65536
# A TLS close_notify must not keep a dead connection around.
_CLOSE_TIMEOUT = 5.0
_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)
# Unsent bytes above which an app's send() and the reader wait for the writer.
_HIGH_WATER = 65536


class _PlainStream:
    """A plain socket, driven directly: the syscall first, waiting only on EAGAIN.

    ``trio.SocketStream`` passes through the scheduler after every successful call; on
    the hot path (one read, one write per request) that doubles the task switches.
    Here a read that had to wait, or a write the kernel took at once, returns straight
    away; a read that succeeded without waiting, and every 16th unblocked write, still
    yield, so a flooding peer or a streaming app cannot starve the other tasks.
    """

    __slots__ = ("_sock", "_writes")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._writes = 0

    @property
    def socket(self) -> socket.socket:
        return self._sock

    async def receive_some(self, max_bytes: int) -> bytes:
        sock = self._sock
        try:
            data = sock.recv(max_bytes)
        except BlockingIOError:
            pass
        except OSError as error:
            raise _transport_error(error) from error
        else:
            await trio.lowlevel.checkpoint()
            return data
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                continue
            except OSError as error:
                raise _transport_error(error) from error

    async def send_all(self, data: bytes) -> None:
        sock = self._sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            raise _transport_error(error) from error
        if sent == len(data):
            self._writes += 1
            if self._writes >= 16:
                self._writes = 0
                await trio.lowlevel.checkpoint()
            return
        self._writes = 0
        view = memoryview(data)
        while sent < len(data):
            await trio.lowlevel.wait_writable(sock)
            try:
                sent += sock.send(view[sent:])
            except BlockingIOError:
                continue
            except OSError as error:
                raise _transport_error(error) from error

    async def sendfile(self, file: BinaryIO, count: int, waiting: Callable[[bool], None]) -> int:
        """``os.sendfile`` the first ``count`` bytes of ``file``: how many went out.

        ``waiting(True)`` when the socket is full and the send waits for the peer (so
        ``response_write_timeout`` runs), ``waiting(False)`` once it can go on.
        """
        sock = self._sock
        fd = file.fileno()
        sent = 0
        while sent < count:
            try:
                done = os.sendfile(sock.fileno(), fd, sent, count - sent)
            except BlockingIOError:
                waiting(True)
                await trio.lowlevel.wait_writable(sock)
                waiting(False)
                continue
            except OSError as error:
                raise _transport_error(error) from error
            if done == 0:
                break  # the file is shorter than it was
            sent += done
            await trio.lowlevel.checkpoint()  # the other tasks run between chunks
        return sent

    def send_now(self, data: bytes) -> int:
        """Send what the kernel takes at once, without waiting: the number of bytes sent."""
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0
        except OSError as error:
            raise _transport_error(error) from error

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)  # wakes a task waiting on it
            self._sock.close()


def _transport_error(error: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    if error.errno == errno.EBADF:
        return trio.ClosedResourceError("the socket was closed")
    return trio.BrokenResourceError(str(error))


class _AppStream(TrioStream):
    """One TCP stream's app side; ``send`` waits for the writer and may sendfile."""

    __slots__ = ("_connection", "_sends")

    def __init__(self, connection: HTTPConnection, stream_id: int) -> None:
        TrioStream.__init__(self, connection.driver, stream_id)
        self._connection = connection
        self._sends = 0

    async def send(self, message: Message) -> None:
        if not self._driver.app_send(self.stream_id, message, time()):
            await self._wait_for_window()
        if message["type"] == "http.response.pathsend":
            await self._send_path(message["path"])
            return
        connection = self._connection
        if connection.unsent > _HIGH_WATER:
            await connection.drained()
        else:
            # The data is handed over already; this only keeps a streaming app from
            # starving the other tasks while the socket takes everything at once.
            self._sends += 1
            if self._sends >= 16:
                self._sends = 0
                await trio.lowlevel.checkpoint()

    async def _drain(self) -> None:
        connection = self._connection
        if connection.unsent > _HIGH_WATER:
            await connection.drained()

    async def _open_file(self, path: str) -> tuple[BinaryIO, int]:
        return open_file(path)

    async def _read_file(self, file: BinaryIO, size: int) -> bytes:
        return await trio.to_thread.run_sync(file.read, size)

    async def _sendfile(self, file: BinaryIO, count: int) -> int:
        return await self._connection.sendfile(file, count)


class HTTPConnection:
    """Serves one client connection: trio's tasks for it, and the driver's I/O."""

    request_completed: Callable[[RequestCompleted], None]
    request_refused: Callable[[RequestRefused], None]

    def __init__(
        self,
        context: WorkerContext,
        stream: trio.abc.Stream | _PlainStream,
        *,
        secure: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        alpn: str | None,
        tls: TLSFacts | None = None,
    ) -> None:
        self.context = context
        self.stream = stream
        self.driver = ConnectionDriver(
            self,
            context,
            secure=secure,
            client=client,
            server=server,
            alpn=alpn,
            clock=time,
            tls=tls,
        )
        self._resume: trio.Event | None = None
        self._plain = stream if isinstance(stream, _PlainStream) else None
        self._outbox: list[bytes] = []  # taken from the core, not yet handed to the writer
        self.unsent = 0  # bytes in the outbox or in the writer's send_all
        self._writing = False
        self._wake_writer: trio.Event | None = None
        self._drained: trio.Event | None = None
        self._writer_scope = trio.CancelScope()
        self._broken = False
        self._blocked = False  # more than _HIGH_WATER unsent: the peer is not reading
        self._nursery: trio.Nursery | None = None
        self._read_scope = trio.CancelScope()
        self._timer_scope = trio.CancelScope()
        self._timer_at = math.inf  # the armed deadline on trio's clock
        self._closed = trio.Event()
        self._linger = False  # the core asked for a lingering close (CloseConnection.linger)
        # The driver reports each finished request straight to the worker.
        self.request_completed = context.request_completed
        self.request_refused = context.request_refused

    # ------------------------------------------------------------ trio's tasks
    async def run(self) -> None:
        """Serve until the core closes the connection or the peer goes away."""
        context = self.context
        driver = self.driver
        context.connection_opened(self)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._run_writer)
                if context.shutting_down:
                    driver.start_shutdown(time())
                else:
                    driver.pump()
                if not driver.closing:
                    nursery.start_soon(self._run_timer)
                with self._read_scope:
                    await self._read()
                # Reading is over (closing, or the peer half-closed and still gets
                # its response); the socket stays open until the core says so and
                # the writer has sent what was queued.
                await self._closed.wait()
                if self._linger and self._plain is not None and not self._broken:
                    await self._linger_close(self._plain)
                with trio.move_on_after(_CLOSE_TIMEOUT):
                    try:
                        await self.stream.aclose()  # TLS: close_notify, bounded
                    except _TRANSPORT_ERRORS:
                        pass
                # Closed as far as the worker is concerned (as with asyncio, where the
                # transport's close ends it); apps still running get http.disconnect
                # and return on their own, or are cancelled at shutdown.
                self._lost()
        finally:
            self._lost()
            if isinstance(self.stream, _PlainStream):
                self.stream.close()
            else:
                await trio.aclose_forcefully(self.stream)

    async def _read(self) -> None:
        driver = self.driver
        conn = driver.conn
        stream = self.stream
        while not driver.closing:
            if driver.reading_paused:
                self._resume = trio.Event()
                await self._resume.wait()
                continue
            try:
                data = await stream.receive_some(READ_SIZE)
            except _TRANSPORT_ERRORS:
                self._lost()
                return
            if type(data) is not bytes:
                data = bytes(data)  # TLS hands out bytearrays
            driver.bytes_received += len(data)
            conn.receive_data(data, time())
            driver.pump()
            if not data:
                return
            if self.unsent > _HIGH_WATER:
                # A peer that does not read what we send (PING / SETTINGS floods, or a
                # stalled client) is not read either, so the outbox stays bounded.
                await self.drained()

    async def _linger_close(self, plain: _PlainStream) -> None:
        """FIN, then read and drop what the peer still sends until it closes (bounded)."""
        try:
            plain.socket.shutdown(socket.SHUT_WR)
        except OSError:
            return  # already gone
        with trio.move_on_after(LINGER_TIMEOUT):
            try:
                while await plain.receive_some(READ_SIZE):
                    pass
            except _TRANSPORT_ERRORS:
                pass

    async def _run_timer(self) -> None:
        closed = self._closed
        while not closed.is_set():
            with trio.CancelScope(deadline=self._timer_at) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            if closed.is_set():
                return
            self._timer_at = math.inf
            self.driver.timer_fired(time())

    async def _run_writer(self) -> None:
        """The connection's only writer: sends the outbox until the connection closes."""
        driver = self.driver
        outbox = self._outbox
        try:
            with self._writer_scope:
                while not self._broken:
                    if driver.flush_pending:
                        driver.flush()  # HTTP/2: what this turn's tasks queued, at once
                        continue
                    if not outbox:
                        if driver.closing:
                            return
                        self._wake_writer = wake = trio.Event()
                        await wake.wait()
                        continue
                    data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
                    outbox.clear()
                    self._writing = True
                    try:
                        await self.stream.send_all(data)
                    except _TRANSPORT_ERRORS:
                        self._lost()
                        return
                    finally:
                        self._writing = False
                    self.unsent -= len(data)
                    if self.unsent <= _HIGH_WATER:
                        if self._blocked:
                            self._blocked = False
                            driver.write_unblocked()
                        self._release_drain_waiters()
        finally:
            self._wake_writer = None
            self._release_drain_waiters()
            self._closed.set()

    # ---------------------------------------------------------- the driver's I/O
    def write(self, data: bytes) -> None:
        plain = self._plain
        if plain is not None and not self._outbox and not self._writing:
            # Nothing ahead of these bytes: a non-blocking send cannot reorder or cut them.
            try:
                sent = plain.send_now(data)
            except _TRANSPORT_ERRORS:
                self._lost()
                return
            if sent == len(data):
                return
            data = data[sent:]
        self._outbox.append(data)
        self.unsent += len(data)
        if self.unsent > _HIGH_WATER and not self._blocked:
            self._blocked = True
            self.driver.write_blocked(time())  # response_write_timeout runs
        if self._wake_writer is not None:
            self._wake_writer.set()

    def close(self, discard: bool = False, linger: bool = False) -> None:
        """Stop reading and timing; the writer sends what is queued (bounded), then ends.

        ``discard``: the peer stopped reading; the writer drops what is queued at once.
        ``linger``: then, on plain TCP, half-close and drop what comes (``run``).
        """
        self._linger = linger and not discard
        self._read_scope.cancel()
        if discard:  # the peer stopped reading: the buffers would never drain
            self._outbox.clear()
            self._writer_scope.cancel()
            stream = self.stream
            if isinstance(stream, _PlainStream):
                reset_on_close(stream.socket)
            else:
                reset_on_close(getattr(getattr(stream, "transport_stream", None), "socket", None))
        self._timer_scope.cancel()
        if self._resume is not None:
            self._resume.set()
        self._release_drain_waiters()
        # A peer that stopped reading must not keep a closing connection around.
        self._writer_scope.deadline = min(
            self._writer_scope.deadline, trio.current_time() + _CLOSE_TIMEOUT
        )
        if self._wake_writer is not None:
            self._wake_writer.set()

    def pause_reading(self) -> None:
        pass  # the reader looks at driver.reading_paused before each read

    def resume_reading(self) -> None:
        if self._resume is not None:
            self._resume.set()
            self._resume = None

    def start_app(self, stream_id: int, scope: ASGIScope) -> _AppStream:
        stream = _AppStream(self, stream_id)
        assert self._nursery is not None
        self._nursery.start_soon(self.driver.run_app, stream_id, scope, stream.receive, stream.send)
        return stream

    def arm_timer(self, deadline: float) -> None:
        self._timer_at = trio.current_time() + max(deadline - time(), 0.0)
        self._timer_scope.deadline = self._timer_at

    def schedule_flush(self) -> None:
        if self._wake_writer is not None:
            self._wake_writer.set()  # the writer runs once the tasks ready now have run

    # ----------------------------------------------------------- the connection
    async def drained(self) -> None:
        """Wait until no more than ``_HIGH_WATER`` bytes are left unsent (or closing)."""
        while self.unsent > _HIGH_WATER and not self.driver.closing:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()

    async def sendfile(self, file: BinaryIO, count: int) -> int:
        """Send ``count`` bytes of ``file`` with ``os.sendfile`` once all queued output
        is out: the bytes sent, or 0 under TLS (encrypted in user space)."""
        plain = self._plain
        if plain is None:
            return 0
        while (self.unsent or self._writing) and not self.driver.closing:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()
        if self.driver.closing:
            return count  # nothing more goes out on this connection anyway
        try:
            return await plain.sendfile(file, count, self._sendfile_waiting)
        except _TRANSPORT_ERRORS:
            self._lost()  # the peer went away mid-file
            return count

    def _sendfile_waiting(self, waiting: bool) -> None:
        """A file's socket is full (``response_write_timeout`` runs), or writable again."""
        if waiting:
            self.driver.write_blocked(time())
        else:
            self.driver.write_unblocked()

    def _release_drain_waiters(self) -> None:
        if self._drained is not None:
            self._drained.set()
            self._drained = None

    def _lost(self) -> None:
        """The transport is gone: tell the core (it disconnects the apps), stop everything."""
        if self._broken:
            return
        self._broken = True
        self._outbox.clear()
        self.unsent = 0
        self.driver.lost(time())
        self.close()
        self._writer_scope.cancel()  # nothing more can be sent
        self.context.connection_closed(self)

    def start_shutdown(self) -> None:
        """Finish the current request (if any) with ``connection: close``, then close."""
        self.driver.start_shutdown(time())

    def abort(self) -> None:
        """Cancel the apps and drop the connection (graceful shutdown timed out)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()


async def serve_connection(
    context: WorkerContext, sock: trio.socket.SocketType, ssl_context: ssl.SSLContext | None
) -> None:
    """Serve one accepted socket (TLS handshake first when ``ssl_context`` is given)."""
    client = server = None
    try:
        client = address_tuple(sock.getpeername())
        server = address_tuple(sock.getsockname())
    except OSError:
        pass  # the peer is already gone; the first read will say so
    if context.proxy_trust is not None:
        outcome = await _read_proxy_header(context, sock, client, server)
        if isinstance(outcome, ProxyRefused):
            sock.close()
            await context.proxy_refused(outcome)
            return
        client, server = outcome.client, outcome.server
    stream: trio.abc.Stream | _PlainStream
    alpn = None
    tls_facts = None
    if ssl_context is None:
        plain = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        plain.setblocking(False)
        if plain.family != socket.AF_UNIX:
            plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = _PlainStream(plain)
    else:
        tls = trio.SSLStream(
            trio.SocketStream(sock), ssl_context, server_side=True, https_compatible=True
        )
        stream = tls
        try:
            with trio.fail_after(context.config.ssl_handshake_timeout):
                await tls.do_handshake()
        except (trio.TooSlowError, *_TRANSPORT_ERRORS):
            # A failed or stalled handshake is the peer's business, not the operator's.
            await trio.aclose_forcefully(stream)
            return
        alpn = tls.selected_alpn_protocol()
        tls_facts = read_tls_facts(tls, context.config.certfile)
    connection = HTTPConnection(
        context,
        stream,
        secure=ssl_context is not None,
        client=client,
        server=server,
        alpn=alpn,
        tls=tls_facts,
    )
    try:
        await connection.run()
    except Exception:
        await context.config.log.exception("Error serving a connection")


async def _read_proxy_header(
    context: WorkerContext,
    sock: trio.socket.SocketType,
    client: tuple[str, int] | None,
    server: tuple[str, int] | None,
) -> ProxyAccepted | ProxyRefused:
    """The PROXY header, peeked then consumed exactly (``ProxyPreamble``), bounded in time."""
    assert context.proxy_trust is not None
    preamble = ProxyPreamble(context.proxy_trust, client, server)
    with trio.move_on_after(context.config.ssl_handshake_timeout):
        try:
            while preamble.outcome is None:
                data = await sock.recv(preamble.peek_size, socket.MSG_PEEK)
                remaining = preamble.peeked(data)
                while remaining > 0:  # already in the socket's buffer: no waiting
                    taken = await sock.recv(remaining)
                    if not taken:
                        break
                    remaining -= len(taken)
        except OSError:
            preamble.peeked(b"")  # reset or gone: the header is incomplete
    preamble.timed_out()  # no-op once decided
    assert preamble.outcome is not None
    return preamble.outcome
