"""The ``hypercorn`` command's access log (text and JSON) and StatsD metrics, from
real worker processes."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli._support import StartServer, fetch, free_port


def _running_line(port: int) -> str:
    return f"Running on http://127.0.0.1:{port}"


def _read_lines(path: Path, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines in {path}")


@pytest.fixture
def udp_listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


@pytest.mark.parametrize("workers", ["0", "1"])
def test_access_log_json_writes_one_object_per_request(
    start_server: StartServer, app_dir: Path, workers: str
) -> None:
    port = free_port()
    log = app_dir / "access.log"
    server = start_server(
        "app:app", "-b", f"127.0.0.1:{port}", "-w", workers,
        "--access-logfile", str(log), "--access-log-json",
    )  # fmt: skip
    server.wait_for(_running_line(port))

    fetch(port, "/first?x=1")
    fetch(port, "/second")
    lines = _read_lines(log, 2)
    assert server.stop(signal.SIGTERM) == 0

    records = [json.loads(line) for line in lines]
    assert [(r["method"], r["path"], r["query"], r["status"]) for r in records] == [
        ("GET", "/first", "x=1", 200),
        ("GET", "/second", "", 200),
    ]
    assert all(r["protocol"] == "1.1" and r["client"].startswith("127.0.0.1:") for r in records)


def test_text_access_log_is_one_line_per_request(start_server: StartServer, app_dir: Path) -> None:
    port = free_port()
    log = app_dir / "access.log"
    server = start_server(
        "app:app", "-b", f"127.0.0.1:{port}", "-w", "1",
        "--access-logfile", str(log), "--access-logformat", "%(m)s %(U)s %(s)s",
    )  # fmt: skip
    server.wait_for(_running_line(port))

    for path in ("/a", "/b", "/c"):
        fetch(port, path)
    lines = _read_lines(log, 3)
    time.sleep(0.3)
    assert server.stop(signal.SIGTERM) == 0

    messages = [line.rsplit("] ", 1)[-1] for line in log.read_text().splitlines()]
    assert messages == ["GET /a 200", "GET /b 200", "GET /c 200"]
    assert len(lines) == 3


def test_statsd_metrics_from_a_worker_process(
    start_server: StartServer, udp_listener: socket.socket
) -> None:
    port = free_port()
    statsd_port = udp_listener.getsockname()[1]
    server = start_server(
        "app:app", "-b", f"127.0.0.1:{port}", "-w", "1", "--access-logfile", "-",
        "--statsd-host", f"127.0.0.1:{statsd_port}", "--statsd-prefix", "svc",
    )  # fmt: skip
    server.wait_for(_running_line(port))

    fetch(port, "/")
    datagrams = [udp_listener.recv(2048) for _ in range(3)]
    assert server.stop(signal.SIGTERM) == 0

    assert b"svc.hypercorn.requests:1|c|@1.0" in datagrams
    assert b"svc.hypercorn.request.status.200:1|c|@1.0" in datagrams
    assert any(d.startswith(b"svc.hypercorn.request.duration:") for d in datagrams)
