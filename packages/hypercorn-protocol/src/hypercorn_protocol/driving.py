"""Driving a :class:`~hypercorn_protocol.ServerConnection`: the part every driver shares.

A driver (``hypercorn_asyncio``, ``hypercorn_trio``) owns the socket, the clock and the
tasks; :class:`ConnectionDriver` owns everything else a connection does between the core
and the event loop, written once:

* after every input (bytes, the timer, an app's ``send``/``receive``, the app's end) the
  driver calls :meth:`ConnectionDriver.pump`: it drains ``next_event()``, turns each
  event into a call on the driver's :class:`ConnectionIO` (or :class:`StreamIO`, for one
  stream), takes ``data_to_send()`` and re-arms the timer when the deadline moved
  earlier (a late timer re-checks and re-arms itself, so keep-alive needs no cancel and
  reschedule per request);
* write coalescing: on an HTTP/2 connection many stream tasks produce output in the
  same loop turn, so the write (and the timer check) waits for one
  :meth:`ConnectionDriver.flush` the driver runs once the turn's tasks have run
  (:meth:`ConnectionIO.schedule_flush`): one system call for all of them, or sooner
  once the apps' sends have queued ``UNFLUSHED_LIMIT`` bytes for it (wide HTTP/2
  windows are no bound: the send must meet the driver's full buffer and wait, not
  pile bytes up in the core). HTTP/1.1 writes at once;
* which streams exist, and the app's side of each: :meth:`ConnectionDriver.run_app` is
  the coroutine a driver runs in its app task; whatever way the app ends (returns,
  raises, is cancelled) the core hears ``app_finished`` and the stream is forgotten. An
  app's exception goes to the configured logger (``config.log``: custom logger
  classes, StatsD counters). A driver cancels an app only to abort its connection, so a
  cancelled app closes the connection with nothing more written. :class:`StreamBase`
  is the loop-independent half of a driver's stream (the receive FIFO's fast path).

Sans-IO: nothing here imports an event loop, a socket or a clock. ``now`` is passed in;
:meth:`~ConnectionDriver.run_app` reads the driver's clock, given at construction, when
the app ends. The only awaits are on what the driver handed in (the app, the logger).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO, Generic, Protocol, TypeVar

from hypercorn_protocol.asgi.tls import TLSFacts
from hypercorn_protocol.connection import ServerConnection
from hypercorn_protocol.errors import RemoteProtocolError, WebSocketClosedError
from hypercorn_protocol.events import (
    AppMessage,
    CloseConnection,
    Event,
    PauseReading,
    RequestCompleted,
    RequestRefused,
    ResumeReading,
    StartApp,
    StreamWritable,
)
from hypercorn_protocol.headers import DateCache
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend, Message

#: What an app's exception is logged as.
APP_ERROR = "Error in ASGI Framework"


class StreamIO(Protocol):
    """The driver's side of one stream: its receive FIFO and its blocked ``send``."""

    def push(self, message: Message) -> None:
        """Make ``message`` what the app's next ``receive()`` returns (pending calls in order)."""

    def wake_writer(self) -> None:
        """A ``send`` waiting for flow-control window may look again (or the connection closed)."""


S = TypeVar("S", bound=StreamIO)
S_co = TypeVar("S_co", bound=StreamIO, covariant=True)


class ConnectionIO(Protocol[S_co]):
    """What a driver does for :class:`ConnectionDriver`: the whole I/O of one connection."""

    def write(self, data: bytes) -> None:
        """Send ``data`` after what was written before; never waits and is never cut short."""

    def close(self, discard: bool = False, linger: bool = False) -> None:
        """Close once what was written has gone out (bounded); nothing more is written.

        ``discard``: the peer stopped reading (``response_write_timeout``): drop what
        is unsent and abort the transport at once.
        ``linger``: the peer may still be sending: on plain TCP, shut down writing once
        the output is out, then read and drop until the peer closes or
        :data:`LINGER_TIMEOUT` passes (see ``CloseConnection``), and only then close.
        """

    def pause_reading(self) -> None:
        """Stop reading from the peer until :meth:`resume_reading`."""

    def resume_reading(self) -> None:
        """Reading may continue."""

    def start_app(self, stream_id: int, scope: ASGIScope) -> S_co:
        """Start a task running :meth:`ConnectionDriver.run_app` for a new stream; its handle."""

    def arm_timer(self, deadline: float) -> None:
        """Call :meth:`ConnectionDriver.timer_fired` at ``deadline`` (wall clock) or later."""

    def schedule_flush(self) -> None:
        """Call :meth:`ConnectionDriver.flush` once the tasks ready now have run."""

    def request_completed(self, event: RequestCompleted) -> None:
        """One exchange finished: access log, metrics, ``max_requests``."""

    def request_refused(self, event: RequestRefused) -> None:
        """A deadline or a limit refused a request (metrics count them)."""


