"""The entry point of each spawned worker process.

It serves through the same driver entry point as ``-w 0`` (``_workers.resolve_worker``)
and reports back to the supervisor over ``channel``: ``READY`` once lifespan startup
completed and the worker accepts connections (so a worker it replaces may now stop, and
a failure before it is a startup failure), ``(FAILED, exit code, message)`` when the
worker cannot start, and ``DRAINING`` as soon as a ready worker starts shutting down,
whoever asked: the supervisor, a SIGTERM aimed at this worker, or ``max_requests`` (then
the supervisor starts the replacement at once, while this one finishes its requests).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import warnings
from typing import TYPE_CHECKING

from hypercorn_cli._errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    debug_traceback,
    one_line,
    runtime_errors,
    usage_errors,
)
from hypercorn_cli._privileges import drop_privileges
from hypercorn_cli._workers import resolve_worker
from hypercorn_protocol.config import Config, ConfigWarning
from hypercorn_protocol.server.binding import Sockets

if TYPE_CHECKING:
    from hypercorn_cli._pipe import Channel
    from hypercorn_cli._spawn import StopPipe

#: What serving imports on first use (the first WebSocket, HTTP/2 connection, WSGI
#: app, QUIC socket), per driver package; see :func:`_import_what_serving_needs`.
_DRIVER_PACKAGES = {"asyncio": "hypercorn_asyncio", "uvloop": "hypercorn_asyncio"}
_ON_FIRST_USE = ("hypercorn_protocol.http2.connection", "hypercorn_protocol.websocket.stream")

READY = "ready"
DRAINING = "draining"
FAILED = "failed"


class _Channel:
    """The reports to the supervisor; remembers whether ``READY`` was sent."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.ready = False

    def notify(self, message: object) -> None:
        if message == READY:
            self.ready = True
        try:
            self.channel.send(message)
        except OSError:
            pass  # the supervisor is gone; so is its end of the stop pipe, which stops us


def worker_process_main(config: Config, sockets: Sockets, stop: StopPipe, channel: Channel) -> None:
    """Serve ``sockets`` in this spawned process until ``stop`` is set.

    Ctrl-C in a terminal reaches the whole process group; only the supervisor acts on
    it, so workers ignore SIGINT. SIGTERM sent to one worker drains that worker, and the
    supervisor replaces it. When started as root with ``user``/``group`` set, the
    worker switches to them before it imports the application. Expected failures (app
    import, lifespan) exit with code 1 (2 for a usage error such as an app that does
    not import): before ``READY`` the message goes to the supervisor, which reports
    the startup failure once for all workers; after it, it is one ``Error:`` line on
    stderr (e.g. a failed lifespan shutdown).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The supervisor checked this config and logged its warnings once: not again per worker.
    warnings.filterwarnings("ignore", category=ConfigWarning)
    if hasattr(signal, "SIGTERM") and sys.platform != "win32":
        signal.signal(signal.SIGTERM, stop.on_signal)
    reports = _Channel(channel)
    try:
        # The server's own modules are imported before privileges are dropped, while
        # they are surely readable; the application is imported after.
        worker = resolve_worker(config.worker_class)
        config.log  # noqa: B018 - each process builds its own loggers (they are not pickled)
        if _drops_privileges(config):
            _import_what_serving_needs(config)
        drop_privileges(config.user, config.group)
        worker(
            config,
            sockets,
            stop,
            on_ready=lambda binds: reports.notify(READY),
            on_draining=lambda: reports.notify(DRAINING),
        )
    except (*usage_errors(), *runtime_errors()) as exc:
        code = EXIT_USAGE if isinstance(exc, usage_errors()) else EXIT_RUNTIME
        debug_traceback(exc, config)
        if reports.ready:
            print(f"Error: {one_line(exc)}", file=sys.stderr, flush=True)
        else:
            reports.notify((FAILED, code, one_line(exc)))
        sys.exit(code)


def _drops_privileges(config: Config) -> bool:
    return (
        os.name == "posix"
        and (config.user is not None or config.group is not None)
        and os.geteuid() == 0
    )


def _import_what_serving_needs(config: Config) -> None:
    """Import now what serving would import on first use.

    A worker imports h2, wsproto, the HTTP/1.1 wire, the WSGI bridge and the QUIC
    stack only when a connection or the application needs them, to start smaller. One
    that is about to give up root may then no longer be able to read the installed
    packages (a virtual environment under /root, say), so it imports them all first.
    """
    from hypercorn_protocol.http1.parsers import wire_factory

    wire_factory(config.http_parser)
    package = _DRIVER_PACKAGES.get(config.worker_class, "hypercorn_trio")
    names = [*_ON_FIRST_USE, f"{package}.wsgi"]
    if config.quic_bind:
        names += ["aioquic", "hypercorn_protocol.server.quic", f"{package}._quic"]
    for name in names:
        importlib.import_module(name)
