"""Bookkeeping every driver's worker does the same way, whatever its event loop."""

from __future__ import annotations

import random
from typing import Any, Protocol

from hypercorn_protocol.events import RequestCompleted


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


def access_log_arguments(event: RequestCompleted) -> tuple[Any, dict[str, Any] | None, float]:
    """``(scope, response, request_time)`` as ``Logger.access`` takes them."""
    response = None
    if event.response is not None:
        response = {"status": event.response.status, "headers": event.response.headers}
    return event.scope, response, event.end - event.start


__all__ = ["BudgetSettings", "RequestBudget", "access_log_arguments"]