class ConnectionMetrics(Protocol):
    """Where a connection's numbers go (``metrics_bind``: Prometheus); None when off.

    ``protocol`` is ``"h1"``, ``"h2"`` (what the connection speaks now) or ``"h3"``.
    ``transferred`` adds bytes read and written since its last call: the HTTP bytes
    (inside TLS) for h1 and h2, the UDP payloads of a QUIC connection's datagrams for h3.
    """

    def connection_opened(self, protocol: str) -> None: ...
    def connection_closed(self, protocol: str) -> None: ...
    def websocket_opened(self, protocol: str) -> None: ...
    def websocket_closed(self, protocol: str) -> None: ...
    def request_completed(self, event: RequestCompleted) -> None: ...
    def transferred(self, protocol: str, received: int, sent: int) -> None: ...
    def refused(self, reason: str) -> None: ...


#: Refusals the core answers itself without a ``RequestRefused`` (its
#: ``RemoteProtocolError.status_hint``), by metrics reason.
_STATUS_REFUSALS = {
    408: "request_timeout",
    413: "max_request_body_size",
    431: "request_header_too_large",
}


class AppErrorLog(Protocol):
    """The one logger call the app's side needs (``config.log``)."""

    def exception(self, message: str, *args: Any, **kwargs: Any) -> Awaitable[None]: ...


class DriverSettings(ProtocolSettings, Protocol):
    """The core's settings, and the logger an app's exception goes to (a ``Config``)."""

    @property
    def log(self) -> AppErrorLog: ...


class Worker(Protocol):
    """What a connection takes from its worker (the drivers' ``WorkerContext``).

    A ``metrics`` attribute (a :class:`ConnectionMetrics`, or None) is optional and
    read when present.
    """

    @property
    def app(self) -> ASGIApp: ...
    @property
    def config(self) -> DriverSettings: ...
    @property
    def lifespan_state(self) -> dict[str, Any]: ...
    @property
    def dates(self) -> DateCache: ...


class CoreConnection(Protocol):
    """What :class:`DriverBase` drives: a :class:`ServerConnection`, or an HTTP/3 connection."""

    def next_event(self) -> Event | None: ...
    def data_to_send(self) -> bytes: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def app_send(self, stream_id: int, message: Message, now: float) -> bool: ...
    def writable(self, stream_id: int) -> bool: ...
    def app_consumed(self, stream_id: int) -> None: ...
    def app_receive_waiting(self, stream_id: int, now: float) -> None: ...
    def app_finished(self, stream_id: int, exc: BaseException | None, now: float) -> None: ...
    def start_shutdown(self, now: float) -> None: ...
    def connection_lost(self, now: float) -> None: ...
    def transport_blocked(self, now: float) -> None: ...
    def transport_unblocked(self) -> None: ...
    def file_opened(self, stream_id: int, size: int, now: float) -> tuple[int, bool]: ...
    def file_data(self, stream_id: int, data: bytes, now: float) -> bool: ...
    def file_sent(self, stream_id: int, count: int) -> None: ...
    def file_done(self, stream_id: int, now: float) -> None: ...
    @property
    def http_version(self) -> str: ...


#: Bytes the apps' sends may queue for a coalesced flush before it happens at once.
UNFLUSHED_LIMIT = 64 * 1024


def _message_size(message: Message) -> int:
    data = message.get("body") or message.get("bytes") or message.get("text")
    return len(data) if data else 0


C = TypeVar("C", bound=CoreConnection)


