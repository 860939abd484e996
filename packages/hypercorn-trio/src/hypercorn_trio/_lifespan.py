"""Run the ASGI lifespan protocol for one worker.

Theory of operation. :meth:`Lifespan.startup` starts the app with a ``lifespan`` scope
in a task of the given nursery and sends ``lifespan.startup``; :meth:`Lifespan.shutdown`
sends ``lifespan.shutdown``. Each waits for the app's answer, up to the configured
timeout. The behaviour is the asyncio driver's, message for message:

* the app answers ``*.complete`` - the wait returns;
* it answers ``*.failed`` - the wait raises :class:`LifespanFailureError`;
* it returns - lifespan is over, both waits return;
* it raises before startup completed - the app does not speak lifespan (many
  frameworks ``assert scope["type"] == "http"``): a warning is logged, :attr:`supported`
  turns false and serving goes on. Raised later, the error is logged with its traceback.

An unknown message type raises :class:`UnexpectedMessageError` in the app's ``send``;
if the app lets it escape before startup completed, :meth:`startup` raises it too,
since that app is broken rather than lifespan-unaware.
"""

from __future__ import annotations

import logging
from typing import Protocol

import trio
from hypercorn_protocol.errors import (
    LifespanFailureError,
    LifespanTimeoutError,
    UnexpectedMessageError,
)
from hypercorn_protocol.typing import ASGIApp, Message, Scope

_LOGGER = logging.getLogger("hypercorn.error")
# Only two messages are ever queued (startup, shutdown).
_QUEUE_SIZE = 2


class LifespanConfig(Protocol):
    """The two settings :class:`Lifespan` reads (``Config`` has them)."""

    @property
    def startup_timeout(self) -> float: ...

    @property
    def shutdown_timeout(self) -> float: ...


class Lifespan:
    """The lifespan protocol between one worker and its ASGI app.

    Attributes:
        supported: False once the app showed it does not implement lifespan.
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
        self.supported = True
        self._send_channel, self._receive_channel = trio.open_memory_channel[Message](_QUEUE_SIZE)
        self._startup_done = trio.Event()
        self._shutdown_done = trio.Event()
        self._startup_failure: str | None = None
        self._shutdown_failure: str | None = None
        self._fatal_error: UnexpectedMessageError | None = None
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
        self._started = True
        nursery.start_soon(self._run)
        await self._send_channel.send({"type": "lifespan.startup"})
        with trio.move_on_after(self.config.startup_timeout) as timeout:
            await self._startup_done.wait()
        if timeout.cancelled_caught:
            await self._cancel()
            raise LifespanTimeoutError("startup")
        if self._fatal_error is not None:
            raise self._fatal_error
        if self._startup_failure is not None:
            await self._cancel()
            raise LifespanFailureError("startup", self._startup_failure)

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish it.

        Returns at once if lifespan is unsupported, never started or already over.

        Raises:
            LifespanTimeoutError: No answer within ``config.shutdown_timeout``.
            LifespanFailureError: The app sent ``lifespan.shutdown.failed``.
        """
        if not self._started or self._finished.is_set() or not self.supported:
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
        if self._shutdown_failure is not None:
            raise LifespanFailureError("shutdown", self._shutdown_failure)

    async def _run(self) -> None:
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"spec_version": "2.0", "version": "3.0"},
            "state": self.state,
        }
        try:
            with self._scope:
                await self.app(scope, self._receive, self._send)
        except UnexpectedMessageError as error:
            if not self._startup_done.is_set():
                self._fatal_error = error
            else:
                _LOGGER.exception("ASGI lifespan: the application sent an unexpected message")
        except Exception as error:
            if not self._startup_done.is_set():
                self.supported = False
                _LOGGER.warning(
                    "ASGI app does not support lifespan (%s: %s before startup completed); "
                    "continuing without lifespan",
                    type(error).__name__,
                    error,
                )
            else:
                _LOGGER.exception("ASGI lifespan: the application raised an error")
        finally:
            # However the app ended, nobody must wait for it any more.
            self._startup_done.set()
            self._shutdown_done.set()
            self._finished.set()

    async def _receive(self) -> Message:
        return await self._receive_channel.receive()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._startup_done.set()
        elif kind == "lifespan.startup.failed":
            self._startup_failure = str(message.get("message", ""))
            self._startup_done.set()
        elif kind == "lifespan.shutdown.complete":
            self._shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            self._shutdown_failure = str(message.get("message", ""))
            self._shutdown_done.set()
        else:
            stage = "shutdown" if self._startup_done.is_set() else "startup"
            raise UnexpectedMessageError(f"lifespan {stage}", kind)

    async def _cancel(self) -> None:
        if not self._started or self._finished.is_set():
            return
        self._scope.cancel()
        await self._finished.wait()


__all__ = ["Lifespan", "LifespanConfig"]
