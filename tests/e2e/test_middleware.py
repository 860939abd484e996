"""The middleware under a real server, on every backend: the dispatcher's lifespan
fan-out runs on the driver's own loop, and proxy headers reach the app."""

from __future__ import annotations

import json
from typing import Any

import httpx

from hypercorn_protocol.middleware import DispatcherMiddleware, ProxyFixMiddleware
from hypercorn_protocol.typing import ASGIScope
from tests.e2e.conftest import make_config, run_server, sleep


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
