"""Run the ASGI lifespan protocol for one worker on trio.

:meth:`Lifespan.startup` starts the app with a ``lifespan`` scope in a task of the given
nursery and sends ``lifespan.startup``; :meth:`Lifespan.shutdown` sends
``lifespan.shutdown``. Each waits for the app's answer, up to the configured timeout.
What the answers and the app's outcome mean is
:class:`hypercorn_protocol.apps.lifespan.LifespanProtocol`'s business, shared with the
asyncio driver; this class only runs the task, queues the messages and keeps the time.
"""

from __future__ import annotations

import trio
from hypercorn_protocol.apps.lifespan import LifespanConfig, LifespanRunner
from hypercorn_protocol.errors import LifespanTimeoutError
from hypercorn_protocol.typing import ASGIApp, Message


class Lifespan(LifespanRunner):
    """The lifespan protocol between one worker and its ASGI app, on trio."""

    def __init__(self, app: ASGIApp, config: LifespanConfig, state: dict[str, object]) -> None:
        self._startup_done = trio.Event()
        self._shutdown_done = trio.Event()
        super().__init__(
            app,
            config,
            state,
            startup_done=self._startup_done,
            shutdown_done=self._shutdown_done,
        )
        self._send_channel, self._receive_channel = trio.open_memory_channel[Message](
            self.QUEUE_SIZE
        )
        self._scope = trio.CancelScope()
        self._started = False
        self._finished = trio.Event()

    async def startup(self, nursery: trio.Nursery) -> None:
        """Start the app's lifespan task in ``nursery`` and wait for startup to complete.

        Args:
            nursery: Where the lifespan task runs; it must outlive :meth:`shutdown`.

        Raises:
            LifespanTimeoutError: No answer within ``config.startup_timeout``.
            LifespanFailureError: The app sent ``lifespan.startup.failed``.
            UnexpectedMessageError: The app sent an unknown message type and failed.
        """
        protocol = self.protocol
        self._started = True
        nursery.start_soon(self._run)
        await self._send_channel.send({"type": "lifespan.startup"})
        with trio.move_on_after(self.config.startup_timeout) as timeout:
            await self._startup_done.wait()
        if timeout.cancelled_caught:
            await self._cancel()
            raise LifespanTimeoutError("startup")
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
        protocol = self.protocol
        if not self._started or self._finished.is_set() or not protocol.supported:
            return
        deadline = trio.current_time() + self.config.shutdown_timeout
        await self._send_channel.send({"type": "lifespan.shutdown"})
        with trio.move_on_at(deadline) as timeout:
            await self._shutdown_done.wait()
        if timeout.cancelled_caught:
            await self._cancel()
            raise LifespanTimeoutError("shutdown")
        # Let the app return by itself after answering; cancel it if it lingers.
        with trio.move_on_at(deadline):
            await self._finished.wait()
        await self._cancel()
        error = protocol.shutdown_error()
        if error is not None:
            raise error

    async def _run(self) -> None:
        error: Exception | None = None
        try:
            with self._scope:
                await self.app(self.protocol.scope(), self._receive, self._send)
        except Exception as exc:  # trio.Cancelled is not an Exception: it propagates
            error = exc
        finally:
            self.app_ended(error)
            self._finished.set()

    async def _receive(self) -> Message:
        return await self._receive_channel.receive()

    async def _send(self, message: Message) -> None:
        self.app_sent(message)

    async def _cancel(self) -> None:
        if not self._started or self._finished.is_set():
            return
        self._scope.cancel()
        await self._finished.wait()


__all__ = ["Lifespan", "LifespanConfig"]
