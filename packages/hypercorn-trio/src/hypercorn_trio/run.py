"""Running one worker: lifespan, listeners, serving, graceful shutdown.

Shutdown order (the same whatever triggered it: a signal, the caller's
``shutdown_trigger``, the supervisor's event, or ``max_requests``), as in the asyncio
driver:

1. stop accepting: every listening socket is closed at once, so new connections are
   refused rather than left waiting in a backlog;
2. every connection is told to finish: idle ones close now, busy ones after their
   current response (``connection: close``);
3. wait up to ``graceful_timeout`` for them; whatever is left is cancelled (the
   connections' nursery is cancelled, which aborts sockets and app tasks alike);
4. lifespan shutdown.

Errors leave :func:`worker_serve` as themselves, not wrapped in an exception group:
the body of each nursery catches them and re-raises once the nursery has closed.
"""

from __future__ import annotations

import errno
import functools
import signal
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

import trio
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
from hypercorn_trio._context import WorkerContext
from hypercorn_trio._lifespan import Lifespan
from hypercorn_trio._tcp import serve_connection

if TYPE_CHECKING:
    from hypercorn_protocol.typing import ASGIApp
    from hypercorn_trio._quic import QuicSocket

ShutdownTrigger = Callable[[], Awaitable[object]]

# accept() failures that say "not now" (resources), or "that peer gave up": keep serving.
_ACCEPT_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_ACCEPT_PEER_ERRORS = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM}
_ACCEPT_RETRY = 0.1  # seconds after a resource error


