"""Tests for hypercorn_protocol.middleware: plain ASGI calls, no server.

Routing, redirects and proxy headers never wait, so their coroutines are driven by hand;
the dispatcher's lifespan fan-out runs its apps concurrently and is tested on asyncio
and trio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from hypercorn_protocol.errors import UnexpectedMessageError
from hypercorn_protocol.middleware import (
    AsyncioDispatcherMiddleware,
    DispatcherMiddleware,
    HTTPToHTTPSRedirectMiddleware,
    ProxyFixMiddleware,
    TrioDispatcherMiddleware,
)
from hypercorn_protocol.middleware._forwarded import parse_forwarded, parse_node
from hypercorn_protocol.typing import ASGIApp, ASGIScope, Message


def drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends, without an event loop."""
    with pytest.raises(StopIteration):
        coroutine.send(None)


class Recorder:
    """An ASGI app that records the scope it was called with and answers 200."""

    def __init__(self, name: str = "app") -> None:
        self.name = name
        self.scopes: list[ASGIScope] = []

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": self.name.encode()})


def call(app: ASGIApp, scope: ASGIScope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    drive(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def http_scope(path: str = "/", **overrides: Any) -> ASGIScope:
    scope: ASGIScope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com:8080")],
        "client": ("10.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return scope


def ws_scope(path: str = "/", **overrides: Any) -> ASGIScope:
    scope = http_scope(path, type="websocket", scheme="ws", extensions={})
    del scope["method"]
    scope.update(overrides)
    return scope


# --------------------------------------------------------------------------- dispatcher


def test_dispatcher_routes_to_the_first_matching_mount_and_extends_root_path() -> None:
    api, site = Recorder("api"), Recorder("site")
    app = DispatcherMiddleware({"/api": api, "/": site})

    sent = call(app, http_scope("/api/users", root_path="/base"))

    assert sent[1]["body"] == b"api"
    assert api.scopes[0]["root_path"] == "/base/api"
    assert api.scopes[0]["path"] == "/api/users"


def test_dispatcher_does_not_modify_the_callers_scope() -> None:
    api = Recorder()
    scope = http_scope("/api")

    call(DispatcherMiddleware({"/api": api}), scope)

    assert scope["root_path"] == ""
    assert api.scopes[0] is not scope


def test_dispatcher_matches_whole_segments_only() -> None:
    api, site = Recorder("api"), Recorder("site")
    app = DispatcherMiddleware({"/api": api, "": site})

    assert call(app, http_scope("/apiary"))[1]["body"] == b"site"
    assert call(app, http_scope("/api"))[1]["body"] == b"api"
    assert site.scopes[0]["root_path"] == ""


def test_dispatcher_without_a_match_is_an_empty_404() -> None:
    sent = call(DispatcherMiddleware({"/api": Recorder()}), http_scope("/other"))

    assert sent == [
        {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]},
        {"type": "http.response.body", "body": b""},
    ]


def test_dispatcher_websocket_without_a_match_is_denied_or_closed() -> None:
    app = DispatcherMiddleware({"/api": Recorder()})

    closed = call(app, ws_scope("/x"))
    denied = call(app, ws_scope("/x", extensions={"websocket.http.response": {}}))

    assert closed == [{"type": "websocket.close", "code": 1000}]
    assert denied[0]["type"] == "websocket.http.response.start"
    assert denied[0]["status"] == 404


class LifespanApp:
    """A lifespan-speaking app that records what it received and answers as told."""

    def __init__(self, startup: str = "complete", shutdown: str = "complete") -> None:
        self.outcomes = {"startup": startup, "shutdown": shutdown}
        self.received: list[str] = []
        self.returned = False

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        scope["state"][id(self)] = True
        while True:
            message = await receive()
            self.received.append(message["type"])
            phase = message["type"].removeprefix("lifespan.")
            answer: Message = {"type": f"lifespan.{phase}.{self.outcomes[phase]}"}
            if self.outcomes[phase] == "failed":
                answer["message"] = f"{phase} broke"
            await send(answer)
            if phase == "shutdown":
                self.returned = True
                return


async def raises_on_lifespan(scope: ASGIScope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http", "no lifespan here"


async def run_lifespan(
    app: ASGIApp, phases: tuple[str, ...] = ("startup", "shutdown")
) -> list[Message]:
    """Play the server's side of lifespan (works on asyncio and trio alike)."""
    incoming = [{"type": f"lifespan.{phase}"} for phase in phases]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    state: dict[object, object] = {}
    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}, receive, send)
    return sent


Runner = Callable[[Callable[[], Awaitable[list[Message]]]], list[Message]]


def run_asyncio(main: Callable[[], Awaitable[list[Message]]]) -> list[Message]:
    async def wrapper() -> list[Message]:
        return await main()

    return asyncio.run(wrapper())


def run_trio(main: Callable[[], Awaitable[list[Message]]]) -> list[Message]:
    # trio is an optional backend: the protocol-only environment does not have it
    trio = pytest.importorskip("trio")
    result: list[Message] = trio.run(main)
    return result


@pytest.fixture(params=["asyncio", "trio"])
def runner(request: pytest.FixtureRequest) -> Runner:
    return run_asyncio if request.param == "asyncio" else run_trio


def test_lifespan_fans_out_and_completes_once_every_app_completed(runner: Runner) -> None:
    first, second = LifespanApp(), LifespanApp()
    app = DispatcherMiddleware({"/a": first, "/b": second})

    sent = runner(lambda: run_lifespan(app))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    for sub_app in (first, second):
        assert sub_app.received == ["lifespan.startup", "lifespan.shutdown"]
        assert sub_app.returned


def test_lifespan_failure_of_one_app_is_reported(runner: Runner) -> None:
    app = DispatcherMiddleware({"/a": LifespanApp(), "/b": LifespanApp(startup="failed")})

    sent = runner(lambda: run_lifespan(app, ("startup",)))

    assert sent == [{"type": "lifespan.startup.failed", "message": "startup broke"}]


def test_shutdown_failures_are_joined(runner: Runner) -> None:
    app = DispatcherMiddleware(
        {"/a": LifespanApp(shutdown="failed"), "/b": LifespanApp(shutdown="failed")}
    )

    sent = runner(lambda: run_lifespan(app))

    assert sent[1] == {
        "type": "lifespan.shutdown.failed",
        "message": "shutdown broke; shutdown broke",
    }


def test_app_without_lifespan_is_left_out(runner: Runner) -> None:
    speaking = LifespanApp()
    app = DispatcherMiddleware({"/a": raises_on_lifespan, "/b": speaking})

    sent = runner(lambda: run_lifespan(app))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert speaking.received == ["lifespan.startup", "lifespan.shutdown"]


def test_when_no_app_speaks_lifespan_the_error_reaches_the_server(runner: Runner) -> None:
    app = DispatcherMiddleware({"/a": raises_on_lifespan, "/b": raises_on_lifespan})

    with pytest.raises(AssertionError, match="no lifespan here"):
        runner(lambda: run_lifespan(app))


def test_app_that_returns_at_once_counts_as_done(runner: Runner) -> None:
    async def returns(scope: ASGIScope, receive: Any, send: Any) -> None:
        return

    app = DispatcherMiddleware({"/a": returns, "/b": LifespanApp()})

    sent = runner(lambda: run_lifespan(app))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_unknown_lifespan_message_is_an_error(runner: Runner) -> None:
    async def bad(scope: ASGIScope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.done"})

    app = DispatcherMiddleware({"/a": bad, "/b": LifespanApp()})

    with pytest.raises(UnexpectedMessageError):
        runner(lambda: run_lifespan(app))


def test_lifespan_apps_share_the_state_dict(runner: Runner) -> None:
    first, second = LifespanApp(), LifespanApp()
    app = DispatcherMiddleware({"/a": first, "/b": second})
    state: dict[object, object] = {}

    async def main() -> list[Message]:
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive() -> Message:
            return incoming.pop(0)

        async def send(message: Message) -> None:
            pass

        await app({"type": "lifespan", "state": state}, receive, send)
        return []

    runner(main)

    assert set(state) == {id(first), id(second)}


def test_backend_specific_classes() -> None:
    first = LifespanApp()
    sent = run_asyncio(lambda: run_lifespan(AsyncioDispatcherMiddleware({"/": first})))
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}

    second = LifespanApp()
    sent = run_trio(lambda: run_lifespan(TrioDispatcherMiddleware({"/": second})))
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}