class DriverBase(Generic[S, C]):
    """One connection's event dispatch, flushing, timer and app bookkeeping.

    Attributes:
        conn: the core; drivers give it their inputs directly, then call :meth:`pump`.
        streams: the running apps' streams, by stream id.
        clock: the driver's wall clock (``time.time``), read when an app ends.
        closing: True once nothing more is written (closed by the core, or lost).
        reading_paused: True between the core's PauseReading and ResumeReading.
        multiplexed: True once the connection speaks HTTP/2 or 3 (writes are coalesced).
        bytes_received: bytes the driver read (it adds them; reported with ``metrics``).
    """

    __slots__ = (
        "_app",
        "_config",
        "_flush_pending",
        "_io",
        "_lost",
        "_metrics",
        "_reported",
        "_timer_deadline",
        "_unflushed",
        "_websockets",
        "bytes_received",
        "bytes_sent",
        "clock",
        "closing",
        "conn",
        "multiplexed",
        "reading_paused",
        "streams",
    )

    def __init__(
        self, io: ConnectionIO[S], worker: Worker, conn: C, *, clock: Callable[[], float]
    ) -> None:
        self.conn = conn
        self._io = io
        self._app = worker.app
        self._config = worker.config
        self.clock = clock
        self.streams: dict[int, S] = {}
        self.closing = False
        self.reading_paused = False
        self.multiplexed = conn.http_version != "1.1"  # ALPN h2, or HTTP/3
        self._flush_pending = False
        self._unflushed = 0  # bytes the apps sent since the last flush (when coalescing)
        self._timer_deadline: float | None = None
        self._lost = False
        self.bytes_received = 0
        self.bytes_sent = 0
        self._reported = (0, 0)  # (received, sent) already given to metrics
        self._websockets: set[int] = set()  # stream ids of open WebSockets
        # Optional on a Worker (see there): one written before metrics existed has none.
        metrics: ConnectionMetrics | None = getattr(worker, "metrics", None)
        self._metrics = metrics
        if metrics is not None:
            metrics.connection_opened(self.protocol)

    @property
    def protocol(self) -> str:
        """``"h1"``, ``"h2"`` or ``"h3"``: the metrics' label for this connection."""
        version = self.conn.http_version
        if version == "3":
            return "h3"
        return "h2" if self.multiplexed else "h1"

    # --------------------------------------------------------------- the pump
    def pump(self, settled: bool = False) -> None:
        """Act on the core's events, then write its output (now, or once this turn ends).

        ``settled``: the input was an app's (``send``, its end), after which an HTTP/1.1
        connection that has no events and nothing to write has no earlier deadline
        either, so the timer is left alone (two of a request's four pumps).
        """
        conn = self.conn
        io = self._io
        close = False
        discard = False
        linger = False
        refused = False
        event = conn.next_event()
        if event is None and settled and not self.multiplexed:
            if not self.closing:
                data = conn.data_to_send()
                if data:
                    self.bytes_sent += len(data)
                    io.write(data)
                    if not self.closing:
                        self._arm()
            return
        while event is not None:
            if type(event) is AppMessage:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.push(event.message)
            elif type(event) is StartApp:
                if not self.multiplexed and conn.http_version == "2":
                    self._switched_to_h2()  # prior knowledge or h2c: the switch came first
                if self._metrics is not None and event.scope["type"] == "websocket":
                    self._websockets.add(event.stream_id)
                    self._metrics.websocket_opened(self.protocol)
                self.streams[event.stream_id] = io.start_app(event.stream_id, event.scope)
            elif type(event) is RequestCompleted:
                io.request_completed(event)
                if self._metrics is not None:
                    self._metrics.request_completed(event)
                    self._report_transfer()
            elif type(event) is StreamWritable:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.wake_writer()
            elif type(event) is PauseReading:
                if not self.reading_paused:
                    self.reading_paused = True
                    io.pause_reading()
            elif type(event) is ResumeReading:
                if self.reading_paused and not self.closing:
                    self.reading_paused = False
                    io.resume_reading()
            elif type(event) is CloseConnection:
                close = True
                discard = event.discard
                linger = event.linger
                if (
                    self._metrics is not None
                    and not refused
                    and isinstance(event.error, RemoteProtocolError)
                ):
                    reason = _STATUS_REFUSALS.get(event.error.status_hint)
                    if reason is not None:
                        self._metrics.refused(reason)
            elif type(event) is RequestRefused:
                refused = True  # counted here, not again by its CloseConnection
                io.request_refused(event)
            event = conn.next_event()
        if self.closing:
            return
        if close:
            data = conn.data_to_send()
            if data and not discard:
                self.bytes_sent += len(data)
                io.write(data)
            if not self.closing:  # the write may have found the transport gone
                self._close(discard, linger)
            return
        if self.multiplexed:
            if not self._flush_pending:
                self._flush_pending = True
                io.schedule_flush()
            return
        self.flush()

    def _switched_to_h2(self) -> None:
        metrics = self._metrics
        if metrics is not None:
            metrics.connection_closed("h1")
            metrics.connection_opened("h2")
        self.multiplexed = True

    def _report_transfer(self) -> None:
        metrics = self._metrics
        if metrics is not None:
            received, sent = self._reported
            metrics.transferred(
                self.protocol, self.bytes_received - received, self.bytes_sent - sent
            )
            self._reported = (self.bytes_received, self.bytes_sent)

    def _close(self, discard: bool = False, linger: bool = False) -> None:
        self.closing = True
        self._io.close(discard, linger)
        for stream in self.streams.values():
            stream.wake_writer()  # a send waiting for window finds the connection closing

    @property
    def flush_pending(self) -> bool:
        """True between :meth:`ConnectionIO.schedule_flush` and the :meth:`flush` it asked for."""
        return self._flush_pending

    def flush(self) -> None:
        """Write what the core queued and re-arm the timer if its deadline moved earlier."""
        self._flush_pending = False
        self._unflushed = 0
        conn = self.conn
        if not self.closing:
            data = conn.data_to_send()
            if data:
                self.bytes_sent += len(data)
                self._io.write(data)
        if self.closing:  # closed before, or the write found the transport gone
            return
        self._arm()

    def _arm(self) -> None:
        """Arm the timer if the core's deadline moved earlier than the armed one."""
        deadline = self.conn.get_timer()
        if deadline is not None and (
            self._timer_deadline is None or deadline < self._timer_deadline
        ):
            self._timer_deadline = deadline
            self._io.arm_timer(deadline)

    def timer_fired(self, now: float) -> None:
        """The armed deadline passed: act on it if it is still due, then pump."""
        self._timer_deadline = None
        conn = self.conn
        deadline = conn.get_timer()
        if deadline is not None and deadline <= now:
            conn.handle_timer(now)
        self.pump()

    # ------------------------------------------------------- connection-wide inputs
    def write_blocked(self, now: float) -> None:
        """The driver's send buffer is full: ``response_write_timeout`` starts to run."""
        if not self.closing:
            self.conn.transport_blocked(now)
            self._arm()

    def write_unblocked(self) -> None:
        """The send buffer drained (a late timer re-checks and finds nothing due)."""
        self.conn.transport_unblocked()

    def start_shutdown(self, now: float) -> None:
        """Finish the current request(s), then close (``connection: close`` / GOAWAY)."""
        self.conn.start_shutdown(now)
        self.pump()

    def lost(self, now: float) -> None:
        """The transport is gone (the peer, an error, or our own close): once.

        The core disconnects the apps (their ``receive()`` gets ``http.disconnect``) and
        every ``send`` waiting for window wakes up to find the connection closing.
        """
        self.closing = True
        if self._lost:
            return
        self._lost = True
        self.conn.connection_lost(now)
        self.pump()
        if self._metrics is not None:
            self._report_transfer()
            self._metrics.connection_closed(self.protocol)
        for stream in self.streams.values():
            stream.wake_writer()

    # ------------------------------------------------------------ a stream's app
    def app_send(self, stream_id: int, message: Message, now: float) -> bool:
        """The app's ``send(message)``; False when it must wait (see :meth:`waiting_for_window`)."""
        may_continue = self.conn.app_send(stream_id, message, now)
        self.pump(True)
        if self._flush_pending:
            self._unflushed += _message_size(message)
            if self._unflushed > UNFLUSHED_LIMIT:
                self.flush()  # then the driver's buffer, not the core, holds them
        return may_continue

    def app_receive_waiting(self, stream_id: int, now: float) -> None:
        """The app called ``receive()`` with nothing queued (``Expect: 100-continue``)."""
        self.conn.app_receive_waiting(stream_id, now)
        self.pump()

    def app_consumed(self, stream_id: int, count: int = 1) -> None:
        """The app's ``receive()`` took ``count`` messages from the stream's FIFO."""
        conn = self.conn
        for _ in range(count):
            conn.app_consumed(stream_id)
        if self.reading_paused or self.multiplexed:
            self.pump()  # may resume reading, or owe the peer an HTTP/2 WINDOW_UPDATE

    def file_opened(self, stream_id: int, size: int, now: float) -> tuple[int, bool]:
        """``http.response.pathsend``: the file is open; the head goes out (see the core)."""
        plan = self.conn.file_opened(stream_id, size, now)
        self.pump()
        return plan

    def file_data(self, stream_id: int, data: bytes, now: float) -> bool:
        """A chunk of the file as body; False when it must wait for window."""
        may_continue = self.conn.file_data(stream_id, data, now)
        self.pump()
        return may_continue

    def file_done(self, stream_id: int, sent: int, raw: bool, now: float) -> None:
        """The file is sent (``sent`` bytes, by the driver itself if ``raw``): end the body."""
        if raw:
            self.conn.file_sent(stream_id, sent)
        self.conn.file_done(stream_id, now)
        self.pump()

    def waiting_for_window(self, stream_id: int) -> bool:
        """True while an app's ``send`` must wait (HTTP/2 flow control, connection open)."""
        return not self.conn.writable(stream_id) and not self.closing

    # ---------------------------------------------------------------- the app
    async def run_app(
        self, stream_id: int, scope: ASGIScope, receive: ASGIReceive, send: ASGISend
    ) -> None:
        """Run the app for one stream; however it ends, the core hears ``app_finished``.

        An app's task is cancelled only when its connection is aborted (graceful shutdown
        timed out): then nothing more is written, the connection closes.
        """
        exc: BaseException | None = None
        cancelled = False
        try:
            await self._app(scope, receive, send)
        except WebSocketClosedError:
            pass  # the app sent after its WebSocket closed: ASGI says that is not an error
        except Exception as error:
            exc = error
            await self._config.log.exception(APP_ERROR)
        except BaseException:
            cancelled = True
            raise
        finally:
            del self.streams[stream_id]
            if stream_id in self._websockets:
                self._websockets.discard(stream_id)
                if self._metrics is not None:
                    self._metrics.websocket_closed(self.protocol)
            if cancelled and not self.closing:
                self._close()
            self.conn.app_finished(stream_id, exc, self.clock())
            self.pump(True)


