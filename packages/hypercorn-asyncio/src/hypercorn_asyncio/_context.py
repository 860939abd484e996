"""State one worker shares between its connections."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hypercorn_protocol import DateCache
from hypercorn_protocol.events import RequestCompleted
from hypercorn_protocol.typing import ASGIApp
from hypercorn_protocol.worker import RequestBudget, access_log_arguments

if TYPE_CHECKING:
    from hypercorn_asyncio._tcp import HTTPProtocol
    from hypercorn_protocol.config import Config


class WorkerContext:
    """The app, the config and the live connections of one worker."""

    def __init__(self, app: ASGIApp, config: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.config = config
        self.loop = loop
        self.dates = DateCache()
        self.lifespan_state: dict[str, Any] = {}
        self.connections: set[HTTPProtocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False
        self.terminate = asyncio.Event()
        self.all_closed = asyncio.Event()
        self.all_closed.set()
        self._budget = RequestBudget(config)
        # True for an access log, and for loggers that want every request (StatsD)
        self._access_log = config.log.access_enabled

    def request_completed(self, event: RequestCompleted) -> None:
        if self._access_log:
            task = self.loop.create_task(self.config.log.access(*access_log_arguments(event)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        if self._budget.spend():
            self.terminate.set()

    def connection_opened(self, protocol: HTTPProtocol) -> None:
        self.connections.add(protocol)
        self.all_closed.clear()

    def connection_closed(self, protocol: HTTPProtocol) -> None:
        self.connections.discard(protocol)
        if not self.connections:
            self.all_closed.set()
