"""ASGI 3 and WSGI types.

Two families live here:

* Hypercorn 0.18's ``hypercorn.typing`` names, with its definitions: the ASGI scopes
  and messages as ``TypedDict`` s (``HTTPScope``, ``HTTPResponseBodyEvent``, ...), their
  unions (``Scope``, ``ASGIReceiveEvent``, ``ASGISendEvent``) and the callables built
  on them (``ASGIFramework``, ``ASGIReceiveCallable``, ``ASGISendCallable``). Code
  written against Hypercorn (Quart, for one) imports and type-checks against these.
  0.18's internal protocols (``TaskGroup``, ``WorkerContext``, ``H2SyncStream``, ...)
  are kept by name for imports; nothing here implements them.
* The loose aliases the server itself uses (``ASGIScope``, ``Message``, ``ASGIReceive``,
  ``ASGISend``, ``ASGIApp``): scopes and messages are plain dicts at run time, and a
  server handles every kind of them through one code path, which a union of
  ``TypedDict`` s would make the type checker reject key by key.
"""

# No ``from __future__ import annotations`` here: TypedDict reads ``NotRequired`` from
# evaluated annotations only, so later classes and type-only imports are quoted instead.

import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NewType, Protocol, TypeAlias

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.10: only typing_extensions' TypedDict knows NotRequired
    from typing_extensions import NotRequired, TypedDict

if TYPE_CHECKING:
    # The core is sans-IO: multiprocessing (threads) and the config stay type-only.
    from multiprocessing.synchronize import Event as EventType

    # h11 and h2 stay type-only too: a process that only reads the config (the
    # supervisor) must not load the protocol libraries for these annotations.
    import h2.events
    import h11

    from hypercorn_protocol.config import Config, Sockets

# ----------------------------------------------------------------- the server's own aliases

ASGIScope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
ASGIReceive: TypeAlias = Callable[[], Awaitable[Message]]
ASGISend: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]

Headers: TypeAlias = list[tuple[bytes, bytes]]
RawHeaders: TypeAlias = Iterable[tuple[bytes, bytes]]

StartResponse: TypeAlias = Callable[..., Callable[[bytes], None]]
WSGIEnviron: TypeAlias = dict[str, Any]

# --------------------------------------------------------------- Hypercorn 0.18's names

if TYPE_CHECKING:
    H11SendableEvent: TypeAlias = (
        h11.Data | h11.EndOfMessage | h11.InformationalResponse | h11.Response
    )


def __getattr__(name: str) -> Any:
    # H11SendableEvent is a runtime union of h11 classes: built on first use (PEP 562).
    if name == "H11SendableEvent":
        import h11

        alias = h11.Data | h11.EndOfMessage | h11.InformationalResponse | h11.Response
        globals()[name] = alias
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


WorkerFunc: TypeAlias = "Callable[[Config, Sockets | None, EventType | None], None]"

LifespanState: TypeAlias = dict[str, Any]

ConnectionState = NewType("ConnectionState", dict[str, Any])


class ASGIVersions(TypedDict, total=False):
    spec_version: str
    version: Literal["2.0", "3.0"]


class HTTPScope(TypedDict):
    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    state: ConnectionState
    extensions: dict[str, dict[Any, Any]]


class WebsocketScope(TypedDict):
    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    subprotocols: Iterable[str]
    state: ConnectionState
    extensions: dict[str, dict[Any, Any]]


class LifespanScope(TypedDict):
    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: LifespanState


WWWScope: TypeAlias = HTTPScope | WebsocketScope
Scope: TypeAlias = HTTPScope | WebsocketScope | LifespanScope


class HTTPRequestEvent(TypedDict):
    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPResponseStartEvent(TypedDict):
    type: Literal["http.response.start"]
    status: int
    headers: Iterable[tuple[bytes, bytes]]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    type: Literal["http.response.body"]
    body: bytes
    more_body: bool


class HTTPResponseTrailersEvent(TypedDict):
    type: Literal["http.response.trailers"]
    headers: Iterable[tuple[bytes, bytes]]
    more_trailers: NotRequired[bool]


class HTTPServerPushEvent(TypedDict):
    type: Literal["http.response.push"]
    path: str
    headers: Iterable[tuple[bytes, bytes]]


class HTTPEarlyHintEvent(TypedDict):
    type: Literal["http.response.early_hint"]
    links: Iterable[bytes]


class HTTPDisconnectEvent(TypedDict):
    type: Literal["http.disconnect"]


class WebsocketConnectEvent(TypedDict):
    type: Literal["websocket.connect"]


class WebsocketAcceptEvent(TypedDict):
    type: Literal["websocket.accept"]
    subprotocol: str | None
    headers: Iterable[tuple[bytes, bytes]]


class WebsocketReceiveEvent(TypedDict):
    type: Literal["websocket.receive"]
    bytes: bytes | None
    text: str | None


class WebsocketSendEvent(TypedDict):
    type: Literal["websocket.send"]
    bytes: bytes | None
    text: str | None


class WebsocketResponseStartEvent(TypedDict):
    type: Literal["websocket.http.response.start"]
    status: int
    headers: Iterable[tuple[bytes, bytes]]


class WebsocketResponseBodyEvent(TypedDict):
    type: Literal["websocket.http.response.body"]
    body: bytes
    more_body: bool


class WebsocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    code: int


class WebsocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: int
    reason: str | None


class LifespanStartupEvent(TypedDict):
    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    type: Literal["lifespan.startup.failed"]
    message: str


class LifespanShutdownCompleteEvent(TypedDict):
    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    type: Literal["lifespan.shutdown.failed"]
    message: str


ASGIReceiveEvent: TypeAlias = (
    HTTPRequestEvent
    | HTTPDisconnectEvent
    | WebsocketConnectEvent
    | WebsocketReceiveEvent
    | WebsocketDisconnectEvent
    | LifespanStartupEvent
    | LifespanShutdownEvent
)

ASGISendEvent: TypeAlias = (
    HTTPResponseStartEvent
    | HTTPResponseBodyEvent
    | HTTPResponseTrailersEvent
    | HTTPServerPushEvent
    | HTTPEarlyHintEvent
    | HTTPDisconnectEvent
    | WebsocketAcceptEvent
    | WebsocketSendEvent
    | WebsocketResponseStartEvent
    | WebsocketResponseBodyEvent
    | WebsocketCloseEvent
    | LifespanStartupCompleteEvent
    | LifespanStartupFailedEvent
    | LifespanShutdownCompleteEvent
    | LifespanShutdownFailedEvent
)

ASGIReceiveCallable: TypeAlias = Callable[[], Awaitable[ASGIReceiveEvent]]
ASGISendCallable: TypeAlias = Callable[[ASGISendEvent], Awaitable[None]]

ASGIFramework: TypeAlias = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]
WSGIFramework: TypeAlias = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Framework: TypeAlias = ASGIFramework | WSGIFramework


class ResponseSummary(TypedDict):
    status: int
    headers: Iterable[tuple[bytes, bytes]]


# Hypercorn 0.18's internal seams, kept as names only: this server is built differently
# (a sans-IO core and thin drivers), so nothing here implements or accepts them.


class H2SyncStream(Protocol):
    scope: dict[str, Any]

    def data_received(self, data: bytes) -> None: ...

    def ended(self) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...

    async def handle_request(
        self,
        event: "h2.events.RequestReceived",
        scheme: str,
        client: tuple[str, int],
        server: tuple[str, int],
    ) -> None: ...


class H2AsyncStream(Protocol):
    scope: dict[str, Any]

    async def data_received(self, data: bytes) -> None: ...

    async def ended(self) -> None: ...

    async def reset(self) -> None: ...

    async def close(self) -> None: ...

    async def handle_request(
        self,
        event: "h2.events.RequestReceived",
        scheme: str,
        client: tuple[str, int],
        server: tuple[str, int],
    ) -> None: ...


class Event(Protocol):
    def __init__(self) -> None: ...

    async def clear(self) -> None: ...

    async def set(self) -> None: ...

    async def wait(self) -> None: ...

    def is_set(self) -> bool: ...


class WorkerContext(Protocol):
    event_class: type[Event]
    single_task_class: type["SingleTask"]
    terminate: Event
    terminated: Event

    async def mark_request(self) -> None: ...

    @staticmethod
    async def sleep(wait: float) -> None: ...

    @staticmethod
    def time() -> float: ...


class TaskGroup(Protocol):
    async def spawn_app(
        self,
        app: "AppWrapper",
        config: "Config",
        scope: Scope,
        send: Callable[[ASGISendEvent | None], Awaitable[None]],
    ) -> Callable[[ASGIReceiveEvent], Awaitable[None]]: ...

    def spawn(self, func: Callable[..., Any], *args: Any) -> None: ...

    async def __aenter__(self) -> "TaskGroup": ...

    async def __aexit__(
        self, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType
    ) -> None: ...


class AppWrapper(Protocol):
    async def __call__(
        self,
        scope: Scope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        sync_spawn: Callable[..., Any],
        call_soon: Callable[..., Any],
    ) -> None: ...


class SingleTask(Protocol):
    def __init__(self) -> None: ...

    async def restart(self, task_group: TaskGroup, action: Callable[..., Any]) -> None: ...

    async def stop(self) -> None: ...


__all__ = [
    # the server's own aliases
    "ASGIApp",
    "ASGIReceive",
    "ASGIScope",
    "ASGISend",
    "Headers",
    "Message",
    "RawHeaders",
    "StartResponse",
    "WSGIEnviron",
    # Hypercorn 0.18's names
    "ASGIFramework",
    "ASGIReceiveCallable",
    "ASGIReceiveEvent",
    "ASGISendCallable",
    "ASGISendEvent",
    "ASGIVersions",
    "AppWrapper",
    "ConnectionState",
    "Event",
    "Framework",
    "H11SendableEvent",
    "H2AsyncStream",
    "H2SyncStream",
    "HTTPDisconnectEvent",
    "HTTPEarlyHintEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "HTTPServerPushEvent",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "LifespanState",
    "ResponseSummary",
    "Scope",
    "SingleTask",
    "TaskGroup",
    "WSGIFramework",
    "WWWScope",
    "WebsocketAcceptEvent",
    "WebsocketCloseEvent",
    "WebsocketConnectEvent",
    "WebsocketDisconnectEvent",
    "WebsocketReceiveEvent",
    "WebsocketResponseBodyEvent",
    "WebsocketResponseStartEvent",
    "WebsocketScope",
    "WebsocketSendEvent",
    "WorkerContext",
    "WorkerFunc",
]
