"""State one worker shares between its connections."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import trio
from hypercorn_protocol import DateCache
from hypercorn_protocol.events import RequestCompleted
from hypercorn_protocol.typing import ASGIApp

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

    def __init__(self, app: ASGIApp, config: Config) -> None:
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
        self._requests = 0
        self._request_limit: int | None = None
        if config.max_requests is not None:
            self._request_limit = config.max_requests + random.randint(
                0, max(config.max_requests_jitter, 0)
            )
        # True for an access log, and for loggers that want every request (StatsD)
        self._access_log = config.log.access_enabled

    def request_completed(self, event: RequestCompleted) -> None:
        if self._access_log and self.service_nursery is not None:
            response = None
            if event.response is not None:
                response = {"status": event.response.status, "headers": event.response.headers}
            self.service_nursery.start_soon(
                self.config.log.access, event.scope, response, event.end - event.start
            )
        if self._request_limit is not None:
            self._requests += 1
            if self._requests >= self._request_limit:
                self.terminate.set()

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
