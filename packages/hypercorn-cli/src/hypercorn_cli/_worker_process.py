"""The entry point of each spawned worker process."""

from __future__ import annotations

import signal
import sys
import threading
from multiprocessing import parent_process
from multiprocessing.connection import Connection, wait
from multiprocessing.synchronize import Event
from types import FrameType

from hypercorn_cli._errors import one_line, runtime_errors, usage_errors
from hypercorn_cli._privileges import drop_privileges
from hypercorn_cli._serving import Notify, prepare_backend, serve_supervised
from hypercorn_protocol.binding import Sockets
from hypercorn_protocol.config import Config


class _StopFlag:
    """Set by the supervisor's event, by SIGTERM, or when the supervisor dies.

    The SIGTERM handler only flips a Python attribute: taking the event's lock in a
    signal handler could deadlock against the main thread.
    """

    def __init__(self, event: Event) -> None:
        self.event = event
        self.flagged = False

    def __call__(self) -> bool:
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


def _notifier(channel: Connection) -> Notify:
    def notify(message: str) -> None:
        try:
            channel.send(message)
        except OSError:
            pass  # the supervisor is gone; the orphan watch stops us

    return notify


def worker_process_main(
    config: Config, sockets: Sockets, shutdown_event: Event, channel: Connection
) -> None:
    """Serve ``sockets`` in this spawned process until ``shutdown_event`` is set.

    Ctrl-C in a terminal reaches the whole process group; only the supervisor acts on
    it, so workers ignore SIGINT. SIGTERM sent to one worker drains that worker, and the
    supervisor replaces it. When started as root with ``user``/``group`` set, the
    worker switches to them before it imports the application. Expected failures (app
    import, lifespan) are one ``Error:`` line on stderr and exit code 1.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _StopFlag(shutdown_event)
    if hasattr(signal, "SIGTERM") and sys.platform != "win32":
        signal.signal(signal.SIGTERM, stop.on_signal)
    _stop_when_orphaned(shutdown_event)
    notify = _notifier(channel)
    try:
        serve = prepare_backend(config.worker_class)
        config.log  # noqa: B018 - each process builds its own loggers (they are not pickled)
        drop_privileges(config.user, config.group)
        serve_supervised(serve, config, sockets, stop, notify)
    except (*usage_errors(), *runtime_errors()) as exc:
        print(f"Error: {one_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(1)
