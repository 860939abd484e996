"""Run the ASGI lifespan protocol for one worker on asyncio.

:meth:`Lifespan.startup` starts the app with a ``lifespan`` scope in its own task and
sends ``lifespan.startup``; :meth:`Lifespan.shutdown` sends ``lifespan.shutdown``. Each
waits for the app's answer, up to the configured timeout. What the answers and the
app's outcome mean is :class:`hypercorn_protocol.lifespan.LifespanProtocol`'s business;
this class only runs the task, queues the messages and keeps the time.
"""

from __future__ import annotations

import asyncio

from hypercorn_protocol.errors import LifespanFailureError, LifespanTimeoutError
from hypercorn_protocol.lifespan import LifespanConfig, LifespanProtocol
from hypercorn_protocol.typing import ASGIApp, Message

# Only two messages are ever queued (startup, shutdown).
_QUEUE_SIZE = 2


class Lifespan:
    """The lifespan protocol between one worker and its ASGI app.

    Attributes:
        state: The dict passed as ``scope["state"]``; connection scopes copy it.
    """

    def __init__(self, app: ASGIApp, config: LifespanConfig, state: dict[str, object]) -> None:
        """Prepare (nothing runs until :meth:`startup`).

        Args:
            app: The ASGI app.
            config: Supplies ``startup_timeout`` and ``shutdown_timeout`` (seconds).
            state: Shared with the app as ``scope["state"]``.
        """
        self.app = app
        self.config = config
        self.state = state
        self._protocol = LifespanProtocol(state)
        self._queue: asyncio.Queue[Message] = asyncio.Queue(_QUEUE_SIZE)
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def supported(self) -> bool:
        """False once the app showed it does not implement lifespan."""
        return self._protocol.supported

    async def startup(self) -> None:
        """Start the app's lifespan task and wait for startup to complete.

        Raises:
            LifespanTimeoutError: No answer within ``config.startup_timeout``.
            LifespanFailureError: The app sent ``lifespan.startup.failed``.
            UnexpectedMessageError: The app sent an unknown message type and failed.
        """
        protocol = self._protocol
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._queue.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(self._startup_done.wait(), self.config.startup_timeout)
        except asyncio.TimeoutError:
            await self._cancel()
            raise LifespanTimeoutError("startup") from None
        if protocol.fatal_error is not None:
            raise protocol.fatal_error
        if protocol.startup_failure is not None:
            await self._cancel()
            raise LifespanFailureError("startup", protocol.startup_failure)

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish it.

        Returns at once if lifespan is unsupported, never started or already over.

        Raises:
            LifespanTimeoutError: No answer within ``config.shutdown_timeout``.
            LifespanFailureError: The app sent ``lifespan.shutdown.failed``.
        """
        task = self._task
        protocol = self._protocol
        if task is None or task.done() or not protocol.supported:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.shutdown_timeout
        await self._queue.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._shutdown_done.wait(), self.config.shutdown_timeout)
        except asyncio.TimeoutError:
            await self._cancel()
            raise LifespanTimeoutError("shutdown") from None
        # Let the app return by itself after answering; cancel it if it lingers.
        await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        await self._cancel()
        if protocol.shutdown_failure is not None:
            raise LifespanFailureError("shutdown", protocol.shutdown_failure)

    async def _run(self) -> None:
        error: Exception | None = None
        try:
            await self.app(self._protocol.scope(), self._receive, self._send)
        except Exception as exc:  # CancelledError is not an Exception: it propagates
            error = exc
        finally:
            self._protocol.app_ended(error)
            self._sync()

    async def _receive(self) -> Message:
        return await self._queue.get()

    async def _send(self, message: Message) -> None:
        self._protocol.app_sent(message)
        self._sync()

    def _sync(self) -> None:
        if self._protocol.startup_answered:
            self._startup_done.set()
        if self._protocol.shutdown_answered:
            self._shutdown_done.set()

    async def _cancel(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        # wait() never raises the task's outcome, yet still lets our own cancellation in.
        await asyncio.wait({task})


__all__ = ["Lifespan", "LifespanConfig"]