def test_lifespan_outside_an_event_loop_is_a_clear_error() -> None:
    app = DispatcherMiddleware({"/": LifespanApp()})

    with pytest.raises(RuntimeError, match="no running asyncio or trio event loop"):
        drive(run_lifespan(app))  # type: ignore[arg-type]


# ------------------------------------------------------------------- HTTP -> HTTPS


def test_http_is_redirected_with_307_to_the_given_host() -> None:
    app = HTTPToHTTPSRedirectMiddleware(Recorder(), "secure.example.com")

    sent = call(app, http_scope("/a%20b", raw_path=b"/a%20b", query_string=b"x=1"))

    assert sent[0]["status"] == 307
    assert dict(sent[0]["headers"])[b"location"] == b"https://secure.example.com/a%20b?x=1"
    assert sent[1] == {"type": "http.response.body", "body": b""}


def test_redirect_uses_the_host_header_when_no_host_is_given() -> None:
    sent = call(HTTPToHTTPSRedirectMiddleware(Recorder(), None), http_scope("/p"))

    assert dict(sent[0]["headers"])[b"location"] == b"https://example.com:8080/p"


def test_redirect_without_host_anywhere_is_a_value_error() -> None:
    app = HTTPToHTTPSRedirectMiddleware(Recorder(), None)

    with pytest.raises(ValueError, match="host"):
        call(app, http_scope("/p", headers=[]))


