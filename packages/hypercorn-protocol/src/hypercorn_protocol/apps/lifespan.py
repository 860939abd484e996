"""The ASGI lifespan protocol, without the waiting: what each message and outcome means.

A driver runs the app with :meth:`LifespanProtocol.scope` in a task of its own, gives it
``lifespan.startup`` and ``lifespan.shutdown`` through a queue, and waits with its own
timeouts; every message the app sends goes through :meth:`app_sent`, and the way the
app's call ended through :meth:`app_ended`. The answers are read back from the
attributes. The app's call ends in one of four ways:

* it answers ``*.complete`` - the stage is answered, with no failure;
* it answers ``*.failed`` - the stage is answered with the app's message;
* it returns - lifespan is over, both stages count as answered;
* it raises before startup completed - the app does not speak lifespan (many frameworks
  ``assert scope["type"] == "http"``): a warning is logged, :attr:`supported` turns
  false and serving goes on. Raised later, the error is logged with its traceback.

An unknown message type raises :class:`UnexpectedMessageError` in the app's ``send``;
if the app lets it escape before startup completed, it becomes :attr:`fatal_error`,
since that app is broken rather than lifespan-unaware.
"""

from __future__ import annotations

import logging
from typing import Protocol

from hypercorn_protocol.errors import LifespanFailureError, UnexpectedMessageError
from hypercorn_protocol.typing import ASGIApp, ASGIScope, Message

_LOGGER = logging.getLogger("hypercorn.error")


class LifespanConfig(Protocol):
    """The two settings a lifespan driver reads (``Config`` has them)."""

    @property
    def startup_timeout(self) -> float: ...

    @property
    def shutdown_timeout(self) -> float: ...


class LifespanProtocol:
    """The state of one worker's lifespan conversation with its app.

    Attributes:
        supported: False once the app showed it does not implement lifespan.
        startup_answered / shutdown_answered: the app answered that stage, or ended.
        startup_failure / shutdown_failure: the message of a ``*.failed`` answer.
        fatal_error: an unexpected message the app let escape before startup completed.
    """

    def __init__(self, state: dict[str, object]) -> None:
        self.state = state
        self.supported = True
        self.startup_answered = False
        self.shutdown_answered = False
        self.startup_failure: str | None = None
        self.shutdown_failure: str | None = None
        self.fatal_error: UnexpectedMessageError | None = None

    def scope(self) -> ASGIScope:
        return {
            "type": "lifespan",
            "asgi": {"spec_version": "2.0", "version": "3.0"},
            "state": self.state,
        }

    def app_sent(self, message: Message) -> None:
        """The app called ``send(message)``.

        Raises:
            UnexpectedMessageError: not a lifespan answer.
        """
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.startup_answered = True
        elif kind == "lifespan.startup.failed":
            self.startup_failure = str(message.get("message", ""))
            self.startup_answered = True
        elif kind == "lifespan.shutdown.complete":
            self.shutdown_answered = True
        elif kind == "lifespan.shutdown.failed":
            self.shutdown_failure = str(message.get("message", ""))
            self.shutdown_answered = True
        else:
            stage = "shutdown" if self.startup_answered else "startup"
            raise UnexpectedMessageError(f"lifespan {stage}", kind)

    def startup_error(self) -> Exception | None:
        """What a driver's ``startup`` raises once the stage is answered, if anything."""
        if self.fatal_error is not None:
            return self.fatal_error
        if self.startup_failure is not None:
            return LifespanFailureError("startup", self.startup_failure)
        return None

    def shutdown_error(self) -> Exception | None:
        """What a driver's ``shutdown`` raises once the app is done, if anything."""
        if self.shutdown_failure is not None:
            return LifespanFailureError("shutdown", self.shutdown_failure)
        return None

    def app_ended(self, error: Exception | None) -> None:
        """The app's call returned (``error`` None) or raised ``error``; not cancellation."""
        if isinstance(error, UnexpectedMessageError):
            if not self.startup_answered:
                self.fatal_error = error
            else:
                _LOGGER.error(
                    "ASGI lifespan: the application sent an unexpected message", exc_info=error
                )
        elif error is not None:
            if not self.startup_answered:
                self.supported = False
                _LOGGER.warning(
                    "ASGI app does not support lifespan (%s: %s before startup completed); "
                    "continuing without lifespan",
                    type(error).__name__,
                    error,
                )
            else:
                _LOGGER.error("ASGI lifespan: the application raised an error", exc_info=error)
        # However the app ended, nobody must wait for it any more.
        self.startup_answered = True
        self.shutdown_answered = True


class _Flag(Protocol):
    def set(self) -> None: ...


class LifespanRunner:
    """What a driver's lifespan runner does the same on every event loop.

    The driver supplies two events (``set()`` is all this class calls), sets up its
    queue and task, and routes the app's ``send`` to :meth:`app_sent` and the end of the
    app's call to :meth:`app_ended`.

    Attributes:
        state: The dict passed as ``scope["state"]``; connection scopes copy it.
    """

    #: Only two messages are ever queued (startup, shutdown).
    QUEUE_SIZE = 2

    def __init__(
        self,
        app: ASGIApp,
        config: LifespanConfig,
        state: dict[str, object],
        *,
        startup_done: _Flag,
        shutdown_done: _Flag,
    ) -> None:
        """Prepare (nothing runs until the driver's ``startup``).

        Args:
            app: The ASGI app.
            config: Supplies ``startup_timeout`` and ``shutdown_timeout`` (seconds).
            state: Shared with the app as ``scope["state"]``.
            startup_done / shutdown_done: The driver's events, set once a stage is over.
        """
        self.app = app
        self.config = config
        self.state = state
        self.protocol = LifespanProtocol(state)
        self._startup_flag = startup_done
        self._shutdown_flag = shutdown_done

    @property
    def supported(self) -> bool:
        """False once the app showed it does not implement lifespan."""
        return self.protocol.supported

    def app_sent(self, message: Message) -> None:
        """The app's ``send``: see :meth:`LifespanProtocol.app_sent`."""
        self.protocol.app_sent(message)
        self._sync()

    def app_ended(self, error: Exception | None) -> None:
        """The app's call is over: see :meth:`LifespanProtocol.app_ended`."""
        self.protocol.app_ended(error)
        self._sync()

    def _sync(self) -> None:
        if self.protocol.startup_answered:
            self._startup_flag.set()
        if self.protocol.shutdown_answered:
            self._shutdown_flag.set()


__all__ = ["LifespanConfig", "LifespanProtocol", "LifespanRunner"]
