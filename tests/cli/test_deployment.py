"""Deployment features of the real command: pid file, unix sockets, users, systemd."""

from __future__ import annotations

import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli._support import (
    PID_APP,
    StartServer,
    ask,
    free_port,
    hypercorn_command,
    run_command,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes"),
]

NOBODY = 65534


def test_pid_file_is_written_at_start_and_removed_at_exit(
    start_server: StartServer, app_dir: Path
) -> None:
    port = free_port()
    pid_file = app_dir / "run" / "hypercorn.pid"
    pid_file.parent.mkdir()
    server = start_server("app:app", "-b", f"127.0.0.1:{port}", "-w", "1", "--pid", str(pid_file))
    server.wait_for("Running on")

    assert pid_file.read_text() == f"{server.process.pid}\n"
    assert server.stop() == 0
    assert not pid_file.exists()


def test_pid_file_is_not_left_behind_by_a_failed_start(app_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = run_command("app:app", "-b", f"127.0.0.1:{port}", "-p", "x.pid", cwd=app_dir)

    assert result.returncode == 1
    assert not (app_dir / "x.pid").exists()


def _unix_get(path: Path) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: unix\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_unix_socket_is_created_under_the_octal_umask(
    start_server: StartServer, app_dir: Path
) -> None:
    path = app_dir / "server.sock"
    server = start_server("app:app", "-b", f"unix:{path}", "-w", "1", "--umask", "077")
    server.wait_for(f"Running on unix:{path}")

    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert _unix_get(path).endswith(b"hello from /")
    assert server.stop() == 0


@pytest.fixture
def public_app_dir() -> Iterator[Path]:
    """An app directory every user can read (pytest's tmp_path is private to root)."""
    with tempfile.TemporaryDirectory(prefix="hypercorn-public-") as name:
        directory = Path(name)
        directory.chmod(0o755)
        (directory / "pidapp.py").write_text(PID_APP)
        (directory / "pidapp.py").chmod(0o644)
        yield directory


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_as_root_workers_drop_to_the_user_and_group(public_app_dir: Path) -> None:
    from tests.cli._support import Server

    port = free_port()
    path = public_app_dir / "server.sock"
    server = Server(
        [
            *hypercorn_command(),
            "pidapp:app",
            "-b",
            f"127.0.0.1:{port}",
            "-b",
            f"unix:{path}",
            "-w",
            "1",
            "--user",
            str(NOBODY),
            "--group",
            str(NOBODY),
        ],
        public_app_dir,
    )
    try:
        server.wait_for(f"Running on unix:{path}")
        reply = ask(port)

        assert reply.uid == NOBODY
        status = Path(f"/proc/{reply.pid}/status").read_text().splitlines()
        ids = dict(line.split(":", 1) for line in status if line.startswith(("Uid:", "Gid:")))
        assert ids["Uid"].split() == ids["Gid"].split() == [str(NOBODY)] * 4
        assert (path.stat().st_uid, path.stat().st_gid) == (NOBODY, NOBODY)
        # h2 is imported on first use, which here comes after the switch to nobody (who
        # may not be able to read the installed packages): imported before it instead.
        with httpx.Client(http1=False, http2=True) as client:
            response = client.get(f"http://127.0.0.1:{port}/")
        assert response.http_version == "HTTP/2"
        assert response.text.split()[0] == str(reply.pid)
        assert server.stop() == 0
    finally:
        server.close()


def test_systemd_socket_activation(start_server: StartServer) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    # The launcher's part (what systemd does): the socket as fd 3, LISTEN_PID naming the
    # server's own pid (exec keeps it), then exec the server.
    launcher = (
        "import os, sys; "
        f"os.dup2({fd}, 3); os.close({fd}); "
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
        "os.execv(sys.executable, [sys.executable, '-m', 'hypercorn', 'pidapp:app', '-w', '2'])"
    )
    try:
        server = start_server(command=[sys.executable, "-c", launcher], pass_fds=(fd,))
        lines = server.wait_for(f"Running on http://127.0.0.1:{port} ", count=2)

        assert len(lines) == 2
        assert ask(port).pid != server.process.pid
        assert server.stop() == 0
    finally:
        listener.close()
