"""``-w N`` runs the supervisor and N workers: no other process, and no stray state.

multiprocessing's spawn start method adds a resource-tracker process that a server
never needs (about 12 MiB of RSS for nothing); workers here are plain interpreters.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli._support import StartServer, free_port

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or sys.platform != "linux", reason="reads /proc"
)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_supervisor_has_exactly_its_workers_as_children(
    start_server: StartServer, workers: int
) -> None:
    port = free_port()
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", str(workers))
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    answered = {httpx.get(f"http://127.0.0.1:{port}/").text.split()[0] for _ in range(20)}

    children = _children(server.process.pid)
    assert len(children) == workers, children
    assert answered <= {str(child) for child in children}
    for child in children:
        assert _children(child) == []  # a worker starts nothing either
    total_mib = (_rss_kib(server.process.pid) + sum(map(_rss_kib, children))) / 1024
    print(f"-w {workers}: {1 + len(children)} processes, {total_mib:.1f} MiB RSS in total")


#: Records the pid of every process that imports it.
IMPORT_RECORDING_APP = """
import os

with open("importers.txt", "a") as log:
    log.write(f"{os.getpid()}\\n")

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_only_the_workers_import_the_application(
    start_server: StartServer, app_dir: Path, workers: int
) -> None:
    # A supervisor holding a large application's modules would double -w 1's memory.
    (app_dir / "recorded.py").write_text(IMPORT_RECORDING_APP)
    port = free_port()
    server = start_server("recorded:app", "-b", f"127.0.0.1:{port}", "-w", str(workers))
    server.wait_for(f"Running on http://127.0.0.1:{port}", count=workers)

    importers = (app_dir / "importers.txt").read_text().split()
    assert sorted(importers) == sorted(str(pid) for pid in _children(server.process.pid))
    assert str(server.process.pid) not in importers
    assert server.stop() == 0


def _maps_openssl(pid: int) -> bool:
    # The ssl module's extension (and with it libssl/libcrypto) mapped into the process.
    maps = Path(f"/proc/{pid}/maps").read_text()
    return any("/_ssl." in line or "libssl" in line for line in maps.splitlines())


def test_a_supervisor_without_tls_never_loads_openssl(start_server: StartServer) -> None:
    # About 5 MiB of RSS in a process that never makes a TLS connection. Its asyncio
    # worker does load it (asyncio imports ssl), which shows the check can fail.
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "asyncio")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

    (worker,) = _children(server.process.pid)
    assert not _maps_openssl(server.process.pid)
    assert _maps_openssl(worker)
    assert server.stop() == 0


def test_a_worker_whose_supervisor_is_killed_drains_and_exits(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "1")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    (worker,) = _children(server.process.pid)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists(), "the orphaned worker kept serving"