def test_redirect_keeps_the_root_path_once() -> None:
    app = HTTPToHTTPSRedirectMiddleware(Recorder(), "h")

    inside = call(app, http_scope("/app/x", root_path="/app"))
    stripped = call(app, http_scope("/x", root_path="/app"))

    assert dict(inside[0]["headers"])[b"location"] == b"https://h/app/x"
    assert dict(stripped[0]["headers"])[b"location"] == b"https://h/app/x"


def test_https_and_lifespan_pass_through() -> None:
    inner = Recorder("inner")
    app = HTTPToHTTPSRedirectMiddleware(inner, "h")

    sent = call(app, http_scope(scheme="https"))
    call(app, {"type": "lifespan"})

    assert sent[1]["body"] == b"inner"
    assert [scope["type"] for scope in inner.scopes] == ["http", "lifespan"]


def test_websocket_redirect_uses_the_denial_response() -> None:
    app = HTTPToHTTPSRedirectMiddleware(Recorder(), "h")
    extensions: dict[str, Any] = {"websocket.http.response": {}}

    h1 = call(app, ws_scope("/ws", extensions=extensions, query_string=b"a=b"))
    h2 = call(app, ws_scope("/ws", extensions=extensions, http_version="2"))

    assert h1[0]["type"] == "websocket.http.response.start"
    assert h1[0]["status"] == 307
    assert dict(h1[0]["headers"])[b"location"] == b"wss://h/ws?a=b"
    assert h1[1] == {"type": "websocket.http.response.body", "body": b""}
    assert dict(h2[0]["headers"])[b"location"] == b"https://h/ws"


def test_websocket_redirect_without_the_extension_closes() -> None:
    sent = call(HTTPToHTTPSRedirectMiddleware(Recorder(), "h"), ws_scope())

    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_secure_websocket_passes_through() -> None:
    inner = Recorder()

    call(HTTPToHTTPSRedirectMiddleware(inner, "h"), ws_scope(scheme="wss"))

    assert inner.scopes[0]["scheme"] == "wss"


