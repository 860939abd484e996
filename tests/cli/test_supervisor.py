"""The supervisor of the real ``hypercorn`` command: balancing, restarts, signals."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cli._support import (
    StartServer,
    Traffic,
    ask,
    fetch,
    free_port,
    pid_alive,
    run_command,
    wait_until_gone,
)
from tests.helpers.lifespan import LIFESPAN_SOURCE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

_WORKER_PID = re.compile(r"\[(\d+)\] \[INFO\] Running on")


def _running(port: int) -> str:
    return f"Running on http://127.0.0.1:{port} "


def _pids(lines: list[str]) -> set[int]:
    return {int(match.group(1)) for line in lines if (match := _WORKER_PID.search(line))}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing")
def test_reuse_port_spreads_connections_evenly_across_workers(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "4", "--reuse-port")
    workers = _pids(server.wait_for(_running(port), count=4))

    served = Counter(ask(port).pid for _ in range(400))

    assert set(served) == workers
    assert min(served.values()) >= 68, served  # a fair 25 %, and at least 17 % each
    assert server.stop() == 0


#: ``/block`` blocks its worker's event loop (a sync call in an async app) for 2 s,
#: ``/busy`` for 20 ms; every answer is the worker's pid.
BLOCKING_APP = (
    LIFESPAN_SOURCE
    + """
import os
import time

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["path"] == "/block":
        time.sleep(2)
    elif scope["path"] == "/busy":
        time.sleep(0.02)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
