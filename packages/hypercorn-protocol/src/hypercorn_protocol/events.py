"""Events a :class:`~hypercorn_protocol.ServerConnection` hands to its driver.

The driver drains them with ``conn.next_event()`` after every input (bytes, a
timer, an app message) and acts on each:

* :class:`StartApp` - start ``app(scope, receive, send)`` for a new stream;
* :class:`AppMessage` - make ``message`` the next thing that stream's ``receive()``
  returns (the driver keeps one small FIFO per stream);
* :class:`PauseReading` / :class:`ResumeReading` - stop / restart reading the socket
  (the app is not keeping up, or pipelined requests are waiting);
* :class:`StreamWritable` - a stream that was waiting for flow-control window may
  send again (HTTP/2 and HTTP/3);
* :class:`RequestCompleted` - one request/response exchange finished (access log,
  metrics, ``max_requests``);
* :class:`RequestRefused` - a deadline or a limit refused a request (metrics);
* :class:`CloseConnection` - write what ``data_to_send()`` still holds, then close.

Events are small frozen dataclasses; do not subclass them.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from hypercorn_protocol.typing import ASGIScope, Headers, Message

_T = TypeVar("_T")


def _fast_init(frozen: type[_T]) -> type[_T]:
    """Give a ``@dataclass(frozen=True, slots=True)`` an ``__init__`` that fills the slots
    directly.

    The ``__init__`` dataclasses generates for a frozen class goes through
    ``object.__setattr__`` once per field, which made building an event several times
    dearer than building a plain object; events are made several times per request.
    The replacement has the same signature and defaults; the instances stay frozen
    (assignment still raises ``FrozenInstanceError``).
    """
    namespace: dict[str, Any] = {"_NO_VALUE": object()}
    params = []
    body = []
    for item in fields(frozen):  # type: ignore[arg-type]
        name = item.name
        namespace[f"_set_{name}"] = getattr(frozen, name).__set__  # the slot's descriptor
        if item.default is not MISSING:
            namespace[f"_default_{name}"] = item.default
            params.append(f"{name}=_default_{name}")
        elif item.default_factory is not MISSING:
            namespace[f"_factory_{name}"] = item.default_factory
            params.append(f"{name}=_NO_VALUE")
            body.append(f"    if {name} is _NO_VALUE:\n        {name} = _factory_{name}()")
        else:
            params.append(name)
        body.append(f"    _set_{name}(self, {name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    exec(source, namespace)  # built from the field names above only
    init = namespace["__init__"]
    init.__qualname__ = f"{frozen.__qualname__}.__init__"
    init.__doc__ = frozen.__init__.__doc__
    setattr(frozen, "__init__", init)  # noqa: B010
    return frozen


class Event:
    """Base class of every connection event."""

    __slots__ = ()


@_fast_init
@dataclass(frozen=True, slots=True)
class StartApp(Event):
    """Run the ASGI app for ``stream_id`` with ``scope``."""

    stream_id: int
    scope: ASGIScope


@_fast_init
@dataclass(frozen=True, slots=True)
class AppMessage(Event):
    """Queue ``message`` for the app of ``stream_id`` (its next ``receive()``)."""

    stream_id: int
    message: Message


@_fast_init
@dataclass(frozen=True, slots=True)
class PauseReading(Event):
    """Stop reading from the peer until :class:`ResumeReading`."""


@_fast_init
@dataclass(frozen=True, slots=True)
class ResumeReading(Event):
    """Reading may continue."""


@_fast_init
@dataclass(frozen=True, slots=True)
class StreamWritable(Event):
    """The app of ``stream_id`` may send more body data."""

    stream_id: int


@_fast_init
@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """What the access log needs to know of a response."""

    status: int
    headers: Headers = field(default_factory=list)
    body_bytes: int = 0


@_fast_init
@dataclass(frozen=True, slots=True)
class RequestCompleted(Event):
    """A request finished; ``response`` is None when none was sent.

    ``start`` and ``end`` are the ``now`` values the connection was given when the
    request head arrived and when the exchange finished.
    """

    stream_id: int
    scope: ASGIScope
    response: ResponseSummary | None
    start: float
    end: float


#: The ``reason`` of a :class:`RequestRefused`: the option that refused the request.
REFUSAL_REASONS = (
    "request_header_timeout",
    "request_body_timeout",
    "response_write_timeout",
    "max_request_body_size",
)


@_fast_init
@dataclass(frozen=True, slots=True)
class RequestRefused(Event):
    """A deadline or a limit ended a request: ``reason`` is the option's name.

    ``status`` is the answer written (408, 413), or None when there was none to give
    (the response had begun: the stream was reset or the connection closed).
    ``stream_id`` is 0 when no stream had started (a request head that never
    completed, a connection that stopped reading). Emitted once per refusal, for
    metrics; the access log sees the exchange through :class:`RequestCompleted`.
    """

    reason: str
    status: int | None
    stream_id: int = 0


@_fast_init
@dataclass(frozen=True, slots=True)
class CloseConnection(Event):
    """Flush ``data_to_send()`` and close. ``error`` says why, when it was the peer.

    ``discard``: the peer stopped taking bytes (``response_write_timeout``), so what
    is still unsent is dropped and the transport is aborted, not flushed.

    ``linger``: the peer may still be sending (a request answered before its body or
    head was read to the end). Closing a socket with unread input makes the kernel
    answer with a reset, which can destroy the response before the peer reads it; the
    driver half-closes instead and reads and drops what comes until the peer closes,
    for at most :data:`~hypercorn_protocol.driving.LINGER_TIMEOUT` seconds.
    """

    error: Exception | None = None
    discard: bool = False
    linger: bool = False


__all__ = [
    "AppMessage",
    "CloseConnection",
    "Event",
    "PauseReading",
    "REFUSAL_REASONS",
    "RequestCompleted",
    "RequestRefused",
    "ResponseSummary",
    "ResumeReading",
    "StartApp",
    "StreamWritable",
]
