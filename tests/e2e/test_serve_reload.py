"""``config.use_reloader`` for programs that call ``serve()`` themselves (Hypercorn #111)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SCRIPT = """
import sys
from hypercorn.config import Config
from appmod import app

config = Config()
config.bind = ["127.0.0.1:{port}"]
config.use_reloader = True
if sys.argv[1] == "trio":
    import trio
    from hypercorn.trio import serve
    trio.run(serve, app, config)
else:
    import asyncio
    from hypercorn.asyncio import serve
    asyncio.run(serve(app, config))
"""

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200}})
    await send({{"type": "http.response.body", "body": b"{text}"}})
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, expected: bytes, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).content == expected:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_serve_reloads_on_edit_and_survives_a_syntax_error(tmp_path: Path, backend: str) -> None:
    port = _free_port()
    (tmp_path / "appmod.py").write_text(APP.format(text="one"))
    (tmp_path / "main.py").write_text(SCRIPT.format(port=port))
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(
        [sys.executable, "main.py", backend],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(url, b"one")
        time.sleep(1.1)  # a new mtime second
        (tmp_path / "appmod.py").write_text(APP.format(text="two"))
        assert _wait_for(url, b"two"), "the edit was not picked up"
        time.sleep(1.1)
        (tmp_path / "appmod.py").write_text("def broken(:\n")
        time.sleep(2.0)
        assert httpx.get(url, timeout=2).content == b"two", "a broken edit must not stop serving"
        (tmp_path / "appmod.py").write_text(APP.format(text="three"))
        assert _wait_for(url, b"three")
    finally:
        process.terminate()
        try:
            _, errors = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
    assert "Not reloading" in errors and "appmod.py" in errors
