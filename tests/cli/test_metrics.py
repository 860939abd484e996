"""``--metrics-bind``: the real command's Prometheus endpoint, scraped over a socket.

With ``-w 2`` the supervisor's endpoint sums both workers' values (prometheus_client's
multiprocess mode in a private directory); with ``-w 0`` the one process serves its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from tests.cli._support import StartServer, free_port
from tests.helpers.backends import BACKENDS
from tests.helpers.metrics import scrape, total, value

pytestmark = pytest.mark.slow

METRICS_APP = """
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        return
    status = 404 if scope["path"] == "/missing" else 200
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def metrics_app(app_dir: Path) -> str:
    (app_dir / "metricsapp.py").write_text(METRICS_APP)
    return "metricsapp:app"


def _running(port: int) -> str:
    return f"Running on http://127.0.0.1:{port}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_are_summed(backend: str, start_server: StartServer, metrics_app: str) -> None:
    port, metrics_port = free_port(), free_port()
    server = start_server(
        metrics_app,
        "-k",
        backend,
        "-w",
        "2",
        "--reuse-port",  # connections spread over both workers by the kernel's hash
        "-b",
        f"127.0.0.1:{port}",
        "--metrics-bind",
        f"127.0.0.1:{metrics_port}",
    )
    server.wait_for(f"Serving metrics on http://127.0.0.1:{metrics_port}/metrics")
    lines = server.wait_for(_running(port), count=2)
    workers = {int(line.split("] [")[1]) for line in lines}
    assert len(workers) == 2

    pids = set()
    sizes = 0
    for index in range(40):
        path = "/missing" if index % 10 == 0 else "/"
        with httpx.Client() as client:  # a new connection each time
            response = client.get(f"http://127.0.0.1:{port}{path}")
        pids.add(int(response.text))
        sizes += len(response.content)
    assert pids == workers  # both served, so the sums below cover two processes
    with httpx.Client(http1=False, http2=True) as client:  # h2c, prior knowledge
        for _ in range(5):
            assert client.post(f"http://127.0.0.1:{port}/", content=b"x" * 100).status_code == 200

    samples = scrape(metrics_port)
    assert (
        value(samples, "hypercorn_requests_total", method="GET", status="200", protocol="h1") == 36
    )
    assert (
        value(samples, "hypercorn_requests_total", method="GET", status="404", protocol="h1") == 4
    )
    assert (
        value(samples, "hypercorn_requests_total", method="POST", status="200", protocol="h2") == 5
    )
    assert value(samples, "hypercorn_request_duration_seconds_count", protocol="h1") == 40
    assert (
        value(samples, "hypercorn_request_duration_seconds_bucket", protocol="h1", le="+Inf") == 40
    )
    assert value(samples, "hypercorn_request_duration_seconds_count", protocol="h2") == 5
    # by protocol: 40 HTTP/1.1 requests (heads of 30 bytes and more), 5 h2c POSTs of 100
    assert value(samples, "hypercorn_received_bytes_total", protocol="h1") > 40 * 30
    assert value(samples, "hypercorn_received_bytes_total", protocol="h2") > 5 * 100
    assert value(samples, "hypercorn_sent_bytes_total", protocol="h1") > sizes + 40 * 30
    assert value(samples, "hypercorn_sent_bytes_total", protocol="h2") > 5 * 9  # frame heads
    assert total(samples, "hypercorn_open_connections") == 0
    assert value(samples, "hypercorn_worker_restarts_total", reason="crashed") == 0

    # Open connections and WebSockets, live, by protocol.
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        for _ in range(2):
            connection = stack.enter_context(
                websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws")
            )
            connection.send("hello")
            assert connection.recv(timeout=5) == "hello"

        def five_open() -> bool:
            samples = scrape(metrics_port)
            return value(samples, "hypercorn_open_connections", protocol="h1") == 5

        eventually(five_open)
        assert value(scrape(metrics_port), "hypercorn_open_websockets", protocol="h1") == 2
    eventually(lambda: total(scrape(metrics_port), "hypercorn_open_connections") == 0)
    assert value(scrape(metrics_port), "hypercorn_open_websockets", protocol="h1") == 0

    # A limit refusal: a request head beyond h11_max_incomplete_size (16 KiB) gets 431.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: a\r\nx-big: " + b"a" * 20000 + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 431")
    samples = scrape(metrics_port)
    assert value(samples, "hypercorn_refusals_total", reason="request_header_too_large") == 1

    # A worker killed while it holds a connection: it is restarted and counted, its
    # open connection stops counting, and what it served stays in the sums.
    victim = next(iter(workers))
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    try:
        eventually(
            lambda: value(scrape(metrics_port), "hypercorn_open_connections", protocol="h1") == 8
        )
        os.kill(victim, signal.SIGKILL)
        server.wait_for("restarting it", timeout=20)
        eventually(
            lambda: (
                value(scrape(metrics_port), "hypercorn_worker_restarts_total", reason="crashed")
                == 1
            )
        )
        samples = scrape(metrics_port)
        assert value(samples, "hypercorn_open_connections", protocol="h1") < 8
        assert (
            value(samples, "hypercorn_requests_total", method="GET", status="200", protocol="h1")
            == 36
        )
    finally:
        for sock in held:
            sock.close()

    assert server.stop() == 0
    assert not [line for line in server.lines if "Traceback" in line or "Error" in line], (
        server.lines
    )


def test_metrics_directory_is_private_and_removed(
    start_server: StartServer, metrics_app: str, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    server = start_server(
        metrics_app,
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--metrics-bind",
        f"127.0.0.1:{metrics_port}",
        env=env,
    )
    server.wait_for(_running(port), count=2)
    httpx.get(f"http://127.0.0.1:{port}/")
    [directory] = list((tmp_path / "tmp").iterdir())
    assert directory.name.startswith("hypercorn-metrics-")
    assert directory.stat().st_mode & 0o777 == 0o700
    assert list(directory.glob("*.db"))  # the workers' files
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/other").status_code == 404
    assert server.stop() == 0
    assert not directory.exists()


def test_zero_workers_serve_their_own_metrics(start_server: StartServer, metrics_app: str) -> None:
    port, metrics_port = free_port(), free_port()
    server = start_server(
        metrics_app,
        "-w",
        "0",
        "-b",
        f"127.0.0.1:{port}",
        "--metrics-bind",
        f"127.0.0.1:{metrics_port}",
    )
    server.wait_for(_running(port))
    for _ in range(3):
        httpx.get(f"http://127.0.0.1:{port}/")
    samples = scrape(metrics_port)
    assert (
        value(samples, "hypercorn_requests_total", method="GET", status="200", protocol="h1") == 3
    )
    assert server.stop() == 0


def test_without_prometheus_client_one_line_names_the_install(
    start_server: StartServer, metrics_app: str, app_dir: Path
) -> None:
    # A directory on sys.path that hides prometheus_client.
    blocker = app_dir / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'prometheus_client':\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    for workers in ("0", "2"):
        server = start_server(
            metrics_app,
            "-w",
            workers,
            "-b",
            "127.0.0.1:0",
            "--metrics-bind",
            "127.0.0.1:0",
            env=env,
        )
        assert server.wait() != 0
        errors = [line for line in server.lines if line.strip()]
        assert errors == [
            "Error: metrics_bind needs prometheus_client: pip install 'hypercorn[metrics]'"
        ], errors
