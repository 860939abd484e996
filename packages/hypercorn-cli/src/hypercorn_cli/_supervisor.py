"""The supervisor: worker processes in slots, restarts, rolling replacement, signals.

Theory of operation. There are ``workers`` *slots*. By default every slot serves the
parent's listening sockets, so all workers accept from one queue per address and a
worker that is busy (or blocked) simply does not take the next connection. With
``reuse_port`` each slot owns its own ``SO_REUSEPORT`` socket on Linux (see
``_reuseport``). Either way the parent keeps its copy of every socket open, so a
socket never closes while its slot lives: connections that arrive while a worker
changes wait in the backlog and are never refused.

A worker reports ``READY`` once lifespan startup completed and it accepts
connections, ``DRAINING`` when it starts shutting down (``_worker_process``), and
``(FAILED, exit code, message)`` when it could not start. Events, all handled by one
loop in the main thread that wakes at least every ``TICK``:

* a worker of the first start-up exits before ``READY`` (lifespan startup failed, the
  app does not import in the worker, ...): the failure is deterministic, so there is
  no retry. The server stops at once and ``run`` raises :class:`WorkerStartupError`
  with the worker's own message: one line, and no request was ever served.
* successor ``READY``: it becomes the slot's current worker; the old one is told to
  drain. A *roll* (SIGHUP, SIGUSR1, ``--reload``) does this for one slot at a time.
* current worker ``DRAINING`` on its own (``max_requests``, a SIGTERM aimed at it):
  its replacement starts at once, on the same socket, while it finishes its requests.
* current worker exits unexpectedly once the server is serving (crash, SIGKILL):
  restarted after an exponential backoff (``BACKOFF_FIRST`` doubling up to
  ``BACKOFF_MAX``; reset once a worker has served ``STABLE_AFTER`` seconds).
  ``MAX_BOOT_FAILURES`` restarts in a row that die before becoming ready: give up.
* successor exits before ``READY`` (the new code or configuration is broken): the roll
  stops and the running workers keep serving.
* SIGINT / SIGTERM: the parent closes its socket copies, every worker drains (up to
  ``graceful_timeout``), stragglers are killed after ``SHUTDOWN_MARGIN`` more seconds.
  The exit code is non-zero if any worker did not stop cleanly (its lifespan shutdown
  failed, it crashed, or it had to be killed).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypercorn_cli._errors import one_line
from hypercorn_cli._pipe import Channel, HasFileno, wait
from hypercorn_cli._reuseport import slot_sockets
from hypercorn_cli._signals import SignalCounts, sigint_ignored
from hypercorn_cli._spawn import WorkerProcess
from hypercorn_cli._worker_process import DRAINING, FAILED, READY
from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets

if TYPE_CHECKING:
    # Type-only: metrics and the reloader are imported where they are switched on.
    from hypercorn_protocol.server.metrics import SupervisorMetrics
    from hypercorn_protocol.server.reloading import ImportCheck, SourceFilter, Watcher

#: Extra seconds a worker gets beyond ``graceful_timeout`` (lifespan shutdown, exit).
SHUTDOWN_MARGIN = 5.0
#: The longest the supervisor waits before looking at signals and timers again.
TICK = 0.1
#: Delay before the first restart of a crashed worker; doubles with each crash.
BACKOFF_FIRST = 0.1
#: The longest delay between restarts.
BACKOFF_MAX = 5.0
#: A worker that served this long resets its slot's backoff.
STABLE_AFTER = 5.0
#: Restarted workers in a row that die before serving: the application cannot start.
MAX_BOOT_FAILURES = 5

#: Settings fixed once the sockets are bound; SIGHUP cannot change them.
BIND_SETTINGS = (
    "bind",
    "insecure_bind",
    "quic_bind",
    "backlog",
    "umask",
    "user",
    "group",
    "reuse_port",
    "metrics_bind",
)

ConfigLoader = Callable[[], Config]


class WorkerStartupError(Exception):
    """A worker of the first start-up exited before it was ready to serve.

    Attributes:
        exit_code: the exit code the command should end with.
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Reloader:
    """What ``--reload`` needs: the watcher and the rule for the application's sources."""

    watcher: Watcher
    sources: SourceFilter


def worker_count(config: Config) -> int:
    """Worker processes to run: ``--reload`` with ``workers = 0`` still needs one."""
    return max(config.workers, 1)


@dataclass(eq=False)
class _Worker:
    slot: _Slot
    process: WorkerProcess
    channel: Channel | None
    ready_at: float | None = None
    stopping: bool = False  # told to drain, or draining on its own
    failure: tuple[int, str] | None = None  # (exit code, message) it could not start with

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def drain(self) -> None:
        self.stopping = True
        self.process.stop()


