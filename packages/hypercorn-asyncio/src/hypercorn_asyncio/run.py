"""Running one worker: lifespan, listeners, serving, graceful shutdown.

Shutdown order (the same whatever triggered it: a signal, the caller's
``shutdown_trigger``, the supervisor's event, or ``max_requests``):

1. stop accepting: every listener is closed at once, so new connections are
   refused rather than left waiting in a backlog;
2. every connection is told to finish: idle ones close now, busy ones after their
   current response (``connection: close``);
3. wait up to ``graceful_timeout`` for them; whatever is left is aborted and its
   app tasks cancelled (``Server.wait_closed`` is never awaited: on Python 3.12+ it
   waits for every connection and would defeat the timeout);
4. lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from hypercorn_asyncio._context import WorkerContext
from hypercorn_asyncio._lifespan import Lifespan
from hypercorn_asyncio._tcp import HTTPConnection, serve_proxied
from hypercorn_protocol.apps.loading import AppWrapper, load_application
from hypercorn_protocol.apps.wsgi import WSGIWrapper
from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets, describe_bind
from hypercorn_protocol.server.metrics import worker_metrics
from hypercorn_protocol.worker import (
    SHUTDOWN_SIGNALS,
    STOP_POLL_INTERVAL,
    WORKER_SHUTDOWN_SIGNALS,
    DrainingHook,
    ReadyHook,
    StopEvent,
    WorkerReports,
)

if TYPE_CHECKING:
    import ssl

    from hypercorn_asyncio._quic import QuicSocket
    from hypercorn_protocol.typing import ASGIApp

ShutdownTrigger = Callable[[], Awaitable[object]]
BoundCallback = Callable[[list[str]], object]

_ACCEPT_SETTLE = 0.05  # seconds; see _shutdown
_ACCEPT_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_ACCEPT_PEER_ERRORS = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM}
_ACCEPT_RETRY = 0.1  # seconds after a resource error


async def worker_serve(
    app: AppWrapper,
    config: Config,
    *,
    sockets: Sockets | None = None,
    shutdown_trigger: ShutdownTrigger | None = None,
    on_bound: BoundCallback | None = None,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns (or a signal, without one).

    Args:
        app: the loaded application (see ``hypercorn_protocol.apps.loading``).
        config: the configuration.
        sockets: listening sockets made earlier (the supervisor's); made here when None.
        shutdown_trigger: awaited; when it returns the worker shuts down gracefully.
            Without one, SIGINT and SIGTERM trigger the shutdown.
        on_bound: called with the bound addresses (``"http://127.0.0.1:8000"``, ...)
            once the server accepts connections; the way to learn an ephemeral port.
    """
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_exception_handler)
    config.log  # noqa: B018  (creating the Logger configures hypercorn.error / .access)
    if isinstance(app, WSGIWrapper):
        # WSGI apps only: the bridge and its thread pool
        from hypercorn_asyncio.wsgi import AsyncioWSGIApp

        asgi_app: ASGIApp = AsyncioWSGIApp(app)
    else:
        asgi_app = app.app
    metrics, endpoint = worker_metrics(config)
    context = WorkerContext(asgi_app, config, loop, metrics)
    try:
        if endpoint is not None:
            await config.log.info("Serving metrics on %s", endpoint.url)
        await _serve(app, context, sockets, shutdown_trigger or _signal_trigger, on_bound)
    finally:
        if endpoint is not None:
            endpoint.close()


async def _serve(
    app: AppWrapper,
    context: WorkerContext,
    sockets: Sockets | None,
    shutdown_trigger: ShutdownTrigger,
    on_bound: BoundCallback | None,
) -> None:
    # The trigger runs from the start, so a signal that arrives during lifespan startup
    # (its handler is installed by then) drains the server instead of killing it.
    triggered = asyncio.ensure_future(shutdown_trigger())
    await asyncio.sleep(0)  # let the trigger start (install its signal handlers)
    try:
        await _serve_started(app, context, sockets, lambda: triggered, on_bound)
    finally:
        if not triggered.done():
            triggered.cancel()
            await asyncio.gather(triggered, return_exceptions=True)