class ConnectionDriver(DriverBase[S, ServerConnection]):
    """The driver of one TCP (or unix) connection: HTTP/1.1 or HTTP/2."""

    __slots__ = ()

    def __init__(
        self,
        io: ConnectionIO[S],
        worker: Worker,
        *,
        secure: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        alpn: str | None,
        clock: Callable[[], float],
        tls: TLSFacts | None = None,
    ) -> None:
        conn = ServerConnection(
            worker.config,
            client=client,
            server=server,
            scheme="https" if secure else "http",
            now=clock(),
            alpn=alpn,
            state=worker.lifespan_state,
            dates=worker.dates,
            tls=tls,
        )
        super().__init__(io, worker, conn, clock=clock)


#: The longest a lingering close (``CloseConnection.linger``) reads and drops what the
#: peer still sends before closing anyway: long enough for a client to finish sending
#: a small body and read the answer, short enough not to hold a shutdown (nginx's
#: ``lingering_timeout`` is 5 s between reads).
LINGER_TIMEOUT = 2.0

#: How much of a file one read takes (``http.response.pathsend`` without ``sendfile``):
#: the memory a file being sent holds, per stream.
FILE_CHUNK = 64 * 1024


def _join_bodies(first: Message, queue: deque[Message]) -> tuple[Message, int]:
    """``first`` and the ``http.request`` messages right behind it in ``queue`` as one
    message (taken off the queue), and how many messages that was."""
    bodies = [first.get("body", b"")]
    more = True
    while more and queue and queue[0]["type"] == "http.request":
        message = queue.popleft()
        bodies.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    return {"type": "http.request", "body": b"".join(bodies), "more_body": more}, len(bodies)


