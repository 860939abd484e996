"""State one worker shares between its connections.

Mirrors ``hypercorn_asyncio._context``: the same class, attributes and methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio
from hypercorn_protocol import DateCache
from hypercorn_protocol.driving import ConnectionMetrics
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.proxy import PROXY_REFUSALS, ProxyRefused, TrustedProxies
from hypercorn_protocol.typing import ASGIApp
from hypercorn_protocol.worker import Refusals, RequestBudget, access_log_arguments

if TYPE_CHECKING:
    from hypercorn_protocol.config import Config
    from hypercorn_trio._tcp import HTTPConnection


class WorkerContext:
    """The app, the config and the live connections of one worker.

    Attributes:
        nursery: where connections (and their app tasks) run; set by the worker before
            the first connection is accepted. Cancelling it aborts every connection.
        service_nursery: where short side tasks (access-log lines) run.
    """

    def __init__(
        self, app: ASGIApp, config: Config, metrics: ConnectionMetrics | None = None
    ) -> None:
        self.app = app
        self.config = config
        self.dates = DateCache()
        self.lifespan_state: dict[str, Any] = {}
        self.connections: set[HTTPConnection] = set()
        self.nursery: trio.Nursery | None = None
        self.service_nursery: trio.Nursery | None = None
        self.shutting_down = False
        self.terminate = trio.Event()
        self._all_closed: trio.Event | None = None
        self._budget = RequestBudget(config)
        self.refusals = Refusals()  # deadline and limit refusals, for metrics
        self.metrics = metrics  # metrics_bind: Prometheus
        # Parsed once, so a bad proxy_allow_ips entry fails startup.
        self.proxy_trust = TrustedProxies(config.proxy_allow_ips) if config.proxy_protocol else None
        # True for an access log, and for loggers that want every request (StatsD)
        self._access_log = config.log.access_enabled

    def start_soon(self, async_fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a short side task (an access-log line) in the service nursery."""
        if self.service_nursery is not None:
            self.service_nursery.start_soon(async_fn, *args)

    def request_completed(self, event: RequestCompleted) -> None:
        """Log one finished request and count it against ``max_requests``."""
        if self._access_log:
            self.start_soon(self.config.log.access, *access_log_arguments(event))
        if self._budget.spend():
            self.terminate.set()

    def request_refused(self, event: RequestRefused) -> None:
        """Count one request refused by a deadline or a limit."""
        self.refusals.record(event)
        if self.metrics is not None:
            self.metrics.refused(event.reason)

    async def proxy_refused(self, refusal: ProxyRefused) -> None:
        """A connection closed in its PROXY header phase: the peer's business, so debug."""
        if self.metrics is not None:
            self.metrics.refused(PROXY_REFUSALS.get(refusal.reason, "proxy_header"))
        await self.config.log.debug("%s", refusal.message)

    def connection_opened(self, connection: HTTPConnection) -> None:
        self.connections.add(connection)

    def connection_closed(self, connection: HTTPConnection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._all_closed is not None:
            self._all_closed.set()

    async def wait_all_closed(self) -> None:
        """Return once no connection is open (trio events cannot be cleared, so one per wait)."""
        while self.connections:
            self._all_closed = trio.Event()
            await self._all_closed.wait()
