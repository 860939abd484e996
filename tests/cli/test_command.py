"""The real ``hypercorn`` command, run as a subprocess against small apps."""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from hypercorn_cli.__about__ import __version__
from tests.cli._support import (
    StartServer,
    console_script,
    free_port,
    pid_alive,
    run_command,
    wait_until_gone,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

_LOG_PID = re.compile(r"\[(\d+)\] \[INFO\] Running on")


def _running_line(port: int) -> str:
    return f"Running on http://127.0.0.1:{port} (CTRL + C to quit)"


def _worker_pids(lines: list[str]) -> set[int]:
    pids = set()
    for line in lines:
        match = _LOG_PID.search(line)
        assert match is not None, line
        pids.add(int(match.group(1)))
    return pids


def test_serves_in_process_and_exits_0_on_sigterm(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "0")
    lines = server.wait_for(_running_line(port))

    response = httpx.get(f"http://127.0.0.1:{port}/in-process")

    assert response.status_code == 200
    assert response.text == "hello from /in-process"
    assert _worker_pids(lines) == {server.process.pid}  # no worker process
    assert server.stop() == 0


def test_serves_from_one_worker_process(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "--bind", f"127.0.0.1:{port}", "--workers", "1")
    lines = server.wait_for(_running_line(port))

    response = httpx.get(f"http://127.0.0.1:{port}/worker")

    assert response.text == "hello from /worker"
    (worker_pid,) = _worker_pids(lines)
    assert worker_pid != server.process.pid
    assert server.stop() == 0
    assert not pid_alive(worker_pid)


def test_two_workers_share_the_socket_and_all_stop(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "2")
    lines = server.wait_for(_running_line(port), count=2)
    pids = _worker_pids(lines)

    for _ in range(4):
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

    assert len(pids) == 2
    assert server.process.pid not in pids
    assert server.stop() == 0
    assert not any(pid_alive(pid) for pid in pids)
    # The listening socket is gone with the server.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_sigint_stops_the_supervisor_cleanly(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1")
    server.wait_for(_running_line(port))

    assert server.stop(signal.SIGINT) == 0
    assert not any("Traceback" in line for line in server.lines)


def test_worker_that_reaches_max_requests_is_replaced(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1", "--max-requests", "1")
    first = _worker_pids(server.wait_for(_running_line(port)))

    assert httpx.get(f"http://127.0.0.1:{port}/one").status_code == 200
    lines = server.wait_for(_running_line(port), count=2)
    second = _worker_pids(lines) - first

    assert len(second) == 1
    assert httpx.get(f"http://127.0.0.1:{port}/two").text == "hello from /two"
    assert server.stop() == 0


def test_workers_shut_down_when_the_supervisor_is_killed(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1")
    (worker_pid,) = _worker_pids(server.wait_for(_running_line(port)))

    server.process.kill()
    server.wait()

    assert wait_until_gone(worker_pid), "orphaned worker kept running"


def test_serves_a_wsgi_app(start_server: StartServer) -> None:
    port = free_port()
    server = start_server("wsgiapp:app", "-b", f"127.0.0.1:{port}", "-w", "0")
    server.wait_for(_running_line(port))

    assert httpx.get(f"http://127.0.0.1:{port}/path").text == "wsgi says /path"
    assert server.stop() == 0


def test_console_script_imports_the_app_from_the_current_directory(
    start_server: StartServer,
) -> None:
    script = console_script()
    if not script.exists():
        pytest.skip("the hypercorn console script is not installed next to this interpreter")
    port = free_port()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "0", command=[str(script)])
    server.wait_for(_running_line(port))

    assert httpx.get(f"http://127.0.0.1:{port}/script").text == "hello from /script"
    assert server.stop() == 0


def test_ephemeral_port_is_reported(start_server: StartServer) -> None:
    server = start_server("app:app", "-b", "127.0.0.1:0", "-w", "1")
    (line,) = server.wait_for("Running on http://127.0.0.1:")
    match = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
    assert match is not None
    port = int(match.group(1))

    assert port != 0
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    assert server.stop() == 0


def _single_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_missing_module_is_one_line(app_dir: Path) -> None:
    result = run_command("no_such_module:app", cwd=app_dir)

    assert result.returncode == 2
    line = _single_error_line(result.stderr)
    assert "no_such_module" in line
    assert "not found" in line


def test_missing_attribute_is_one_line(app_dir: Path) -> None:
    result = run_command("app:no_such_app", cwd=app_dir)

    assert result.returncode == 2
    assert "no_such_app" in _single_error_line(result.stderr)


def test_import_error_inside_the_app_names_the_missing_dependency(app_dir: Path) -> None:
    missing_module = run_command("no_such_module:app", cwd=app_dir)
    inner = run_command("broken:app", cwd=app_dir)

    assert inner.returncode == 2
    line = _single_error_line(inner.stderr)
    assert "a_dependency_that_is_not_installed" in line
    assert line != _single_error_line(missing_module.stderr)


def test_missing_config_file_is_one_line(app_dir: Path) -> None:
    result = run_command("app:app", "-c", "missing.toml", cwd=app_dir)

    assert result.returncode == 2
    assert "missing.toml" in _single_error_line(result.stderr)


def test_invalid_toml_is_one_line(app_dir: Path) -> None:
    (app_dir / "bad.toml").write_text("bind = [\n")

    result = run_command("app:app", "-c", "bad.toml", cwd=app_dir)

    assert result.returncode == 2
    assert "bad.toml" in _single_error_line(result.stderr)


def _usage_then_error(stderr: str) -> str:
    # As argparse and Hypercorn 0.18 do: the usage line, then the error.
    lines = stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == "usage: hypercorn [OPTIONS] APPLICATION"
    assert lines[1].startswith("Error: ")
    return lines[1]


def test_bad_flag_value_is_the_usage_and_one_line(app_dir: Path) -> None:
    result = run_command("app:app", "--workers", "many", cwd=app_dir)

    assert result.returncode == 2
    assert "--workers" in _usage_then_error(result.stderr)


def test_missing_application_argument_prints_the_usage_line_first(app_dir: Path) -> None:
    result = run_command(cwd=app_dir)

    assert result.returncode == 2
    assert "APPLICATION" in _usage_then_error(result.stderr)


def test_help_lists_the_deprecated_hypercorn_018_aliases(app_dir: Path) -> None:
    result = run_command("--help", cwd=app_dir)

    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for alias, replacement in [
        ("--access-log ACCESS_LOG", "--access-logfile"),
        ("--error-log ERROR_LOG", "--error-logfile"),
        ("--cert-reqs CERT_REQS", "--verify-mode"),
    ]:
        assert f"{alias} Deprecated: use {replacement}" in text
    assert "--reuse-port" in text


@pytest.mark.parametrize("workers", ["0", "2"])
def test_port_in_use_is_one_line(app_dir: Path, workers: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = run_command("app:app", "-b", f"127.0.0.1:{port}", "-w", workers, cwd=app_dir)

    assert result.returncode == 1
    line = _single_error_line(result.stderr)
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line


def test_worker_startup_failure_stops_the_server(app_dir: Path) -> None:
    port = free_port()
    started = time.monotonic()

    result = run_command("failing:app", "-b", f"127.0.0.1:{port}", "-w", "2", cwd=app_dir)

    assert result.returncode == 1
    assert time.monotonic() - started < 10
    # Deterministic: no retries, one clear line (see test_startup_failures).
    assert result.stderr.splitlines() == [
        "Error: Lifespan failure in startup. 'database unreachable'"
    ]


def test_version(app_dir: Path) -> None:
    result = run_command("--version", cwd=app_dir)

    assert result.returncode == 0
    assert result.stdout.strip() == f"hypercorn {__version__}"