class StreamBase:
    """The loop-independent half of a driver's stream: its receive FIFO, and files.

    A driver's stream subclasses it, adding how a ``receive()`` with nothing queued
    waits (:meth:`_wait`), what :meth:`StreamIO.push` does for a waiting call, how a
    ``send`` waits for flow-control window (:meth:`_window`) and ``send`` itself (its
    backpressure from the socket is the driver's). Apps
    may call ``receive()`` again while a call is pending (Starlette listens for
    ``http.disconnect`` in one task while another reads): pending calls are served
    first come, first served.
    """

    __slots__ = ("_driver", "queue", "stream_id")

    def __init__(self, driver: DriverBase[Any, Any], stream_id: int) -> None:
        self._driver = driver
        self.stream_id = stream_id
        self.queue: deque[Message] = deque()

    async def receive(self) -> Message:
        """The app's ``receive()``.

        Request body messages queued behind one another are handed over as one (their
        bodies joined, the last one's ``more_body``): an app that fell behind catches up
        in one call instead of one call per packet or frame (HTTP/3 delivers a body in
        pieces of about a kilobyte, each a message). What is joined was queued already,
        so this holds no more than the queue did, and each joined message counts as
        consumed (its flow-control window goes back to the peer).
        """
        driver = self._driver
        queue = self.queue
        if not queue:
            driver.app_receive_waiting(self.stream_id, driver.clock())
            message = await self._wait()
            driver.app_consumed(self.stream_id)
            return message
        message = queue.popleft()
        count = 1
        if queue and message.get("more_body") and message["type"] == "http.request":
            message, count = _join_bodies(message, queue)
        driver.app_consumed(self.stream_id, count)
        return message

    async def _wait(self) -> Message:
        """Wait for the message :meth:`StreamIO.push` hands to this call."""
        raise NotImplementedError

    async def _wait_for_window(self) -> None:
        """HTTP/2: the stream's buffer is full; wait for window, not for the socket."""
        driver = self._driver
        while driver.waiting_for_window(self.stream_id):
            await self._window()

    async def _window(self) -> None:
        """Wait until :meth:`StreamIO.wake_writer` (or a cancellation)."""
        raise NotImplementedError

    # ------------------------------------------------------ http.response.pathsend
    async def _send_path(self, path: str) -> None:
        """Send the file of an accepted ``http.response.pathsend``, then return.

        The core says how many bytes and whether they may bypass the protocol; the
        driver's hooks do the I/O. Where ``sendfile`` is not allowed or not available
        (TLS, HTTP/2) the file goes through the read loop, one bounded chunk at a time, each
        waiting for the socket and flow control as an app's body would. An error opening the file
        raises into the app (a 500, its head is not out yet). The app's ``send``
        returns once the file is handed over, as a last ``http.response.body`` would.
        """
        driver = self._driver
        stream_id = self.stream_id
        file, size = await self._open_file(path)
        try:
            count, raw = driver.file_opened(stream_id, size, driver.clock())
            sent = 0
            if raw:
                await self._drain()
                # Short only if the connection failed: the body ends short, cut.
                sent = await self._sendfile(file, count)
                raw = sent > 0  # 0: this transport cannot; the read loop does it all
            if not raw:
                file.seek(0)
                conn = driver.conn
                while sent < count and conn.sending_file(stream_id):
                    chunk = await self._read_file(file, min(FILE_CHUNK, count - sent))
                    if not chunk:
                        break  # the file shrank: the body ends short, the response is cut
                    sent += len(chunk)
                    if not driver.file_data(stream_id, chunk, driver.clock()):
                        await self._wait_for_window()
                    await self._drain()
            driver.file_done(stream_id, sent, raw, driver.clock())
        finally:
            file.close()

    async def _open_file(self, path: str) -> tuple[BinaryIO, int]:
        """Open ``path`` for reading: the file and its size (raises OSError)."""
        raise NotImplementedError

    async def _read_file(self, file: BinaryIO, size: int) -> bytes:
        """Read up to ``size`` bytes without blocking the loop."""
        raise NotImplementedError

    async def _sendfile(self, file: BinaryIO, count: int) -> int:
        """Send ``count`` bytes of ``file`` from its start with ``os.sendfile``, past the
        core: how many went out (0 when the transport cannot)."""
        raise NotImplementedError

    async def _drain(self) -> None:
        """Wait while the connection has too much unsent (the socket's backpressure)."""
        raise NotImplementedError


__all__ = [
    "APP_ERROR",
    "FILE_CHUNK",
    "LINGER_TIMEOUT",
    "AppErrorLog",
    "ConnectionDriver",
    "ConnectionMetrics",
    "ConnectionIO",
    "CoreConnection",
    "DriverBase",
    "DriverSettings",
    "StreamBase",
    "StreamIO",
    "Worker",
]
