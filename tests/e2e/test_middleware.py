"""The middleware under a real server, on every backend: the dispatcher's lifespan
fan-out runs on the driver's own loop, and proxy headers reach the app."""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
import pytest

from hypercorn_protocol.errors import LifespanFailureError
from hypercorn_protocol.middleware import DispatcherMiddleware, ProxyFixMiddleware
from hypercorn_protocol.typing import ASGIScope
from tests.helpers.server import make_config, run_server, sleep


def mounted(name: str) -> Any:
    async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await sleep(0.05)  # both apps start concurrently on the driver's loop
                    scope["state"][name] = "started"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = json.dumps(
            {
                "app": name,
                "root_path": scope["root_path"],
                "state": dict(scope.get("state", {})),
                "client": scope["client"],
                "scheme": scope["scheme"],
            }
        ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def test_dispatcher_with_lifespan_on_the_server(loop_name: str) -> None:
    app = DispatcherMiddleware({"/a": mounted("a"), "/b": mounted("b")})
    with run_server(app, make_config(), loop_name) as server, httpx.Client() as client:
        first = client.get(f"{server.url}/a/x").json()
        second = client.get(f"{server.url}/b").json()
        missing = client.get(f"{server.url}/c")

    assert first["app"] == "a"
    assert first["root_path"] == "/a"
    assert first["state"] == {"a": "started", "b": "started"}
    assert second["app"] == "b"
    assert missing.status_code == 404
    assert missing.content == b""


def test_proxy_fix_on_the_server(loop_name: str) -> None:
    app = ProxyFixMiddleware(mounted("p"), mode="modern")
    headers = {"forwarded": 'for="[2001:db8::9]:4711";proto=https'}
    with run_server(app, make_config(), loop_name) as server, httpx.Client() as client:
        seen = client.get(f"{server.url}/", headers=headers).json()

    assert seen["client"] == ["2001:db8::9", 4711]
    assert seen["scheme"] == "https"


def _serve_until_it_returns(app: Any, loop_name: str) -> None:
    """Run the real serve() of ``loop_name``; it must return (or raise) by itself."""
    config = make_config(startup_timeout=10)
    if loop_name == "trio":
        import trio
        from hypercorn_trio import serve as trio_serve

        trio.run(functools.partial(trio_serve, app, config))
        return
    import asyncio

    from hypercorn_asyncio import serve as asyncio_serve

    loop: asyncio.AbstractEventLoop
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(asyncio_serve(app, config), 20))
    finally:
        loop.close()


def failing_startup(scope: ASGIScope, receive: Any, send: Any) -> Any:
    async def app() -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})

    return app()


def test_dispatcher_passes_a_mounted_apps_startup_failure_to_the_server(loop_name: str) -> None:
    # Hypercorn 0.18's name, as users import it; the failure must stop serve() at once
    # (0.18 dropped it and waited out startup_timeout).
    from hypercorn.middleware import DispatcherMiddleware as Dispatcher

    app = Dispatcher({"/ok": mounted("ok"), "/db": failing_startup})

    with pytest.raises(LifespanFailureError) as info:
        _serve_until_it_returns(app, loop_name)

    assert (info.value.stage, info.value.message) == ("startup", "database unreachable")
