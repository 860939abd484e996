"""Errors. Peer misbehaviour never raises out of the core; these are for local misuse
(an app breaking the ASGI rules), for app loading, and for lifespan failures.

The Hypercorn 0.18 names (``hypercorn.utils.*Error``) are the same classes.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of protocol errors. ``status_hint`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status_hint: int = 400) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol (carried by ``CloseConnection.error``)."""


class LocalProtocolError(ProtocolError):
    """The app or the driver used the connection wrongly."""


class UnexpectedMessageError(LocalProtocolError):
    """The app sent an ASGI message that is not valid in the stream's state."""

    def __init__(self, state: object, message_type: object) -> None:
        super().__init__(f"Unexpected message type, {message_type!r} given the state {state}")
        self.state = state
        self.message_type = message_type


class InvalidMessageError(LocalProtocolError, ValueError):
    """The app sent a malformed ASGI message: a status, header, close code, push path,
    subprotocol or payload that no state would accept.

    A :class:`ValueError` too, so code that caught ``ValueError`` keeps working.
    """


class WebSocketClosedError(OSError):
    """Raised from the app's ``send`` when its WebSocket is already closed (ASGI 2.4)."""


class NoAppError(Exception):
    """The application could not be loaded from the given path."""


class LifespanTimeoutError(Exception):
    """The app did not complete lifespan startup or shutdown in time."""

    def __init__(self, stage: str) -> None:
        super().__init__(
            f"Timeout whilst awaiting {stage}. Your application may not support the ASGI "
            "Lifespan protocol correctly, alternatively the "
            f"{stage}_timeout configuration is incorrect."
        )
        self.stage = stage


class LifespanFailureError(Exception):
    """The app reported ``lifespan.startup.failed`` or ``lifespan.shutdown.failed``."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"Lifespan failure in {stage}. '{message}'")
        self.stage = stage
        self.message = message


class ShutdownError(Exception):
    """Raised inside a worker to unwind it when shutdown is requested."""


class InvalidPathError(Exception):
    """Hypercorn 0.18's name for a request path outside ``root_path``; kept for imports.

    Never raised here: the WSGI bridge takes such a path as already relative.
    """


__all__ = [
    "InvalidMessageError",
    "InvalidPathError",
    "LifespanFailureError",
    "LifespanTimeoutError",
    "LocalProtocolError",
    "NoAppError",
    "ProtocolError",
    "RemoteProtocolError",
    "ShutdownError",
    "UnexpectedMessageError",
    "WebSocketClosedError",
]
