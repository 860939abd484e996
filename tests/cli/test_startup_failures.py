"""Deterministic start-up failures stop the real ``hypercorn`` command at once.

No retries with backoff, no listening socket left open for seconds, no screenfuls of
output: one line naming the problem, a non-zero exit, and the app's start-up ran at
most once per worker. And the exit code reports workers that failed to shut down.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme

from tests.cli._support import StartServer, free_port, hypercorn_command, run_command
from tests.helpers.backends import BACKENDS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Appends a line to ``startups.txt`` on every lifespan startup, then fails it.
COUNTING_FAILING_STARTUP_APP = """
async def app(scope, receive, send):
    await receive()
    with open("startups.txt", "a") as log:
        log.write("startup\\n")
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
"""

#: Takes a second to start (writes ``starting`` first), records its shutdown.
SLOW_STARTUP_APP = """
import anyio

async def app(scope, receive, send):
    if scope["type"] != "lifespan":
        return
    await receive()
    open("starting", "w").close()
    await anyio.sleep(1)
    await send({"type": "lifespan.startup.complete"})
    await receive()
    open("shut_down", "w").close()
    await send({"type": "lifespan.shutdown.complete"})
"""

#: Serves fine; used with broken TLS files.
PLAIN_APP = """
with open("startups.txt", "a") as log:
    log.write("import\\n")

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
"""

#: Imports in the supervisor but not in a spawned worker (a worker-only dependency).
WORKER_ONLY_BROKEN_APP = """
import multiprocessing

with open("startups.txt", "a") as log:
    log.write("import\\n")
if multiprocessing.parent_process() is not None:
    import a_dependency_only_workers_need

async def app(scope, receive, send):
    pass
"""

#: Raises something other than ImportError while being imported.
RAISING_APP = """
with open("startups.txt", "a") as log:
    log.write("import\\n")
SETTINGS = {}
DATABASE_URL = SETTINGS["DATABASE_URL"]

async def app(scope, receive, send):
    pass
"""

#: Lifespan shutdown fails.
FAILING_SHUTDOWN_APP = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
"""


@pytest.fixture
def failing_apps(app_dir: Path) -> Path:
    """``app_dir`` with the apps above, and a valid certificate with a broken key."""
    (app_dir / "failstart.py").write_text(COUNTING_FAILING_STARTUP_APP)
    (app_dir / "plain.py").write_text(PLAIN_APP)
    (app_dir / "workerbroken.py").write_text(WORKER_ONLY_BROKEN_APP)
    (app_dir / "raising.py").write_text(RAISING_APP)
    (app_dir / "failshutdown.py").write_text(FAILING_SHUTDOWN_APP)
    (app_dir / "slowstart.py").write_text(SLOW_STARTUP_APP)
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(app_dir / "cert.pem"))
    (app_dir / "bad.key").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
    return app_dir


CASES = {
    "lifespan startup failure": (["failstart:app"], "database unreachable", "startup"),
    "missing certfile": (
        ["plain:app", "--certfile", "missing.pem", "--keyfile", "bad.key"],
        "missing.pem",
        None,
    ),
    "invalid key": (["plain:app", "--certfile", "cert.pem", "--keyfile", "bad.key"], "key", None),
    "app unimportable in the worker": (
        ["workerbroken:app"],
        "a_dependency_only_workers_need",
        None,
    ),
    "app raising at import": (["raising:app"], "KeyError", None),
}


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_deterministic_startup_failure_is_one_line_and_not_retried(
    failing_apps: Path, case: str, workers: str
) -> None:
    args, problem, counted = CASES[case]
    port = free_port()
    started = time.monotonic()

    result = run_command(*args, "-b", f"127.0.0.1:{port}", "-w", workers, cwd=failing_apps)

    elapsed = time.monotonic() - started
    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert len(lines) <= 3, lines
    assert [line for line in lines if line.startswith("Error: ") and problem in line], lines
    assert "Traceback" not in result.stderr
    assert "restarting" not in result.stderr
    assert elapsed < 8, elapsed
    log = failing_apps / "startups.txt"
    runs = log.read_text().splitlines() if log.exists() else []
    if counted is not None:
        # Once per worker at most: never retried.
        assert 1 <= runs.count(counted) <= int(workers), runs
    else:
        # The supervisor's own import, plus at most one per worker.
        assert runs.count("import") <= 1 + int(workers), runs


def test_startup_failure_in_a_worker_never_serves_a_request(
    start_server: StartServer, failing_apps: Path
) -> None:
    """The supervisor stops before the retries' backoff could keep the port open."""
    port = free_port()
    server = start_server("failstart:app", "-b", f"127.0.0.1:{port}", "-w", "2")

    code = server.wait(timeout=10)

    assert code == 1
    assert len(server.lines) == 1, server.lines
    assert server.lines[0] == "Error: Lifespan failure in startup. 'database unreachable'"


