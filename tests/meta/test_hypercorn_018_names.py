"""Hypercorn 0.18's ``hypercorn.typing`` names and ``hypercorn.middleware`` submodules.

The lists are the contract, taken from Hypercorn 0.18.0's own modules: code written
against it (Quart imports a dozen ``hypercorn.typing`` names) must import unchanged.
"""

from __future__ import annotations

import importlib
import sys
import typing

import pytest

# Every module-level public name of Hypercorn 0.18.0's hypercorn/typing.py (46).
TYPING_NAMES = [
    "H11SendableEvent",
    "WorkerFunc",
    "LifespanState",
    "ConnectionState",
    "ASGIVersions",
    "HTTPScope",
    "WebsocketScope",
    "LifespanScope",
    "WWWScope",
    "Scope",
    "HTTPRequestEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseTrailersEvent",
    "HTTPServerPushEvent",
    "HTTPEarlyHintEvent",
    "HTTPDisconnectEvent",
    "WebsocketConnectEvent",
    "WebsocketAcceptEvent",
    "WebsocketReceiveEvent",
    "WebsocketSendEvent",
    "WebsocketResponseStartEvent",
    "WebsocketResponseBodyEvent",
    "WebsocketDisconnectEvent",
    "WebsocketCloseEvent",
    "LifespanStartupEvent",
    "LifespanShutdownEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupFailedEvent",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownFailedEvent",
    "ASGIReceiveEvent",
    "ASGISendEvent",
    "ASGIReceiveCallable",
    "ASGISendCallable",
    "ASGIFramework",
    "WSGIFramework",
    "Framework",
    "H2SyncStream",
    "H2AsyncStream",
    "Event",
    "WorkerContext",
    "TaskGroup",
    "ResponseSummary",
    "AppWrapper",
    "SingleTask",
]

# Each hypercorn.middleware submodule of 0.18 and the public names it defines.
MIDDLEWARE_MODULES = {
    "hypercorn.middleware.dispatcher": [
        "MAX_QUEUE_SIZE",
        "AsyncioDispatcherMiddleware",
        "TrioDispatcherMiddleware",
        "DispatcherMiddleware",
    ],
    "hypercorn.middleware.http_to_https": ["HTTPToHTTPSRedirectMiddleware"],
    "hypercorn.middleware.proxy_fix": ["ProxyFixMiddleware"],
    "hypercorn.middleware.wsgi": [
        "MAX_BODY_SIZE",
        "WSGICallable",
        "InvalidPathError",
        "AsyncioWSGIMiddleware",
        "TrioWSGIMiddleware",
    ],
}


def test_the_reference_list_is_complete() -> None:
    assert len(TYPING_NAMES) == len(set(TYPING_NAMES)) == 46


