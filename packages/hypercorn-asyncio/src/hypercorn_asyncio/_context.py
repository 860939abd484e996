"""State one worker shares between its connections.

Mirrors ``hypercorn_trio._context``: the same class, attributes and methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from hypercorn_protocol import DateCache
from hypercorn_protocol.driving import ConnectionMetrics
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.proxy import PROXY_REFUSALS, ProxyRefused, TrustedProxies
from hypercorn_protocol.typing import ASGIApp
from hypercorn_protocol.worker import Refusals, RequestBudget, access_log_arguments

if TYPE_CHECKING:
    from hypercorn_asyncio._tcp import HTTPConnection
    from hypercorn_protocol.config import Config


class WorkerContext:
    """The app, the config and the live connections of one worker.

    Attributes:
        tasks: every app and side task (access-log lines); cancelled at shutdown.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: Config,
        loop: asyncio.AbstractEventLoop,
        metrics: ConnectionMetrics | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.loop = loop
        self.dates = DateCache()
        self.lifespan_state: dict[str, Any] = {}
        self.connections: set[HTTPConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False
        self.terminate = asyncio.Event()
        self.all_closed = asyncio.Event()
        self.all_closed.set()
        self._budget = RequestBudget(config)
        self.refusals = Refusals()  # deadline and limit refusals, for metrics
        self.metrics = metrics  # metrics_bind: Prometheus
        # Parsed once, so a bad proxy_allow_ips entry fails startup.
        self.proxy_trust = TrustedProxies(config.proxy_allow_ips) if config.proxy_protocol else None
        # True for an access log, and for loggers that want every request (StatsD)
        self._access_log = config.log.access_enabled

    def start_soon(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a short side task (an access-log line) that shutdown cancels."""
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def request_completed(self, event: RequestCompleted) -> None:
        """Log one finished request and count it against ``max_requests``."""
        if self._access_log:
            self.start_soon(self.config.log.access(*access_log_arguments(event)))
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
        self.all_closed.clear()

    def connection_closed(self, connection: HTTPConnection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self.all_closed.set()

    async def wait_all_closed(self) -> None:
        """Return once no connection is open."""
        await self.all_closed.wait()