# ------------------------------------------------------------------------- proxy fix


def seen_scope(app: ProxyFixMiddleware, scope: ASGIScope) -> ASGIScope:
    inner = app.app
    assert isinstance(inner, Recorder)
    call(app, scope)
    return inner.scopes[-1]


def test_legacy_headers_take_the_trusted_hop_value() -> None:
    app = ProxyFixMiddleware(Recorder(), mode="legacy", trusted_hops=2)
    scope = http_scope(
        headers=[
            (b"host", b"internal:8000"),
            (b"x-forwarded-for", b"6.6.6.6, 1.2.3.4"),
            (b"x-forwarded-for", b"10.0.0.2"),
            (b"x-forwarded-proto", b"https, http"),
            (b"x-forwarded-host", b"example.org, internal"),
        ]
    )

    fixed = seen_scope(app, scope)

    assert fixed["client"] == ("1.2.3.4", 0)
    assert fixed["scheme"] == "https"
    assert [value for name, value in fixed["headers"] if name == b"host"] == [b"example.org"]
    assert fixed["server"] == ("example.org", 443)


def test_proxy_fix_copies_the_scope_shallowly() -> None:
    app = ProxyFixMiddleware(Recorder())
    state = {"shared": True}
    scope = http_scope(headers=[(b"x-forwarded-for", b"1.2.3.4")], state=state)

    fixed = seen_scope(app, scope)

    assert scope["client"] == ("10.0.0.1", 5000)
    assert fixed is not scope
    assert fixed["state"] is state


def test_too_few_hops_changes_nothing() -> None:
    app = ProxyFixMiddleware(Recorder(), trusted_hops=2)

    fixed = seen_scope(app, http_scope(headers=[(b"x-forwarded-for", b"1.2.3.4")]))

    assert fixed["client"] == ("10.0.0.1", 5000)


def test_zero_trusted_hops_disables_the_fix() -> None:
    app = ProxyFixMiddleware(Recorder(), trusted_hops=0)

    fixed = seen_scope(app, http_scope(headers=[(b"x-forwarded-for", b"1.2.3.4")]))

    assert fixed["client"] == ("10.0.0.1", 5000)


def test_legacy_port_and_ipv6_client() -> None:
    app = ProxyFixMiddleware(Recorder())
    scope = http_scope(
        headers=[
            (b"X-Forwarded-For", b"2001:db8::7"),
            (b"x-forwarded-port", b"8443"),
            (b"x-forwarded-host", b"example.org"),
        ]
    )

    fixed = seen_scope(app, scope)

    assert fixed["client"] == ("2001:db8::7", 0)
    assert fixed["server"] == ("example.org", 8443)


def test_modern_forwarded_header_with_quotes_ports_and_ipv6() -> None:
    app = ProxyFixMiddleware(Recorder(), mode="modern")
    scope = http_scope(
        headers=[
            (b"forwarded", b"for=192.0.2.60;proto=http"),
            (b"Forwarded", b'For="[2001:db8:cafe::17]:4711";PROTO=https;host="a.example:8443"'),
        ]
    )

    fixed = seen_scope(app, scope)

    assert fixed["client"] == ("2001:db8:cafe::17", 4711)
    assert fixed["scheme"] == "https"
    assert (b"host", b"a.example:8443") in fixed["headers"]
    assert fixed["server"] == ("a.example", 8443)


def test_modern_selects_the_element_by_trusted_hops() -> None:
    app = ProxyFixMiddleware(Recorder(), mode="modern", trusted_hops=2)
    header = b'for=198.51.100.17;by=203.0.113.60;proto=https, for="_proxy1:_port"'

    fixed = seen_scope(app, http_scope(headers=[(b"forwarded", header)]))

    assert fixed["client"] == ("198.51.100.17", 0)
    assert fixed["scheme"] == "https"