async def worker_serve(
    app: AppWrapper,
    config: Config,
    *,
    sockets: Sockets | None = None,
    shutdown_trigger: ShutdownTrigger | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns (or a signal, without one).

    Args:
        app: the loaded application (see ``hypercorn_protocol.apps.loading``).
        config: the configuration.
        sockets: listening sockets made earlier (the supervisor's); made here when None.
        shutdown_trigger: awaited; when it returns the worker shuts down gracefully.
            Without one, SIGINT and SIGTERM trigger the shutdown.
        task_status: given by ``nursery.start``; started with the bound addresses
            (``["http://127.0.0.1:8000", ...]``) once connections are accepted.
    """
    config.log  # noqa: B018  (creating the Logger configures hypercorn.error / .access)
    if isinstance(app, WSGIWrapper):
        # WSGI apps only: the bridge and its thread pool
        from hypercorn_trio.wsgi import TrioWSGIApp

        asgi_app: ASGIApp = TrioWSGIApp(app)
    else:
        asgi_app = app.app
    metrics, endpoint = worker_metrics(config)
    context = WorkerContext(asgi_app, config, metrics)
    error: Exception | None = None
    try:
        if endpoint is not None:
            await config.log.info("Serving metrics on %s", endpoint.url)
        async with trio.open_nursery() as service:
            context.service_nursery = service
            try:
                await _serve(
                    app, context, service, sockets, shutdown_trigger or _signal_trigger, task_status
                )
            except Exception as exc:
                error = exc
                service.cancel_scope.cancel()
    finally:
        if endpoint is not None:
            endpoint.close()
    if error is not None:
        raise error


async def _serve(
    app: AppWrapper,
    context: WorkerContext,
    service: trio.Nursery,
    sockets: Sockets | None,
    shutdown_trigger: ShutdownTrigger,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    # The trigger runs from the start, so a signal that arrives during lifespan startup
    # (its receiver is open by then) drains the server instead of killing it.
    triggered = trio.Event()
    trigger_failures: list[Exception] = []
    trigger_scope = trio.CancelScope()

    async def watch_trigger() -> None:
        with trigger_scope:
            try:
                await shutdown_trigger()
            except Exception as error:
                trigger_failures.append(error)
        triggered.set()

    async def wait_for_trigger() -> None:
        await triggered.wait()
        if trigger_failures:
            raise trigger_failures[0]

    service.start_soon(watch_trigger)
    try:
        await _serve_started(app, context, service, sockets, wait_for_trigger, task_status)
    finally:
        trigger_scope.cancel()


async def _serve_started(
    app: AppWrapper,
    context: WorkerContext,
    service: trio.Nursery,
    sockets: Sockets | None,
    shutdown_trigger: ShutdownTrigger,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    config = context.config
    lifespan: Lifespan | None = None
    if not isinstance(app, WSGIWrapper):
        lifespan = Lifespan(app.app, config, context.lifespan_state)
        await lifespan.startup(service)

    listeners: list[tuple[trio.socket.SocketType, ssl.SSLContext | None]] = []
    try:
        if sockets is None:
            sockets = config.create_sockets()
        ssl_context = config.create_ssl_context()
        binds: list[str] = []
        for sock, secure in [(s, True) for s in sockets.secure_sockets] + [
            (s, False) for s in sockets.insecure_sockets
        ]:
            binds.append(describe_bind(sock, secure))
            listeners.append(
                (trio.socket.from_stdlib_socket(sock), ssl_context if secure else None)
            )

        quic = _quic_sockets(context, sockets)
        failure: Exception | None = None
        async with trio.open_nursery() as connections:
            context.nursery = connections
            for listener, tls in listeners:
                connections.start_soon(_accept, context, listener, tls)
            for endpoint in quic:
                await connections.start(endpoint.run)
            for bind in binds:
                await config.log.info("Running on %s (CTRL + C to quit)", bind)
            for sock in sockets.quic_sockets:
                await config.log.info("Running on %s (QUIC)", describe_bind(sock, True))
            task_status.started(binds)
            try:
                await _first_of(shutdown_trigger, context.terminate.wait)
            except Exception as error:
                failure = error  # still a graceful shutdown; raised below, ungrouped
            await _shutdown(context, [listener for listener, _ in listeners], connections, quic)
        if failure is not None:
            raise failure
    finally:
        for listener, _ in listeners:
            listener.close()
        if lifespan is not None:
            await lifespan.shutdown()


def _quic_sockets(context: WorkerContext, sockets: Sockets) -> list[QuicSocket]:
    """HTTP/3 on each ``quic_bind`` socket, advertised by Alt-Svc on the TCP responses."""
    if not sockets.quic_sockets:
        return []
    # aioquic and the HTTP/3 stack are imported only when a QUIC socket is bound.
    from hypercorn_protocol.server.quic import build_quic_configuration
    from hypercorn_trio._quic import QuicSocket

    config = context.config
    configuration = build_quic_configuration(config)
    config.advertise_quic(sockets.quic_sockets)
    return [QuicSocket(context, configuration, sock) for sock in sockets.quic_sockets]


async def _accept(
    context: WorkerContext, listener: trio.socket.SocketType, ssl_context: ssl.SSLContext | None
) -> None:
    nursery = context.nursery
    assert nursery is not None
    while True:
        try:
            sock, _ = await listener.accept()
        except trio.ClosedResourceError:
            return  # shutting down
        except OSError as error:
            if error.errno == errno.EBADF:
                return
            if error.errno in _ACCEPT_PEER_ERRORS:
                continue
            if error.errno in _ACCEPT_RESOURCE_ERRORS:
                await context.config.log.error("accept() failed (%s); retrying in 100 ms", error)
                await trio.sleep(_ACCEPT_RETRY)
                continue
            raise
        nursery.start_soon(serve_connection, context, sock, ssl_context)


async def _first_of(*triggers: ShutdownTrigger) -> None:
    """Return when the first trigger does; a failing trigger stops the server with its error."""
    failures: list[Exception] = []
    async with trio.open_nursery() as nursery:

        async def watch(trigger: ShutdownTrigger) -> None:
            try:
                await trigger()
            except Exception as error:
                failures.append(error)
            nursery.cancel_scope.cancel()

        for trigger in triggers:
            nursery.start_soon(watch, trigger)
    if failures:
        raise failures[0]


async def _shutdown(
    context: WorkerContext,
    listeners: list[trio.socket.SocketType],
    connections: trio.Nursery,
    quic: list[QuicSocket] | None = None,
) -> None:
    context.shutting_down = True
    quic = quic or []
    for endpoint in quic:
        endpoint.start_shutdown()  # GOAWAY now; the TCP connections drain meanwhile
    for listener in listeners:
        listener.close()  # wakes the accept loops, which then return
    for connection in list(context.connections):
        connection.start_shutdown()
    with trio.move_on_after(context.config.graceful_timeout) as waited:
        await context.wait_all_closed()
        for endpoint in quic:
            await endpoint.wait_idle()
    for endpoint in quic:
        await endpoint.close()
    if waited.cancelled_caught:
        await context.config.log.warning(
            "Graceful shutdown timed out after %ss; closing %d connection(s)",
            context.config.graceful_timeout,
            len(context.connections),
        )
    connections.cancel_scope.cancel()


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
                await trio.sleep(POLL_INTERVAL)
        finally:
            reloader.close()
        self.requested = True


async def _signal_trigger(names: tuple[str, ...] = SHUTDOWN_SIGNALS) -> None:
    """Return on SIGINT or SIGTERM (or the given signals); only the main thread can
    receive signals."""
    if threading.current_thread() is not threading.main_thread():
        await trio.sleep_forever()
    signums = [getattr(signal, name) for name in names if hasattr(signal, name)]
    with trio.open_signal_receiver(*signums) as received:
        async for _ in received:
            return


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
        await trio.sleep(STOP_POLL_INTERVAL)


def _worker(
    config: Config,
    sockets: Sockets | None,
    shutdown_event: StopEvent | None,
    reports: WorkerReports,
) -> None:
    app = load_application(config.application_path, config.wsgi_max_body_size)
    trio.run(
        functools.partial(
            worker_serve,
            app,
            config,
            sockets=sockets,
            shutdown_trigger=functools.partial(_process_trigger, shutdown_event, reports),
            task_status=cast("trio.TaskStatus[list[str]]", reports),
        )
    )


def trio_worker(
    config: Config,
    sockets: Sockets | None = None,
    shutdown_event: StopEvent | None = None,
    *,
    on_ready: ReadyHook | None = None,
    on_draining: DrainingHook | None = None,
) -> None:
    """A worker process (or the in-process server) on trio.

    Loads ``config.application_path``, serves until ``shutdown_event`` is set or SIGINT /
    SIGTERM arrives (SIGTERM only, with an event), then shuts down gracefully and
    returns. ``on_ready`` gets the bound addresses once connections are accepted;
    ``on_draining`` is called when a worker that was ready starts shutting down.
    """
    reports = WorkerReports(on_ready, on_draining)
    _worker(config, sockets, shutdown_event, reports)