@pytest.mark.parametrize("name", TYPING_NAMES)
def test_typing_name_imports_from_hypercorn_typing(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from hypercorn.typing import {name} as imported", namespace)

    assert namespace["imported"] is getattr(
        importlib.import_module("hypercorn_protocol.typing"), name
    )


def test_hypercorn_typing_lists_every_018_name() -> None:
    import hypercorn.typing

    assert set(TYPING_NAMES) <= set(hypercorn.typing.__all__)


# (TypedDict, its keys, the message "type" it carries) - the ASGI spec, as 0.18 spells it.
EVENTS = [
    ("HTTPRequestEvent", {"type", "body", "more_body"}, "http.request"),
    ("HTTPResponseStartEvent", {"type", "status", "headers", "trailers"}, "http.response.start"),
    ("HTTPResponseBodyEvent", {"type", "body", "more_body"}, "http.response.body"),
    (
        "HTTPResponseTrailersEvent",
        {"type", "headers", "more_trailers"},
        "http.response.trailers",
    ),
    ("HTTPServerPushEvent", {"type", "path", "headers"}, "http.response.push"),
    ("HTTPEarlyHintEvent", {"type", "links"}, "http.response.early_hint"),
    ("HTTPDisconnectEvent", {"type"}, "http.disconnect"),
    ("WebsocketConnectEvent", {"type"}, "websocket.connect"),
    ("WebsocketAcceptEvent", {"type", "subprotocol", "headers"}, "websocket.accept"),
    ("WebsocketReceiveEvent", {"type", "bytes", "text"}, "websocket.receive"),
    ("WebsocketSendEvent", {"type", "bytes", "text"}, "websocket.send"),
    (
        "WebsocketResponseStartEvent",
        {"type", "status", "headers"},
        "websocket.http.response.start",
    ),
    (
        "WebsocketResponseBodyEvent",
        {"type", "body", "more_body"},
        "websocket.http.response.body",
    ),
    ("WebsocketDisconnectEvent", {"type", "code"}, "websocket.disconnect"),
    ("WebsocketCloseEvent", {"type", "code", "reason"}, "websocket.close"),
    ("LifespanStartupEvent", {"type"}, "lifespan.startup"),
    ("LifespanShutdownEvent", {"type"}, "lifespan.shutdown"),
    ("LifespanStartupCompleteEvent", {"type"}, "lifespan.startup.complete"),
    ("LifespanStartupFailedEvent", {"type", "message"}, "lifespan.startup.failed"),
    ("LifespanShutdownCompleteEvent", {"type"}, "lifespan.shutdown.complete"),
    ("LifespanShutdownFailedEvent", {"type", "message"}, "lifespan.shutdown.failed"),
]


@pytest.mark.parametrize(("name", "keys", "message_type"), EVENTS, ids=[e[0] for e in EVENTS])
def test_events_are_typed_dicts_of_the_asgi_spec(
    name: str, keys: set[str], message_type: str
) -> None:
    import hypercorn.typing

    event = getattr(hypercorn.typing, name)
    hints = typing.get_type_hints(event)

    if sys.version_info >= (3, 11):
        assert typing.is_typeddict(event)
    else:  # the core uses typing_extensions' TypedDict there, which typing's check misses
        import typing_extensions

        assert typing_extensions.is_typeddict(event)
    assert set(hints) == keys
    assert typing.get_args(hints["type"]) == (message_type,)


def test_optional_response_keys_are_not_required() -> None:
    from hypercorn.typing import HTTPResponseStartEvent, HTTPResponseTrailersEvent

    assert HTTPResponseStartEvent.__optional_keys__ == frozenset({"trailers"})
    assert HTTPResponseTrailersEvent.__optional_keys__ == frozenset({"more_trailers"})


def test_scopes_and_unions() -> None:
    from hypercorn import typing as ht

    assert typing.get_args(typing.get_type_hints(ht.HTTPScope)["type"]) == ("http",)
    assert "subprotocols" in typing.get_type_hints(ht.WebsocketScope)
    assert set(typing.get_type_hints(ht.LifespanScope)) == {"type", "asgi", "state"}
    assert set(typing.get_args(ht.Scope)) == {ht.HTTPScope, ht.WebsocketScope, ht.LifespanScope}
    assert set(typing.get_args(ht.WWWScope)) == {ht.HTTPScope, ht.WebsocketScope}
    assert len(typing.get_args(ht.ASGIReceiveEvent)) == 7
    assert len(typing.get_args(ht.ASGISendEvent)) == 15
    assert set(typing.get_args(ht.Framework)) == {ht.ASGIFramework, ht.WSGIFramework}
    assert ht.ConnectionState({"a": 1}) == {"a": 1}  # a NewType over dict


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in MIDDLEWARE_MODULES.items() for name in names],
)
def test_middleware_submodule_name_imports(module: str, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module} import {name} as imported", namespace)

    assert namespace["imported"] is not None


@pytest.mark.parametrize("module", MIDDLEWARE_MODULES)
def test_middleware_submodule_lists_its_018_names(module: str) -> None:
    assert set(importlib.import_module(module).__all__) == set(MIDDLEWARE_MODULES[module])


def test_submodules_and_package_export_the_same_objects() -> None:
    import hypercorn.middleware as package
    from hypercorn.middleware import dispatcher, http_to_https, proxy_fix, wsgi

    assert package.DispatcherMiddleware is dispatcher.DispatcherMiddleware
    assert package.HTTPToHTTPSRedirectMiddleware is http_to_https.HTTPToHTTPSRedirectMiddleware
    assert package.ProxyFixMiddleware is proxy_fix.ProxyFixMiddleware
    assert package.AsyncioWSGIMiddleware is wsgi.AsyncioWSGIMiddleware
    assert package.TrioWSGIMiddleware is wsgi.TrioWSGIMiddleware
    assert wsgi.MAX_BODY_SIZE == 2**16
    assert dispatcher.MAX_QUEUE_SIZE == 10
    assert issubclass(wsgi.InvalidPathError, Exception)


def test_dispatcher_middleware_is_the_asyncio_dispatcher() -> None:
    from hypercorn.middleware import DispatcherMiddleware
    from hypercorn.middleware.dispatcher import AsyncioDispatcherMiddleware

    assert DispatcherMiddleware is AsyncioDispatcherMiddleware
