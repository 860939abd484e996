"""Run the ASGI lifespan protocol for one worker on asyncio.

:meth:`Lifespan.startup` starts the app with a ``lifespan`` scope in its own task and
sends ``lifespan.startup``; :meth:`Lifespan.shutdown` sends ``lifespan.shutdown``. Each
waits for the app's answer, up to the configured timeout. What the answers and the
app's outcome mean is :class:`hypercorn_protocol.apps.lifespan.LifespanProtocol`'s business;
this class only runs the task, queues the messages and keeps the time.
"""

from __future__ import annotations

import asyncio

from hypercorn_protocol.apps.lifespan import LifespanConfig, LifespanRunner
from hypercorn_protocol.errors import LifespanTimeoutError
from hypercorn_protocol.typing import ASGIApp, Message


class Lifespan(LifespanRunner):
    """The lifespan protocol between one worker and its ASGI app, on asyncio."""

    def __init__(self, app: ASGIApp, config: LifespanConfig, state: dict[str, object]) -> None:
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        super().__init__(
            app,
            config,
            state,
            startup_done=self._startup_done,
            shutdown_done=self._shutdown_done,
        )
        self._queue: asyncio.Queue[Message] = asyncio.Queue(self.QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Start the app's lifespan task and wait for startup to complete.

        Raises:
            LifespanTimeoutError: No answer within ``config.startup_timeout``.
            LifespanFailureError: The app sent ``lifespan.startup.failed``.
            UnexpectedMessageError: The app sent an unknown message type and failed.
        """
        protocol = self.protocol
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._queue.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(self._startup_done.wait(), self.config.startup_timeout)
        except asyncio.TimeoutError:
            await self._cancel()
            raise LifespanTimeoutError("startup") from None
        error = protocol.startup_error()
        if error is not None:
            await self._cancel()  # a no-op when the app already ended
            raise error

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish it.

        Returns at once if lifespan is unsupported, never started or already over.

        Raises:
            LifespanTimeoutError: No answer within ``config.shutdown_timeout``.
            LifespanFailureError: The app sent ``lifespan.shutdown.failed``.
        """
        task = self._task
        protocol = self.protocol
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
        error = protocol.shutdown_error()
        if error is not None:
            raise error

    async def _run(self) -> None:
        error: Exception | None = None
        try:
            await self.app(self.protocol.scope(), self._receive, self._send)
        except Exception as exc:  # CancelledError is not an Exception: it propagates
            error = exc
        finally:
            self.app_ended(error)

    async def _receive(self) -> Message:
        return await self._queue.get()

    async def _send(self, message: Message) -> None:
        self.app_sent(message)

    async def _cancel(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        # wait() never raises the task's outcome, yet still lets our own cancellation in.
        await asyncio.wait({task})


__all__ = ["Lifespan", "LifespanConfig"]