@pytest.mark.parametrize("workers", ["0", "1", "2"])
def test_a_failed_lifespan_shutdown_makes_the_exit_code_non_zero(
    start_server: StartServer, failing_apps: Path, workers: str
) -> None:
    port = free_port()
    server = start_server("failshutdown:app", "-b", f"127.0.0.1:{port}", "-w", workers)
    server.wait_for(f"Running on http://127.0.0.1:{port} ", count=max(int(workers), 1))

    code = server.stop(signal.SIGTERM)

    assert code == 1, server.lines
    assert any("flush failed" in line for line in server.lines), server.lines


def test_a_clean_shutdown_still_exits_zero(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "2")
    server.wait_for(f"Running on http://127.0.0.1:{port} ", count=2)

    assert server.stop(signal.SIGTERM) == 0


def test_an_exception_at_import_names_its_file_and_line(failing_apps: Path) -> None:
    result = run_command("raising:app", cwd=failing_apps)

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "importing 'raising' raised KeyError: 'DATABASE_URL'" in line
    assert f"{failing_apps / 'raising.py'}:5" in line


@pytest.mark.parametrize("flag", [["--debug"], ["--log-level", "debug"]])
def test_debug_shows_the_whole_traceback_of_an_import_error(
    failing_apps: Path, flag: list[str]
) -> None:
    result = run_command("raising:app", *flag, cwd=failing_apps)

    assert result.returncode == 2
    assert "Traceback (most recent call last):" in result.stderr
    assert 'DATABASE_URL = SETTINGS["DATABASE_URL"]' in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: Cannot load application")


def test_debug_shows_the_traceback_of_a_worker_that_cannot_import_the_app(
    failing_apps: Path,
) -> None:
    result = run_command("workerbroken:app", "-w", "1", "--debug", cwd=failing_apps)

    assert result.returncode == 2
    assert "Traceback (most recent call last):" in result.stderr
    assert "import a_dependency_only_workers_need" in result.stderr


def test_quic_bind_without_tls_is_refused_in_one_line(app_dir: Path) -> None:
    port = free_port()

    result = run_command(
        "app:app", "-b", f"127.0.0.1:{port}", "--quic-bind", f"127.0.0.1:{port}", cwd=app_dir
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: --quic-bind requires --certfile and --keyfile (HTTP/3 is TLS only)"
    ]


@pytest.fixture
def tls_app_dir(app_dir: Path) -> Path:
    """``app_dir`` with a valid certificate and key."""
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(app_dir / "cert.pem"))
    cert.private_key_pem.write_to_path(str(app_dir / "key.pem"))
    return app_dir


def test_quic_bind_udp_port_in_use_is_one_line(tls_app_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        udp_port = taken.getsockname()[1]
        result = run_command(
            "app:app",
            "--certfile",
            "cert.pem",
            "--keyfile",
            "key.pem",
            "-b",
            f"127.0.0.1:{free_port()}",
            "--quic-bind",
            f"127.0.0.1:{udp_port}",
            cwd=tls_app_dir,
        )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"Error: cannot bind 127.0.0.1:{udp_port}: address already in use"
    ]


def test_quic_bind_without_aioquic_names_the_extra(tls_app_dir: Path) -> None:
    # aioquic made unimportable in the child, as when the h3 extra is not installed
    (tls_app_dir / "sitecustomize.py").write_text("import sys\nsys.modules['aioquic'] = None\n")
    port = free_port()
    env_path = str(tls_app_dir)
    result = subprocess.run(
        [
            *hypercorn_command(),
            "app:app",
            "--certfile",
            "cert.pem",
            "--keyfile",
            "key.pem",
            "-b",
            f"127.0.0.1:{port}",
            "--quic-bind",
            f"127.0.0.1:{port}",
        ],
        cwd=tls_app_dir,
        env={**os.environ, "PYTHONPATH": env_path},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: HTTP/3 needs aioquic: pip install 'hypercorn[h3]' (or 'hypercorn-protocol[h3]')"
    ]


def test_insecure_bind_without_tls_is_one_log_line_not_a_python_warning(
    start_server: StartServer,
) -> None:
    port, other = free_port(), free_port()
    server = start_server(
        "app:app", "-b", f"127.0.0.1:{port}", "--insecure-bind", f"127.0.0.1:{other}", "-w", "0"
    )
    server.wait_for(f"Running on http://127.0.0.1:{port} ")

    assert server.stop() == 0
    (line,) = [line for line in server.lines if "insecure_bind" in line]
    assert "[WARNING] insecure_bind ignored" in line
    assert not [line for line in server.lines if "ConfigWarning" in line or ".py:" in line]


@pytest.mark.parametrize("worker_class", BACKENDS)
def test_sigterm_while_the_in_process_server_starts_drains_it(
    start_server: StartServer, failing_apps: Path, worker_class: str
) -> None:
    """The signal handlers are in place before lifespan startup, not after binding."""
    port = free_port()
    server = start_server("slowstart:app", "-b", f"127.0.0.1:{port}", "-w", "0", "-k", worker_class)
    deadline = time.monotonic() + 20
    while not (failing_apps / "starting").exists():
        assert time.monotonic() < deadline, server.lines
        time.sleep(0.02)

    code = server.stop(signal.SIGTERM)

    assert code == 0, server.lines
    assert (failing_apps / "shut_down").exists(), server.lines
