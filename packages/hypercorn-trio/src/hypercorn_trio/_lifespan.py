"""Run the ASGI lifespan protocol for one worker on trio.

:meth:`Lifespan.startup` starts the app with a ``lifespan`` scope in a task of the given
nursery and sends ``lifespan.startup``; :meth:`Lifespan.shutdown` sends
``lifespan.shutdown``. Each waits for the app's answer, up to the configured timeout.
What the answers and the app's outcome mean is
:class:`hypercorn_protocol.lifespan.LifespanProtocol`'s business, shared with the
asyncio driver; this class only runs the task, queues the messages and keeps the time.
"""

from __future__ import annotations

import trio
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
        self._send_channel, self._receive_channel = trio.open_memory_channel[Message](_QUEUE_SIZE)
        self._startup_done = trio.Event()
        self._shutdown_done = trio.Event()
        self._scope = trio.CancelScope()
        self._started = False
        self._finished = trio.Event()

    @property
    def supported(self) -> bool:
        """False once the app showed it does not implement lifespan."""
        return self._protocol.supported

    async def startup(self, nursery: trio.Nursery) -> None:
        """Start the app's lifespan task in ``nursery`` and wait for startup to complete.

        Args:
            nursery: Where the lifespan task runs; it must outlive :meth:`shutdown`.

        Raises:
            LifespanTimeoutError: No answer within ``config.startup_timeout``.
            LifespanFailureError: The app sent ``lifespan.startup.failed``.
            UnexpectedMessageError: The app sent an unknown message type and failed.
        """
        protocol = self._protocol
        self._started = True
        nursery.start_soon(self._run)
        await self._send_channel.send({"type": "lifespan.startup"})
        with trio.move_on_after(self.config.startup_timeout) as timeout:
            await self._startup_done.wait()
        if timeout.cancelled_caught:
            await self._cancel()
            raise LifespanTimeoutError("startup")
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
        protocol = self._protocol
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
        if protocol.shutdown_failure is not None:
            raise LifespanFailureError("shutdown", protocol.shutdown_failure)

    async def _run(self) -> None:
        error: Exception | None = None
        try:
            with self._scope:
                await self.app(self._protocol.scope(), self._receive, self._send)
        except Exception as exc:  # trio.Cancelled is not an Exception: it propagates
            error = exc
        finally:
            self._protocol.app_ended(error)
            self._sync()
            self._finished.set()

    async def _receive(self) -> Message:
        return await self._receive_channel.receive()

    async def _send(self, message: Message) -> None:
        self._protocol.app_sent(message)
        self._sync()

    def _sync(self) -> None:
        if self._protocol.startup_answered:
            self._startup_done.set()
        if self._protocol.shutdown_answered:
            self._shutdown_done.set()

    async def _cancel(self) -> None:
        if not self._started or self._finished.is_set():
            return
        self._scope.cancel()
        await self._finished.wait()


__all__ = ["Lifespan", "LifespanConfig"]