async def _serve_started(
    app: AppWrapper,
    context: WorkerContext,
    sockets: Sockets | None,
    shutdown_trigger: ShutdownTrigger,
    on_bound: BoundCallback | None,
) -> None:
    loop = context.loop
    config = context.config
    lifespan: Lifespan | None = None
    if not isinstance(app, WSGIWrapper):
        lifespan = Lifespan(app.app, config, context.lifespan_state)
        await lifespan.startup()

    servers: list[asyncio.Server] = []
    accepting: list[asyncio.Task[None]] = []
    quic: list[QuicSocket] = []
    try:
        if sockets is None:
            sockets = config.create_sockets()
        ssl_context = config.create_ssl_context()
        binds: list[str] = []
        for sock, secure in [(s, True) for s in sockets.secure_sockets] + [
            (s, False) for s in sockets.insecure_sockets
        ]:
            binds.append(describe_bind(sock, secure))
            if context.proxy_trust is not None:
                # The PROXY header comes before TLS: accept here, read it, then TLS.
                sock.setblocking(False)
                accepting.append(
                    loop.create_task(_accept(context, sock, ssl_context if secure else None))
                )
                continue
            server = await loop.create_server(
                lambda secure=secure: HTTPConnection(context, secure=secure),
                sock=sock,
                ssl=ssl_context if secure else None,
                backlog=config.backlog,
                ssl_handshake_timeout=config.ssl_handshake_timeout if secure else None,
            )
            servers.append(server)
        quic = await _serve_quic(context, sockets)
        for bind in binds:
            await config.log.info("Running on %s (CTRL + C to quit)", bind)
        for sock in sockets.quic_sockets:
            await config.log.info("Running on %s (QUIC)", describe_bind(sock, True))
        if on_bound is not None:
            on_bound(binds)

        await _first_of(shutdown_trigger, context.terminate.wait)
    finally:
        await _shutdown(context, servers, accepting, quic)
        if lifespan is not None:
            await lifespan.shutdown()


async def _serve_quic(context: WorkerContext, sockets: Sockets) -> list[QuicSocket]:
    """HTTP/3 on each ``quic_bind`` socket, advertised by Alt-Svc on the TCP responses."""
    if not sockets.quic_sockets:
        return []
    # aioquic and the HTTP/3 stack are imported only when a QUIC socket is bound.
    from hypercorn_asyncio._quic import QuicSocket
    from hypercorn_protocol.server.quic import build_quic_configuration

    config = context.config
    configuration = build_quic_configuration(config)
    config.advertise_quic(sockets.quic_sockets)
    quic = []
    for sock in sockets.quic_sockets:
        factory = functools.partial(QuicSocket, context, configuration, sock)
        _, protocol = await context.loop.create_datagram_endpoint(factory, sock=sock)
        quic.append(protocol)
    return quic


