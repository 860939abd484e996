"""The entry point of each spawned worker process."""

from __future__ import annotations

import signal
import sys
import threading
from multiprocessing import parent_process
from multiprocessing.connection import wait
from multiprocessing.synchronize import Event
from types import FrameType
from typing import Any

from hypercorn_cli._errors import one_line, runtime_errors, usage_errors
from hypercorn_cli._workers import WorkerFunction


def _set_from_thread(event: Event) -> None:
    # A multiprocessing Event takes a lock; setting it from a signal handler could
    # deadlock against the main thread, so a helper thread does it.
    threading.Thread(target=event.set, daemon=True).start()


def _drain_on_sigterm(event: Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        _set_from_thread(event)

    signal.signal(signal.SIGTERM, handler)


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


def worker_process_main(
    worker: WorkerFunction, config: Any, sockets: Any, shutdown_event: Event
) -> None:
    """Run ``worker`` in this spawned process until ``shutdown_event`` is set.

    Ctrl-C in a terminal reaches the whole process group; only the supervisor acts on
    it, so workers ignore SIGINT. SIGTERM sent to a worker (for example by a service
    manager signalling every process) drains the whole server, like SIGTERM to the
    supervisor. Expected failures (app import, lifespan) are one ``Error:`` line on
    stderr and exit code 1.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform != "win32":
        _drain_on_sigterm(shutdown_event)
    _stop_when_orphaned(shutdown_event)
    try:
        config.log  # noqa: B018 - each process builds its own loggers (they are not pickled)
        worker(config, sockets=sockets, shutdown_event=shutdown_event)
    except (*usage_errors(), *runtime_errors()) as exc:
        print(f"Error: {one_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(1)
