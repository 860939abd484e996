"""Quart, a framework written against Hypercorn, under the real ``hypercorn`` command.

Quart imports a dozen ``hypercorn.typing`` names and requires ``hypercorn>=0.11``, so
this is where a wrong version or a missing name shows first. On trio the app is
``quart_trio.QuartTrio`` (Quart itself runs on asyncio only).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.cli._support import Server, console_script, free_port
from tests.helpers.backends import BACKENDS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

QUART_APP = """
import sys

from quart import request, websocket
{import_line}

app = {app_class}(__name__)
started = []


@app.before_serving
async def startup():
    started.append("yes")  # lifespan.startup reached Quart


@app.after_serving
async def shutdown():
    print("quart after_serving ran", file=sys.stderr, flush=True)


@app.route("/json")
async def json_route():
    return {{"path": request.path, "args": dict(request.args), "started": started}}


@app.route("/stream")
async def stream():
    async def chunks():
        for index in range(3):
            yield f"chunk {{index}}\\n".encode()

    return chunks(), 200, {{"content-type": "text/plain"}}


@app.websocket("/ws")
async def echo():
    while True:
        message = await websocket.receive()
        await websocket.send(f"echo: {{message}}")
"""

APP_CLASSES = {
    "asyncio": ("from quart import Quart", "Quart"),
    "uvloop": ("from quart import Quart", "Quart"),
    "trio": ("from quart_trio import QuartTrio", "QuartTrio"),
}


@pytest.fixture(params=BACKENDS)
def quart_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, int]]:
    loop_name = str(request.param)
    import_line, app_class = APP_CLASSES[loop_name]
    (tmp_path / "quartapp.py").write_text(
        QUART_APP.format(import_line=import_line, app_class=app_class)
    )
    port = free_port()
    command = [str(console_script()), "-k", loop_name, "-b", f"127.0.0.1:{port}", "quartapp:app"]
    server = Server(command, tmp_path)
    try:
        server.wait_for(f"Running on http://127.0.0.1:{port}")
        yield server, port
    finally:
        server.close()


def test_json_route(quart_server: tuple[Server, int]) -> None:
    _, port = quart_server

    response = httpx.get(f"http://127.0.0.1:{port}/json?name=quart")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"path": "/json", "args": {"name": "quart"}, "started": ["yes"]}


def test_streaming_response(quart_server: tuple[Server, int]) -> None:
    _, port = quart_server

    with httpx.stream("GET", f"http://127.0.0.1:{port}/stream") as response:
        body = b"".join(response.iter_bytes())

    assert response.status_code == 200
    assert response.headers.get("transfer-encoding") == "chunked"
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"


def test_websocket_echo(quart_server: tuple[Server, int]) -> None:
    _, port = quart_server

    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as websocket:
        websocket.send("hello")
        first = websocket.recv(timeout=10)
        websocket.send("again")
        second = websocket.recv(timeout=10)

    assert (first, second) == ("echo: hello", "echo: again")


def test_lifespan_shutdown_reaches_quart(quart_server: tuple[Server, int]) -> None:
    server, port = quart_server
    assert httpx.get(f"http://127.0.0.1:{port}/json").status_code == 200

    assert server.stop() == 0
    assert any("quart after_serving ran" in line for line in server.lines), server.lines