async def _first_of(*triggers: ShutdownTrigger) -> None:
    """Return when the first trigger does; a failing trigger stops the server with its error."""
    tasks = [asyncio.ensure_future(trigger()) for trigger in triggers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _accept(
    context: WorkerContext, listener: socket.socket, ssl_context: ssl.SSLContext | None
) -> None:
    """Accept connections that start with a PROXY header (see ``serve_proxied``)."""
    loop = context.loop
    try:
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as error:
                if error.errno in _ACCEPT_PEER_ERRORS:
                    continue
                if error.errno in _ACCEPT_RESOURCE_ERRORS:
                    await context.config.log.error(
                        "accept() failed (%s); retrying in 100 ms", error
                    )
                    await asyncio.sleep(_ACCEPT_RETRY)
                    continue
                raise
            sock.setblocking(False)
            context.start_soon(serve_proxied(context, sock, ssl_context))
    finally:
        listener.close()  # as asyncio.Server.close() does for the other listeners


async def _shutdown(
    context: WorkerContext,
    servers: list[asyncio.Server],
    accepting: list[asyncio.Task[None]],
    quic: list[QuicSocket] | None = None,
) -> None:
    context.shutting_down = True
    quic = quic or []
    for endpoint in quic:
        endpoint.start_shutdown()  # GOAWAY now; the TCP connections drain meanwhile
    loop = asyncio.get_running_loop()
    for task in accepting:
        task.cancel()
    await asyncio.gather(*accepting, return_exceptions=True)
    # Stop accepting before closing: asyncio makes the transport of an accepted socket
    # in a later task, which fails (silently, closing the socket with its request
    # unread: a reset) if Server.close() ran in between. So accepting stops first,
    # pending accepts settle into connections, and only then do the servers close.
    for server in servers:
        for sock in server.sockets:
            with contextlib.suppress(NotImplementedError, ValueError, OSError):
                loop.remove_reader(sock.fileno())
    await asyncio.sleep(_ACCEPT_SETTLE)
    for server in servers:
        server.close()
    for connection in list(context.connections):
        connection.start_shutdown()
    # asyncio accepts a socket and only later (a task, then a callback) calls
    # connection_made: a connection accepted just before close() can appear after
    # the count above. Done means a settle period passed with no connection at all.
    deadline = loop.time() + context.config.graceful_timeout
    while True:
        try:
            await asyncio.wait_for(context.all_closed.wait(), max(deadline - loop.time(), 0))
        except asyncio.TimeoutError:
            await context.config.log.warning(
                "Graceful shutdown timed out after %ss; closing %d connection(s)",
                context.config.graceful_timeout,
                len(context.connections),
            )
            break
        await asyncio.sleep(_ACCEPT_SETTLE)
        if not context.connections or loop.time() >= deadline:
            break
    if quic:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(endpoint.wait_idle() for endpoint in quic)),
                max(deadline - loop.time(), 0),
            )
    for endpoint in quic:
        await endpoint.close()
    for connection in list(context.connections):
        connection.abort()
    tasks = list(context.tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


class ReloadTrigger:
    """A shutdown trigger that also fires when the program's source files change."""

    def __init__(self, shutdown_trigger: ShutdownTrigger | None) -> None:
        self._trigger = shutdown_trigger
        self.requested = False

    async def wait(self) -> None:
        await _first_of(self._trigger or _signal_trigger, self._watch)

    async def _watch(self) -> None:
        from hypercorn_protocol.server.reloading import POLL_INTERVAL, ProgramReloader

        reloader = ProgramReloader()
        try:
            while not reloader.poll():
                await asyncio.sleep(POLL_INTERVAL)
        finally:
            reloader.close()
        self.requested = True


async def _signal_trigger(names: tuple[str, ...] = SHUTDOWN_SIGNALS) -> None:
    """Return on SIGINT or SIGTERM (or the given signals)."""
    loop = asyncio.get_running_loop()
    received = asyncio.Event()
    for name in names:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            loop.add_signal_handler(signum, received.set)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows, or not the main thread: fall back to the plain handler when possible.
            if threading.current_thread() is threading.main_thread():
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(received.set))
    await received.wait()


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exception = context.get("exception")
    # Failed TLS handshakes and resets are the peer's business, not the operator's.
    import ssl

    if isinstance(exception, (ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        return
    loop.default_exception_handler(context)


# ------------------------------------------------------------------- processes
async def _process_trigger(shutdown_event: StopEvent | None, reports: WorkerReports) -> None:
    try:
        if shutdown_event is None:
            await _signal_trigger()
            return
        # A supervised worker: SIGTERM aimed at it drains it, Ctrl-C is the supervisor's.
        await _first_of(
            functools.partial(_signal_trigger, WORKER_SHUTDOWN_SIGNALS),
            functools.partial(_stop_polled, shutdown_event),
        )
    finally:  # also when cancelled: the worker is stopping on its own (max_requests)
        reports.draining()


async def _stop_polled(shutdown_event: StopEvent) -> None:
    while not shutdown_event.is_set():
        await asyncio.sleep(STOP_POLL_INTERVAL)


def _worker(
    config: Config,
    sockets: Sockets | None,
    shutdown_event: StopEvent | None,
    reports: WorkerReports,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
) -> None:
    app = load_application(config.application_path, config.wsgi_max_body_size)

    async def main() -> None:
        await worker_serve(
            app,
            config,
            sockets=sockets,
            shutdown_trigger=functools.partial(_process_trigger, shutdown_event, reports),
            on_bound=reports.started,
        )

    run(main(), debug=config.debug, loop_factory=loop_factory)


def asyncio_worker(
    config: Config,
    sockets: Sockets | None = None,
    shutdown_event: StopEvent | None = None,
    *,
    on_ready: ReadyHook | None = None,
    on_draining: DrainingHook | None = None,
) -> None:
    """A worker process (or the in-process server) on the standard asyncio loop.

    Loads ``config.application_path``, serves until ``shutdown_event`` is set or SIGINT /
    SIGTERM arrives (SIGTERM only, with an event), then shuts down gracefully and
    returns. ``on_ready`` gets the bound addresses once connections are accepted;
    ``on_draining`` is called when a worker that was ready starts shutting down.
    """
    reports = WorkerReports(on_ready, on_draining)
    _worker(config, sockets, shutdown_event, reports, None)


def uvloop_worker(
    config: Config,
    sockets: Sockets | None = None,
    shutdown_event: StopEvent | None = None,
    *,
    on_ready: ReadyHook | None = None,
    on_draining: DrainingHook | None = None,
) -> None:
    """A worker process (or the in-process server) on uvloop; see :func:`asyncio_worker`."""
    try:
        import uvloop
    except ImportError as error:
        raise ImportError(
            "The uvloop worker needs uvloop: pip install 'hypercorn[uvloop]'"
        ) from error
    reports = WorkerReports(on_ready, on_draining)
    _worker(config, sockets, shutdown_event, reports, uvloop.new_event_loop)


def run(
    main: Coroutine[Any, Any, None],
    *,
    debug: bool = False,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """``asyncio.run`` with a loop factory, on every supported Python."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=loop_factory) as runner:
            runner.run(main)
        return
    loop = loop_factory() if loop_factory is not None else asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.set_debug(debug)
        loop.run_until_complete(main)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
