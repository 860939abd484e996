"""How the real command refuses HTTP/3 setups that cannot work: one line, exit != 0.

The UDP port in use and aioquic missing, with the default workers, are in
test_startup_failures.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests.cli._support import StartServer, run_command
from tests.helpers.tls import write_tls_files

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX command line"),
]


def _only_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("tls", [[], ["--certfile", "cert.pem"], ["--keyfile", "key.pem"]])
def test_quic_bind_without_certfile_and_keyfile_is_one_line(app_dir: Path, tls: list[str]) -> None:
    write_tls_files(app_dir)

    result = run_command(
        "app:app", "-b", "127.0.0.1:0", "--quic-bind", "127.0.0.1:0", *tls, cwd=app_dir
    )

    assert result.returncode != 0
    line = _only_line(result.stderr)
    assert "--quic-bind" in line
    assert "--certfile" in line
    assert "--keyfile" in line


@pytest.mark.parametrize("workers", [[], ["-w", "0"]], ids=["supervisor", "in-process"])
def test_quic_bind_to_a_unix_socket_is_one_line(app_dir: Path, workers: list[str]) -> None:
    write_tls_files(app_dir)
    path = app_dir / "quic.sock"

    result = run_command(
        "app:app",
        "-b",
        "127.0.0.1:0",
        "--quic-bind",
        f"unix:{path}",
        "--certfile",
        "cert.pem",
        "--keyfile",
        "key.pem",
        *workers,
        cwd=app_dir,
    )

    assert result.returncode == 2
    line = _only_line(result.stderr)
    assert f"--quic-bind unix:{path}" in line
    assert "UDP" in line
    assert "host:port" in line
    assert not path.exists()


@pytest.mark.parametrize("family", ["unix-datagram", "tcp"])
def test_quic_bind_to_an_inherited_socket_that_is_not_udp_is_one_line(
    app_dir: Path, family: str
) -> None:
    write_tls_files(app_dir)
    if family == "tcp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        expected = ["SOCK_DGRAM", "SOCK_STREAM"]
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(app_dir / "dgram.sock"))
        expected = [f"fd://{sock.fileno()}", "UDP", "unix socket"]
    with sock:
        result = run_command(
            "app:app",
            "-b",
            "127.0.0.1:0",
            "--quic-bind",
            f"fd://{sock.fileno()}",
            "--certfile",
            "cert.pem",
            "--keyfile",
            "key.pem",
            cwd=app_dir,
            pass_fds=(sock.fileno(),),
        )

    assert result.returncode == 2
    line = _only_line(result.stderr)
    for text in expected:
        assert text in line


def test_udp_port_in_use_is_one_line_in_process_too(app_dir: Path) -> None:
    """(test_startup_failures covers the supervisor, ``-w 1``; this is ``-w 0``.)"""
    write_tls_files(app_dir)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]

        result = run_command(
            "app:app",
            "-b",
            "127.0.0.1:0",
            "--quic-bind",
            f"127.0.0.1:{port}",
            "--certfile",
            "cert.pem",
            "--keyfile",
            "key.pem",
            "-w",
            "0",
            cwd=app_dir,
            timeout=20,
        )

    assert result.returncode != 0
    line = _only_line(result.stderr)
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line


def test_verify_mode_required_with_quic_bind_is_one_line(app_dir: Path) -> None:
    tls = write_tls_files(app_dir)

    result = run_command(
        "app:app",
        "-b",
        "127.0.0.1:0",
        "--quic-bind",
        "127.0.0.1:0",
        "--certfile",
        "cert.pem",
        "--keyfile",
        "key.pem",
        "--ca-certs",
        str(tls.cafile),
        "--verify-mode",
        "CERT_REQUIRED",
        cwd=app_dir,
    )

    assert result.returncode != 0
    assert "CERT_REQUIRED" in _only_line(result.stderr)


def test_verify_mode_optional_with_quic_bind_is_one_log_line_not_a_python_warning(
    start_server: StartServer, app_dir: Path
) -> None:
    tls = write_tls_files(app_dir)
    server = start_server(
        "app:app",
        "-w",
        "0",
        "-b",
        "127.0.0.1:0",
        "--quic-bind",
        "127.0.0.1:0",
        "--certfile",
        "cert.pem",
        "--keyfile",
        "key.pem",
        "--ca-certs",
        str(tls.cafile),
        "--verify-mode",
        "CERT_OPTIONAL",
    )
    server.wait_for("(QUIC)")

    assert server.stop() == 0
    (line,) = [line for line in server.lines if "CERT_OPTIONAL" in line]
    assert "[WARNING]" in line
    assert not [line for line in server.lines if "ConfigWarning" in line or ".py:" in line]