"""
)


def test_no_connection_waits_behind_a_blocked_worker_by_default(
    start_server: StartServer, app_dir: Path
) -> None:
    (app_dir / "blocking.py").write_text(BLOCKING_APP)
    port = free_port()
    server = start_server("blocking:app", "-b", f"127.0.0.1:{port}", "-w", "2")
    workers = _pids(server.wait_for(_running(port), count=2))
    blocked: list[str] = []
    blocker = threading.Thread(target=lambda: blocked.append(fetch(port, "/block")))
    blocker.start()
    time.sleep(0.3)  # the /block request is being served: its worker is stuck

    timings = []
    for _ in range(10):
        started = time.monotonic()
        pid = int(fetch(port, "/fast", timeout=5))
        timings.append((time.monotonic() - started, pid))

    blocker.join(10)
    assert len(blocked) == 1
    slowest = max(elapsed for elapsed, _ in timings)
    assert slowest < 1.0, timings
    assert {pid for _, pid in timings} == workers - {int(blocked[0])}
    assert server.stop() == 0


@pytest.mark.parametrize("mode", [[], ["--reuse-port"]], ids=["shared", "reuse-port"])
def test_both_workers_serve_under_load(
    start_server: StartServer, app_dir: Path, mode: list[str]
) -> None:
    (app_dir / "blocking.py").write_text(BLOCKING_APP)
    port = free_port()
    server = start_server("blocking:app", "-b", f"127.0.0.1:{port}", "-w", "2", *mode)
    workers = _pids(server.wait_for(_running(port), count=2))
    served: Counter[int] = Counter()

    def client() -> None:
        for _ in range(25):
            served[int(fetch(port, "/busy"))] += 1

    clients = [threading.Thread(target=client) for _ in range(6)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)

    print(f"connections per worker ({mode or 'shared'}): {dict(served)}")
    assert sum(served.values()) == 150
    assert set(served) == workers, served
    assert server.stop() == 0


@pytest.mark.parametrize("mode", [[], ["--reuse-port"]], ids=["shared", "reuse-port"])
def test_a_port_held_by_another_server_is_in_use(
    start_server: StartServer, app_dir: Path, mode: list[str]
) -> None:
    port = free_port()
    first = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "2", *mode)
    first.wait_for(_running(port), count=2)

    second = run_command("app:app", "-b", f"127.0.0.1:{port}", "-w", "2", *mode, cwd=app_dir)

    assert second.returncode == 1
    (line,) = second.stderr.splitlines()
    assert line.startswith("Error: ") and "in use" in line
    assert ask(port).pid in _pids(first.lines)
    assert first.stop() == 0


@pytest.mark.parametrize("worker_class", ["asyncio", "uvloop", "trio"])
def test_sighup_rereads_the_config_and_replaces_workers_without_a_failure(
    start_server: StartServer, app_dir: Path, worker_class: str
) -> None:
    port = free_port()
    config = app_dir / "hypercorn.toml"
    config.write_text('root_path = "/one"\ngraceful_timeout = 1\n')
    server = start_server(
        "pidapp:app", "-k", worker_class, "-c", str(config), "-b", f"127.0.0.1:{port}", "-w", "2"
    )
    old = _pids(server.wait_for(_running(port), count=2))

    with Traffic(port) as traffic:
        time.sleep(0.2)
        config.write_text('root_path = "/two"\ngraceful_timeout = 1\n')
        server.process.send_signal(signal.SIGHUP)
        server.wait_for("All workers replaced")
        time.sleep(0.3)

    assert traffic.failures == []
    assert {reply.root_path for reply in traffic.replies} == {"/one", "/two"}
    after = ask(port)
    assert after.root_path == "/two"
    assert after.pid not in old
    assert all(wait_until_gone(pid) for pid in old)
    assert server.process.poll() is None
    assert server.stop() == 0


def test_sigusr1_replaces_workers_while_the_master_keeps_running(
    start_server: StartServer,
) -> None:
    port = free_port()
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "2")
    old = _pids(server.wait_for(_running(port), count=2))

    with Traffic(port) as traffic:
        server.process.send_signal(signal.SIGUSR1)
        server.wait_for("All workers replaced")

    assert traffic.failures == []
    new = _pids(server.wait_for(_running(port), count=4)) - old
    assert len(new) == 2
    assert all(wait_until_gone(pid) for pid in old)
    assert {ask(port).pid for _ in range(20)} <= new
    assert server.stop() == 0


def test_a_killed_worker_is_restarted_and_terminal_sigint_is_ignored(
    start_server: StartServer, app_dir: Path
) -> None:
    (app_dir / "blocking.py").write_text(BLOCKING_APP)
    port = free_port()
    server = start_server("blocking:app", "-b", f"127.0.0.1:{port}", "-w", "2")
    victim, survivor = sorted(_pids(server.wait_for(_running(port), count=2)))

    os.kill(victim, signal.SIGINT)  # what Ctrl-C sends to the whole process group
    time.sleep(0.3)
    assert pid_alive(victim)

    os.kill(victim, signal.SIGKILL)
    (line,) = server.wait_for("restarting it in")
    assert f"pid {victim}" in line
    assert "killed by SIGKILL" in line
    replacement = _pids(server.wait_for(_running(port), count=3)) - {victim, survivor}

    assert len(replacement) == 1
    # On a shared socket the warm survivor may win every accept race of sequential
    # requests; while one worker is stuck in /block the other must take the rest.
    blocked: list[str] = []
    blocker = threading.Thread(target=lambda: blocked.append(fetch(port, "/block")))
    blocker.start()
    time.sleep(0.3)
    others = {int(fetch(port, "/fast", timeout=5)) for _ in range(5)}
    blocker.join(10)
    assert len(blocked) == 1
    assert others | {int(blocked[0])} == replacement | {survivor}
    assert server.stop() == 0


def test_max_requests_recycles_workers_without_refusing_a_connection(
    start_server: StartServer,
) -> None:
    port = free_port()
    server = start_server(
        "pidapp:app",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "2",
        "--max-requests",
        "10",
        "--max-requests-jitter",
        "5",
    )
    server.wait_for(_running(port), count=2)

    served = [ask(port).pid for _ in range(100)]  # a refused connection raises

    assert len(set(served)) >= 6  # each worker served at most 16 requests
    assert server.stop() == 0


def test_sigterm_drains_in_flight_requests_and_refuses_new_connections(
    start_server: StartServer,
) -> None:
    port = free_port()
    server = start_server(
        "pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "2", "--graceful-timeout", "3"
    )
    server.wait_for(_running(port), count=2)
    slow: list[str] = []
    request = threading.Thread(target=lambda: slow.append(fetch(port, "/slow")))
    request.start()
    time.sleep(0.3)

    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.4)

    with pytest.raises(ConnectionRefusedError):
        fetch(port)
    request.join(10)
    assert len(slow) == 1
    assert server.wait() == 0


@pytest.mark.parametrize("worker_class", ["trio", "uvloop"])
def test_other_worker_classes_are_supervised_too(
    start_server: StartServer, worker_class: str
) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", worker_class)
    (old,) = _pids(server.wait_for(_running(port)))

    server.process.send_signal(signal.SIGUSR1)
    server.wait_for("All workers replaced")

    assert fetch(port, "/after") == "hello from /after"
    assert wait_until_gone(old)
    assert server.stop() == 0