def test_modern_obfuscated_and_unknown_nodes() -> None:
    app = ProxyFixMiddleware(Recorder(), mode="modern")

    hidden = seen_scope(app, http_scope(headers=[(b"forwarded", b'for="_hidden:_p"')]))
    unknown = seen_scope(app, http_scope(headers=[(b"forwarded", b"for=unknown")]))

    assert hidden["client"] == ("_hidden", 0)
    assert unknown["client"] == ("unknown", 0)


def test_modern_malformed_header_is_ignored() -> None:
    app = ProxyFixMiddleware(Recorder(), mode="modern")

    fixed = seen_scope(app, http_scope(headers=[(b"forwarded", b'for="1.2.3.4;proto=https')]))

    assert fixed["client"] == ("10.0.0.1", 5000)
    assert fixed["scheme"] == "http"


def test_modern_ignores_x_forwarded_and_legacy_ignores_forwarded() -> None:
    modern = ProxyFixMiddleware(Recorder(), mode="modern")
    legacy = ProxyFixMiddleware(Recorder(), mode="legacy")

    from_modern = seen_scope(modern, http_scope(headers=[(b"x-forwarded-for", b"1.2.3.4")]))
    from_legacy = seen_scope(legacy, http_scope(headers=[(b"forwarded", b"for=1.2.3.4")]))

    assert from_modern["client"] == ("10.0.0.1", 5000)
    assert from_legacy["client"] == ("10.0.0.1", 5000)


def test_websocket_scheme_becomes_wss() -> None:
    app = ProxyFixMiddleware(Recorder())

    fixed = seen_scope(app, ws_scope(headers=[(b"x-forwarded-proto", b"https")]))

    assert fixed["scheme"] == "wss"


def test_unknown_proto_is_ignored() -> None:
    app = ProxyFixMiddleware(Recorder())

    fixed = seen_scope(app, http_scope(headers=[(b"x-forwarded-proto", b"gopher")]))

    assert fixed["scheme"] == "http"


def test_lifespan_passes_through_unchanged() -> None:
    inner = Recorder()
    scope: ASGIScope = {"type": "lifespan"}

    call(ProxyFixMiddleware(inner), scope)

    assert inner.scopes == [scope]
    assert inner.scopes[0] is scope


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        ProxyFixMiddleware(Recorder(), mode="other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trusted_hops"):
        ProxyFixMiddleware(Recorder(), trusted_hops=-1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("for=1.2.3.4", [{"for": "1.2.3.4"}]),
        ('for="a,b;c=d"', [{"for": "a,b;c=d"}]),
        (r'for="q\"uote"', [{"for": 'q"uote'}]),
        ("for=a;;proto=http,, for=b", [{"for": "a", "proto": "http"}, {"for": "b"}]),
        (" FOR = x ", [{"for": "x"}]),
    ],
)
def test_parse_forwarded(header: str, expected: list[dict[str, str]]) -> None:
    assert parse_forwarded([header]) == expected


@pytest.mark.parametrize("header", ['for="open', "for", "=x", "for=a b", 'for=a"b'])
def test_parse_forwarded_rejects_malformed(header: str) -> None:
    with pytest.raises(ValueError, match=r"invalid|unterminated"):
        parse_forwarded([header])


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 0)),
        ("192.0.2.1:80", ("192.0.2.1", 80)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        ("[2001:db8::1]:4711", ("2001:db8::1", 4711)),
        ("2001:db8::1", ("2001:db8::1", 0)),
        ("_gazonk:_p1", ("_gazonk", 0)),
    ],
)
def test_parse_node(node: str, expected: tuple[str, int]) -> None:
    assert parse_node(node) == expected


@pytest.mark.parametrize("node", ["[2001:db8::1", "[nonsense]", "1.2.3.4:99999", "1.2.3.4:x", ""])
def test_parse_node_rejects_malformed(node: str) -> None:
    with pytest.raises(ValueError, match=r"invalid|unterminated"):
        parse_node(node)
