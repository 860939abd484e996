"""``run(config)``: serve ``config.application_path`` in-process or with worker processes.

Model: sockets are bound once, here in the parent, and shared with every worker
(spawned, so each worker is a fresh interpreter that imports the app itself). A shared
``multiprocessing`` Event is the stop signal: SIGINT/SIGTERM in the parent set it,
workers drain and exit, the parent joins them (killing stragglers after
``graceful_timeout`` plus a margin) and closes the sockets.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from types import FrameType

from hypercorn_cli._worker_process import worker_process_main
from hypercorn_cli._workers import WorkerFunction, resolve_worker
from hypercorn_protocol.app_loading import load_application
from hypercorn_protocol.binding import Sockets
from hypercorn_protocol.config import Config, ConfigError

#: Extra seconds a worker gets beyond ``graceful_timeout`` (lifespan shutdown, exit).
SHUTDOWN_MARGIN = 5.0
#: How often the supervisor looks at its stop flag while waiting on workers.
POLL_INTERVAL = 0.1

_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name)
)


def run(config: Config) -> int:
    """Serve ``config.application_path`` as the ``hypercorn`` command does.

    ``config.workers == 0`` serves in this process; otherwise that many worker
    processes share sockets bound here. The application path is imported here first,
    so a bad path fails before anything is bound or spawned.

    Args:
        config: the server configuration; ``application_path`` must be set.

    Returns:
        0 after a clean shutdown, else the exit code of the first worker that failed.

    Raises:
        NoAppError: the application cannot be imported.
        ConfigError: invalid configuration (for example ``--reload`` without workers).
        BindError: a bind address is in use or not permitted.
    """
    if config.use_reloader and config.workers == 0:
        raise ConfigError("--reload needs at least one worker process (-w 1 or more)")
    worker = resolve_worker(config.worker_class)
    config.log  # noqa: B018 - builds the loggers (handlers, levels) before anything logs
    _import_application(config)
    if config.pid_path is not None:
        with open(config.pid_path, "w") as pid_file:
            pid_file.write(f"{os.getpid()}\n")
    sockets = config.create_sockets()
    try:
        if config.workers == 0:
            worker(config, sockets=sockets)
            return 0
        return _Supervisor(config, worker, sockets).run()
    finally:
        _close_sockets(sockets)


def _import_application(config: Config) -> None:
    # The current directory is importable, as for ``python -m``; spawned workers
    # inherit this sys.path.
    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)
    load_application(config.application_path, config.wsgi_max_body_size)


def _error_logger(config: Config) -> logging.Logger:
    # The parent logs through the stdlib logger behind ``config.log``; ``config.log``
    # itself is never pickled, so each worker builds its own.
    logger = getattr(config.log, "error_logger", None)
    if isinstance(logger, logging.Logger):
        return logger
    return logging.getLogger("hypercorn.error")


def _close_sockets(sockets: Sockets) -> None:
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
        sock.close()


class _StopRequests:
    """Counts stop signals; the handler only flips plain Python state (signal-safe)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


@contextmanager
def _signals_handled(handler: _StopRequests) -> Iterator[None]:
    previous = {signum: signal.signal(signum, handler) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    # A spawned interpreter inherits an ignored SIGINT, so a Ctrl-C during its start-up
    # cannot print a KeyboardInterrupt traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Supervisor:
    """Starts ``config.workers`` worker processes and stops them all on request."""

    def __init__(self, config: Config, worker: WorkerFunction, sockets: Sockets) -> None:
        self.config = config
        self.worker = worker
        self.sockets = sockets
        self.context = multiprocessing.get_context("spawn")
        self.shutdown_event: Event = self.context.Event()
        self.stop = _StopRequests()
        self.processes: list[SpawnProcess] = []
        self.exit_code = 0

    def run(self) -> int:
        log = _error_logger(self.config)
        with _signals_handled(self.stop):
            try:
                for _ in range(self.config.workers):
                    self._spawn()
                self._watch()
            finally:
                self.shutdown_event.set()
                # Stop accepting in the parent's copies at once, so new clients are
                # refused rather than left waiting in the backlog during the drain.
                _close_sockets(self.sockets)
                self._join_all()
        if self.exit_code:
            log.error("Server stopped: a worker failed (exit code %d)", self.exit_code)
        return self.exit_code

    def _spawn(self) -> None:
        process = self.context.Process(
            target=worker_process_main,
            kwargs={
                "worker": self.worker,
                "config": self.config,
                "sockets": self.sockets,
                "shutdown_event": self.shutdown_event,
            },
            daemon=self.config.daemon,
        )
        with _sigint_ignored():
            process.start()
        self.processes.append(process)

    def _stopping(self) -> bool:
        return self.stop.count > 0 or self.shutdown_event.is_set()

    def _watch(self) -> None:
        while not self._stopping():
            wait([process.sentinel for process in self.processes], timeout=POLL_INTERVAL)
            for process in [p for p in self.processes if p.exitcode is not None]:
                self.processes.remove(process)
                code = _exit_code(process)
                if code != 0:
                    _error_logger(self.config).error(
                        "Worker (pid %s) exited with code %d", process.pid, code
                    )
                    self.exit_code = code
                    return
                if not self._stopping():
                    # A worker that finished on its own (max_requests) is replaced.
                    self._spawn()

    def _join_all(self) -> None:
        deadline = time.monotonic() + self.config.graceful_timeout + SHUTDOWN_MARGIN
        stop_count = self.stop.count
        for process in self.processes:
            # Another Ctrl-C / SIGTERM during the drain means "stop now".
            while process.is_alive() and time.monotonic() < deadline:
                if self.stop.count > stop_count:
                    break
                process.join(POLL_INTERVAL)
            if process.is_alive():
                _error_logger(self.config).warning(
                    "Killing worker (pid %s): it did not stop in time", process.pid
                )
                process.kill()
                process.join()
        self.processes.clear()


def _exit_code(process: SpawnProcess) -> int:
    code = process.exitcode
    assert code is not None
    # Killed by signal N: report it the way shells do (128 + N).
    return 128 - code if code < 0 else code
