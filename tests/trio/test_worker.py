"""``hypercorn -k trio``: the trio worker in a real subprocess, stopped with SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

APP = """
import pathlib

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                pathlib.Path("shutdown-ran").write_text("yes")
                await send({"type": "lifespan.shutdown.complete"})
                return
    import trio  # raises unless this really runs on trio
    trio.lowlevel.current_trio_token()
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"trio worker " + scope["path"].encode()})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(process: subprocess.Popen[str], url: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_trio_worker_serves_and_exits_0_on_sigterm(tmp_path: Path, workers: str) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    command = [sys.executable, "-m", "hypercorn", "-k", "trio", "-w", workers]
    with subprocess.Popen(
        [*command, "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            response = wait_until_serving(process, f"http://127.0.0.1:{port}/hi")
            assert response.status_code == 200
            assert response.content == b"trio worker /hi"
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert (tmp_path / "shutdown-ran").read_text() == "yes"
