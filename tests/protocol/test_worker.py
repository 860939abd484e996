"""Worker bookkeeping shared by the drivers."""

from __future__ import annotations

from dataclasses import dataclass

from hypercorn_protocol.events import RequestCompleted, ResponseSummary
from hypercorn_protocol.server.binding import address_tuple
from hypercorn_protocol.worker import RequestBudget, access_log_arguments


@dataclass
class Limits:
    max_requests: int | None
    max_requests_jitter: int = 0


def test_budget_trips_after_exactly_max_requests() -> None:
    budget = RequestBudget(Limits(3))
    assert [budget.spend() for _ in range(4)] == [False, False, True, True]


def test_budget_jitter_stays_within_bounds() -> None:
    for _ in range(50):
        budget = RequestBudget(Limits(2, 3))
        spent = 1
        while not budget.spend():
            spent += 1
        assert 2 <= spent <= 5


def test_no_max_requests_never_trips() -> None:
    budget = RequestBudget(Limits(None))
    assert not any(budget.spend() for _ in range(10_000))


def test_access_log_arguments() -> None:
    scope = {"type": "http", "path": "/"}
    done = RequestCompleted(1, scope, ResponseSummary(201, [(b"a", b"b")], 3), 10.0, 10.5)
    assert access_log_arguments(done) == (scope, {"status": 201, "headers": [(b"a", b"b")]}, 0.5)
    abandoned = RequestCompleted(1, scope, None, 10.0, 11.0)
    assert access_log_arguments(abandoned) == (scope, None, 1.0)


def test_address_tuple() -> None:
    assert address_tuple(("127.0.0.1", 80)) == ("127.0.0.1", 80)
    assert address_tuple(("::1", 443, 0, 0)) == ("::1", 443)
    assert address_tuple("/tmp/s.sock") is None
    assert address_tuple("") is None
