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

import signal
import sys
import threading
from multiprocessing import parent_process
from multiprocessing.connection import Connection, wait
from multiprocessing.synchronize import Event
from types import FrameType

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
from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets

READY = "ready"
DRAINING = "draining"
FAILED = "failed"


class _StopFlag:
    """Set by the supervisor's event, by SIGTERM, or when the supervisor dies.

    The SIGTERM handler only flips a Python attribute: taking the event's lock in a
    signal handler could deadlock against the main thread.
    """

    def __init__(self, event: Event) -> None:
        self.event = event
        self.flagged = False

    def is_set(self) -> bool:
        return self.flagged or self.event.is_set()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.flagged = True


def _stop_when_orphaned(event: Event) -> None:
    # If the supervisor dies without telling us (SIGKILL, OOM), drain instead of
    # serving forever as an orphan.
    parent = parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        event.set()

    threading.Thread(target=watch, name="hypercorn-parent-watch", daemon=True).start()


class _Channel:
    """The reports to the supervisor; remembers whether ``READY`` was sent."""

    def __init__(self, channel: Connection) -> None:
        self.channel = channel
        self.ready = False

    def notify(self, message: object) -> None:
        if message == READY:
            self.ready = True
        try:
            self.channel.send(message)
        except OSError:
            pass  # the supervisor is gone; the orphan watch stops us


def worker_process_main(
    config: Config, sockets: Sockets, shutdown_event: Event, channel: Connection
) -> None:
    """Serve ``sockets`` in this spawned process until ``shutdown_event`` is set.

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
    stop = _StopFlag(shutdown_event)
    if hasattr(signal, "SIGTERM") and sys.platform != "win32":
        signal.signal(signal.SIGTERM, stop.on_signal)
    _stop_when_orphaned(shutdown_event)
    reports = _Channel(channel)
    try:
        # The server's own modules are imported before privileges are dropped, while
        # they are surely readable; the application is imported after.
        worker = resolve_worker(config.worker_class)
        config.log  # noqa: B018 - each process builds its own loggers (they are not pickled)
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