@dataclass(eq=False)
class _Slot:
    index: int
    sockets: Sockets
    owned: list[socket.socket] = field(default_factory=list)
    current: _Worker | None = None
    successor: _Worker | None = None
    failures: int = 0
    restart_at: float | None = 0.0  # when to start a worker, if the slot has none
    retired: bool = False

    def close_owned(self) -> None:
        for sock in self.owned:
            sock.close()
        self.owned.clear()


def close_sockets(sockets: Sockets) -> None:
    """Close every socket of ``sockets`` (this process's copies)."""
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
        sock.close()


def error_logger(config: Config) -> logging.Logger:
    """The stdlib logger behind ``config.log`` (``hypercorn.error`` by default)."""
    logger = getattr(config.log, "error_logger", None)
    if isinstance(logger, logging.Logger):
        return logger
    return logging.getLogger("hypercorn.error")


def _describe_exit(process: WorkerProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            import signal

            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _shell_code(process: WorkerProcess) -> int:
    code = process.exitcode or 0
    # Killed by signal N: report it the way shells do (128 + N).
    return 128 - code if code < 0 else code


class Supervisor:
    """Runs the worker processes of one server until it is stopped.

    Args:
        config: the configuration; ``config.workers`` slots are filled.
        sockets: the sockets bound for ``config`` (the parent's; shared or twinned).
        config_loader: builds the configuration again, for SIGHUP; without it SIGHUP
            replaces the workers with the same configuration.
        reloader: set with ``--reload``.
        metrics: with ``metrics_bind``: counts restarts, forgets dead workers' gauges.
    """

    def __init__(
        self,
        config: Config,
        sockets: Sockets,
        *,
        config_loader: ConfigLoader | None = None,
        reloader: Reloader | None = None,
        metrics: SupervisorMetrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.sockets = sockets
        self.config_loader = config_loader
        self.reloader = reloader
        self.signals = SignalCounts()
        self.handled_reloads = 0
        self.handled_restarts = 0
        self.log = error_logger(config)
        self.slots: list[_Slot] = []
        self.workers: list[_Worker] = []
        self.roll: deque[_Slot] = deque()
        self.rolling = False
        self.check: ImportCheck | None = None
        self.boot_failures = 0
        self.exit_code = 0
        self.serving = False  # every slot of the first start-up has reported READY
        self.startup_error: WorkerStartupError | None = None

    # ---------------------------------------------------------------- main loop
    def run(self) -> int:
        """Serve until SIGINT/SIGTERM, or until workers cannot start.

        Returns:
            0 after a clean shutdown; non-zero when restarted workers kept failing or
            a worker did not stop cleanly.

        Raises:
            WorkerStartupError: a worker of the first start-up exited before it was
                ready; the other workers have been stopped.
        """
        with self.signals.installed():
            try:
                self._resize(worker_count(self.config))
                while not self.signals.stop and not self.exit_code:
                    self._start_due()
                    self._wait()
                    self._reap()
                    self._handle_signals()
                    self._poll_reloader()
                    self._advance_roll()
            finally:
                self._shutdown()
        if self.startup_error is not None:
            raise self.startup_error
        return self.exit_code

    def _wait(self) -> None:
        waitables: list[int | HasFileno] = [worker.process.sentinel for worker in self.workers]
        waitables += [worker.channel for worker in self.workers if worker.channel is not None]
        timeout = TICK
        if not waitables:
            time.sleep(timeout)
            return
        wait(waitables, timeout=timeout)
        for worker in list(self.workers):
            self._read_messages(worker)

    def _read_messages(self, worker: _Worker) -> None:
        while worker.channel is not None:
            try:
                if not worker.channel.poll():
                    return
                message = worker.channel.recv()
            except (EOFError, OSError):
                worker.channel.close()
                worker.channel = None
                return
            if message == READY:
                self._on_ready(worker)
            elif message == DRAINING:
                self._on_draining(worker)
            elif isinstance(message, tuple) and len(message) == 3 and message[0] == FAILED:
                worker.failure = (int(message[1]), str(message[2]))

    # ------------------------------------------------------------------ workers
    def _spawn(self, slot: _Slot) -> _Worker:
        with sigint_ignored():
            process = WorkerProcess(self.config, slot.sockets)
        worker = _Worker(slot, process, process.channel)
        self.workers.append(worker)
        return worker

    def _on_ready(self, worker: _Worker) -> None:
        worker.ready_at = time.monotonic()
        self.boot_failures = 0
        slot = worker.slot
        if slot.successor is worker:
            previous, slot.current, slot.successor = slot.current, worker, None
            if previous is not None:
                previous.drain()
        if slot.retired and not worker.stopping:
            worker.drain()
        if not self.serving:
            self.serving = all(
                slot.current is not None and slot.current.ready_at is not None
                for slot in self.slots
                if not slot.retired
            )

    def _on_draining(self, worker: _Worker) -> None:
        if worker.stopping or self.signals.stop:
            return  # it was told to, or everything is stopping (SIGTERM to the whole group)
        worker.stopping = True
        slot = worker.slot
        if slot.current is worker:
            slot.current = None
            slot.restart_at = time.monotonic()
            if self.metrics is not None:
                self.metrics.worker_restarted("stopped")
            self.log.info(
                "Worker (pid %s) is stopping by itself (max_requests or SIGTERM); "
                "starting its replacement",
                worker.pid,
            )
        elif slot.successor is worker:
            slot.successor = None
            self._stop_roll(f"the new worker (pid {worker.pid}) stopped before serving")

    def _reap(self) -> None:
        for worker in [w for w in self.workers if w.process.exitcode is not None]:
            self._read_messages(worker)  # a last READY or DRAINING
            self.workers.remove(worker)
            if self.metrics is not None:
                self.metrics.process_dead(worker.pid)
            if worker.channel is not None:
                worker.channel.close()
                worker.channel = None
            slot = worker.slot
            if slot.current is worker and worker.ready_at is None and not self.serving:
                slot.current = None
                self._on_startup_failure(worker)
            elif slot.current is worker:
                slot.current = None
                self._on_crash(worker)
            elif slot.successor is worker:
                slot.successor = None
                self._stop_roll(
                    f"the new worker (pid {worker.pid}) failed to start "
                    f"({_describe_exit(worker.process)})"
                )

    def _on_startup_failure(self, worker: _Worker) -> None:
        # The first failure is the one to report; the other workers most likely fail
        # the same way and are stopped (their reports are not repeated).
        if self.startup_error is not None or self.signals.stop:
            return
        if worker.failure is not None:
            code, message = worker.failure
        else:
            code = _shell_code(worker.process) or 1
            message = (
                f"worker (pid {worker.pid}) exited before it was ready to serve "
                f"({_describe_exit(worker.process)})"
            )
        self.startup_error = WorkerStartupError(message, code)
        self.exit_code = code

    def _on_crash(self, worker: _Worker) -> None:
        slot = worker.slot
        now = time.monotonic()
        if worker.ready_at is None:
            self.boot_failures += 1
            what = "failed to start"
        else:
            if now - worker.ready_at >= STABLE_AFTER:
                slot.failures = 0
            what = "died"
        slot.failures += 1
        if slot.retired or self.exit_code:
            return  # no restart: the slot is gone, or the server is giving up already
        if self.boot_failures >= MAX_BOOT_FAILURES:
            self.log.error(
                "Workers failed to start %d times in a row (last: %s); giving up",
                self.boot_failures,
                _describe_exit(worker.process),
            )
            self.exit_code = _shell_code(worker.process) or 1
            return
        delay = min(BACKOFF_FIRST * 2 ** (slot.failures - 1), BACKOFF_MAX)
        slot.restart_at = now + delay
        if self.metrics is not None:
            self.metrics.worker_restarted("crashed")
        self.log.error(
            "Worker (pid %s) %s (%s); restarting it in %.1f s",
            worker.pid,
            what,
            _describe_exit(worker.process),
            delay,
        )

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.retired or slot.current is not None or slot.successor is not None:
                continue
            if slot.restart_at is not None and slot.restart_at <= now:
                slot.restart_at = None
                slot.current = self._spawn(slot)

    # -------------------------------------------------------------------- slots
    def _without_quic(self, sockets: Sockets) -> Sockets:
        """The first slot serves HTTP/3; the others only advertise it (Alt-Svc).

        A QUIC connection lives in one worker, but a UDP socket shared by several
        workers hands each datagram to whichever reads first: the others would drop
        it. The config the workers get already carries the Alt-Svc values.
        """
        if not self.slots:
            return sockets
        return Sockets(sockets.secure_sockets, sockets.insecure_sockets, [])

    def _resize(self, count: int) -> None:
        active = [slot for slot in self.slots if not slot.retired]
        while len(active) < count:
            if not self.slots or not self.config.reuse_port:
                slot = _Slot(len(self.slots), self._without_quic(self.sockets))
            else:
                sockets, owned = slot_sockets(self.sockets, self.config.backlog)
                slot = _Slot(len(self.slots), self._without_quic(sockets), owned)
            self.slots.append(slot)
            active.append(slot)
        for slot in active[count:]:
            # The parent's copies close first, so the kernel stops routing connections
            # to the slot's socket as soon as its worker lets go of it.
            slot.retired = True
            slot.close_owned()
            for worker in (slot.current, slot.successor):
                if worker is not None:
                    worker.drain()

    # --------------------------------------------------------------- rolling
    def _start_roll(self, reason: str) -> None:
        # A roll already under way starts over, so every worker ends up on the newest
        # configuration and code.
        self.roll = deque(slot for slot in self.slots if not slot.retired)
        self.rolling = True
        self.log.info("%s: replacing workers one at a time", reason)

    def _advance_roll(self) -> None:
        if not self.rolling or any(slot.successor is not None for slot in self.slots):
            return
        while self.roll:
            slot = self.roll.popleft()
            if slot.retired or slot.current is None:
                continue  # a slot being restarted gets the new configuration anyway
            slot.successor = self._spawn(slot)
            if self.metrics is not None:
                self.metrics.worker_restarted("replaced")
            return
        self.rolling = False
        self.log.info("All workers replaced")

    def _stop_roll(self, reason: str) -> None:
        self.roll.clear()
        self.rolling = False
        self.log.error("Replacing workers stopped: %s; the running workers keep serving", reason)

    # ------------------------------------------------------------------ signals
    def _handle_signals(self) -> None:
        if self.signals.reload > self.handled_reloads:
            self.handled_reloads = self.signals.reload
            config = self._reload_config()
            if config is not None:
                self.config = config
                self._resize(worker_count(config))
                self._start_roll("SIGHUP: configuration reloaded")
        if self.signals.restart > self.handled_restarts:
            self.handled_restarts = self.signals.restart
            self._start_roll("SIGUSR1")

    def _reload_config(self) -> Config | None:
        if self.config_loader is None:
            return self.config
        try:
            config = self.config_loader()
        except Exception as exc:
            self.log.error(
                "SIGHUP: cannot reload the configuration (%s); keeping it", one_line(exc)
            )
            return None
        changed = []
        for name in BIND_SETTINGS:
            if getattr(config, name) != getattr(self.config, name):
                changed.append(name)
                setattr(config, name, getattr(self.config, name))
        if config.ssl_enabled != self.config.ssl_enabled:
            changed += ["certfile", "keyfile"]
            config.certfile, config.keyfile = self.config.certfile, self.config.keyfile
        if changed:
            self.log.warning(
                "SIGHUP: %s changed; the sockets stay as bound (restart the server for that)",
                ", ".join(changed),
            )
        config.use_reloader = self.config.use_reloader
        return config

    # ----------------------------------------------------------------- reloader
    def _poll_reloader(self) -> None:
        if self.reloader is None:
            return
        changed = self.reloader.watcher.changes()
        if changed:
            from hypercorn_protocol.server.reloading import ImportCheck

            names = ", ".join(sorted({os.path.basename(path) for path in changed}))
            self.log.info("Change detected in %s; checking that the application imports", names)
            if self.check is not None:
                self.check.cancel()
            self.check = ImportCheck.of_application(
                self.config.application_path, self.config.wsgi_max_body_size
            )
        if self.check is None:
            return
        result = self.check.result()
        if result is None:
            return
        self.check = None
        succeeded, message, files = result
        if succeeded:
            self.reloader.watcher.watch_more(self.reloader.sources.select(files))
            self._start_roll("Reloading")
        else:
            self.log.error("Reload failed, the running workers keep serving: %s", message)

    # ----------------------------------------------------------------- shutdown
    def _shutdown(self) -> None:
        self.roll.clear()
        if self.check is not None:
            self.check.cancel()
        if self.reloader is not None:
            self.reloader.watcher.close()
        # Stop accepting at once: with the parent's copies closed, each socket closes
        # when its worker lets go of it, and new clients are refused rather than left
        # waiting in a backlog during the drain.
        close_sockets(self.sockets)
        for slot in self.slots:
            slot.close_owned()
        for worker in self.workers:
            worker.drain()
        deadline = time.monotonic() + self.config.graceful_timeout + SHUTDOWN_MARGIN
        stops = self.signals.stop
        while time.monotonic() < deadline and self.signals.stop == stops:
            alive = [worker for worker in self.workers if worker.process.is_alive()]
            if not alive:
                break
            # Another Ctrl-C / SIGTERM during the drain means "stop now".
            wait([worker.process.sentinel for worker in alive], timeout=TICK)
        unclean = []
        for worker in self.workers:
            if worker.process.is_alive():
                self.log.warning("Killing worker (pid %s): it did not stop in time", worker.pid)
                worker.process.kill()
            worker.process.join()
            if self.metrics is not None:
                self.metrics.process_dead(worker.pid)
            if worker.channel is not None:
                worker.channel.close()
            if worker.process.exitcode != 0:
                unclean.append(worker)
        self.workers.clear()
        if unclean and not self.exit_code:
            # A worker whose lifespan shutdown failed (or that had to be killed) did not
            # stop cleanly: say so in the exit code, as the single-process server does.
            self.log.error(
                "Worker(s) did not stop cleanly: %s",
                ", ".join(f"pid {w.pid} ({_describe_exit(w.process)})" for w in unclean),
            )
            self.exit_code = max(_shell_code(w.process) for w in unclean) or 1
