"""Bookkeeping every driver's worker does the same way, whatever its event loop.

A driver's worker entry point (``asyncio_worker``, ``uvloop_worker``, ``trio_worker``)
has the shape of :class:`WorkerFunction`: it loads ``config.application_path``, serves
until its :class:`StopEvent` is set (or, without one, until SIGINT/SIGTERM), and calls
the ``on_ready`` / ``on_draining`` hooks (:class:`WorkerReports`). The ``hypercorn``
command calls it for ``-w 0`` (no hooks, no event) and in each worker process.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from hypercorn_protocol.events import REFUSAL_REASONS, RequestCompleted, RequestRefused

if TYPE_CHECKING:
    from hypercorn_protocol.config import Config
    from hypercorn_protocol.server.binding import Sockets

#: How often a worker looks at its stop event.
STOP_POLL_INTERVAL = 0.1
#: The signals that shut an unsupervised server down (those the platform has).
SHUTDOWN_SIGNALS = ("SIGINT", "SIGTERM", "SIGBREAK")
#: The signals that drain a supervised worker: terminal Ctrl-C reaches the whole
#: process group and is the supervisor's to handle.
WORKER_SHUTDOWN_SIGNALS = ("SIGTERM",)

ReadyHook = Callable[[list[str]], object]
DrainingHook = Callable[[], object]


class StopEvent(Protocol):
    """What a worker polls to learn it should stop (``multiprocessing.Event`` fits)."""

    def is_set(self) -> bool: ...


class WorkerFunction(Protocol):
    """A driver's worker entry point."""

    def __call__(
        self,
        config: Config,
        sockets: Sockets | None = None,
        shutdown_event: StopEvent | None = None,
        *,
        on_ready: ReadyHook | None = None,
        on_draining: DrainingHook | None = None,
    ) -> None: ...


class WorkerReports:
    """A worker's readiness and draining, reported through its hooks.

    ``started`` has ``trio.TaskStatus.started``'s shape, so it serves as the trio
    driver's ``task_status`` and as the asyncio driver's ``on_bound``. Draining is
    reported only once the worker was ready: a stop trigger cancelled because startup
    failed is a startup failure, not a worker stopping by itself.
    """

    def __init__(
        self, on_ready: ReadyHook | None = None, on_draining: DrainingHook | None = None
    ) -> None:
        self._on_ready = on_ready
        self._on_draining = on_draining
        self.ready = False

    def started(self, value: Any = None) -> None:
        """The worker accepts connections; ``value`` is the list of bound addresses.

        What the worker holds by now (the app, its imports, what its lifespan startup
        built) lives as long as the worker: it is moved out of the cyclic collector's
        reach (``gc.freeze``), so the collections that per-request garbage triggers no
        longer walk it (about 4% of a hello request's CPU, and pauses of up to 9 ms, in
        a uvloop worker without it).
        """
        gc.freeze()
        self.ready = True
        if self._on_ready is not None:
            self._on_ready(value)

    def draining(self) -> None:
        """The worker starts shutting down (whoever asked)."""
        if self.ready and self._on_draining is not None:
            self._on_draining()


class BudgetSettings(Protocol):
    @property
    def max_requests(self) -> int | None: ...
    @property
    def max_requests_jitter(self) -> int: ...


class RequestBudget:
    """``max_requests`` plus a random share of ``max_requests_jitter``, counted down."""

    __slots__ = ("_left",)

    def __init__(self, settings: BudgetSettings) -> None:
        self._left: int | None = None
        if settings.max_requests is not None:
            jitter = random.randint(0, max(settings.max_requests_jitter, 0))
            self._left = settings.max_requests + jitter

    def spend(self) -> bool:
        """Count one finished request; True once the worker should shut down."""
        if self._left is None:
            return False
        self._left -= 1
        return self._left <= 0


class Refusals:
    """A worker's count of requests refused by a deadline or a limit, by reason.

    Every driver's ``WorkerContext.request_refused`` records each
    :class:`~hypercorn_protocol.events.RequestRefused` here: ``counts`` holds one
    number per reason (:data:`~hypercorn_protocol.events.REFUSAL_REASONS`), and each
    of ``listeners`` (a metrics exporter, say) is called with the event.
    """

    __slots__ = ("counts", "listeners")

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(REFUSAL_REASONS, 0)
        self.listeners: list[Callable[[RequestRefused], object]] = []

    def record(self, event: RequestRefused) -> None:
        """Count ``event`` and pass it to every listener."""
        self.counts[event.reason] = self.counts.get(event.reason, 0) + 1
        for listener in self.listeners:
            listener(event)


def access_log_arguments(event: RequestCompleted) -> tuple[Any, dict[str, Any] | None, float]:
    """``(scope, response, request_time)`` as ``Logger.access`` takes them."""
    response = None
    if event.response is not None:
        response = {"status": event.response.status, "headers": event.response.headers}
    return event.scope, response, event.end - event.start


__all__ = [
    "Refusals",
    "SHUTDOWN_SIGNALS",
    "STOP_POLL_INTERVAL",
    "WORKER_SHUTDOWN_SIGNALS",
    "BudgetSettings",
    "DrainingHook",
    "ReadyHook",
    "RequestBudget",
    "StopEvent",
    "WorkerFunction",
    "WorkerReports",
    "access_log_arguments",
]
