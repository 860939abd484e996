"""Helpers for running the real ``hypercorn`` command in a subprocess."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tests.helpers.lifespan import LIFESPAN_SOURCE

ASGI_APP = (
    LIFESPAN_SOURCE
    + """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    body = f"hello from {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""
)

WSGI_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi says " + environ["PATH_INFO"].encode()]
"""

FAILING_STARTUP_APP = """
async def app(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
"""

#: Answers "<worker pid> <uid> <root_path> <VERSION>"; ``/slow`` takes a second.
PID_APP = (
    LIFESPAN_SOURCE
    + """
import asyncio
import os

VERSION = "v1"

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)
    body = f"{os.getpid()} {os.getuid()} {scope['root_path'] or '-'} {VERSION}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""
)

BROKEN_IMPORT_APP = """
import a_dependency_that_is_not_installed

async def app(scope, receive, send):
    pass
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A running ``hypercorn`` process whose stderr is collected line by line."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            pass_fds=pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """Wait until ``count`` stderr lines contain ``text``; return those lines."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [line for line in self.lines if text in line]
            if len(matching) >= count:
                return matching
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} on stderr; got {self.lines!r}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"exited ({self.process.wait()}) with stderr {self.lines!r}")
            self.lines.append(line)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``signum`` and return the exit code."""
        self.process.send_signal(signum)
        return self.wait(timeout)

    def close(self) -> None:
        """Kill the process if it is still running and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.wait()
        assert self.process.stderr is not None
        self.process.stderr.close()

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for exit; returns the exit code with all of stderr collected."""
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code


StartServer = Callable[..., Server]


def hypercorn_command() -> list[str]:
    """``python -m hypercorn`` with this interpreter."""
    return [sys.executable, "-m", "hypercorn"]


def console_script() -> Path:
    """The ``hypercorn`` console script installed next to this interpreter."""
    name = "hypercorn.exe" if sys.platform == "win32" else "hypercorn"
    scripts = Path(sys.executable).parent
    return scripts / name


def run_command(
    *args: str, cwd: Path, timeout: float = 30.0, pass_fds: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hypercorn ARGS`` to completion (``pass_fds`` stay open in it)."""
    return subprocess.run(
        [*hypercorn_command(), *args],
        cwd=cwd,
        pass_fds=pass_fds,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is still running (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text()
    except OSError:
        return not status.parent.parent.is_dir()  # no /proc: trust kill(0)
    return "State:\tZ" not in text


def wait_until_gone(pid: int, timeout: float = 20.0) -> bool:
    """Wait for ``pid`` to stop running; True if it did within ``timeout``."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Reply(NamedTuple):
    """What ``PID_APP`` answered."""

    pid: int
    uid: int
    root_path: str
    version: str


def fetch(port: int, path: str = "/", timeout: float = 10.0) -> str:
    """GET ``path`` on a new connection (``Connection: close``); the body of a 200."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise AssertionError(f"unexpected response {head!r}")
    return body.decode()


def ask(port: int, path: str = "/") -> Reply:
    """GET from ``PID_APP`` and parse its answer."""
    pid, uid, root_path, version = fetch(port, path).split()
    return Reply(int(pid), int(uid), root_path, version)


class Traffic:
    """Requests on fresh connections in a tight loop, from a thread, until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.replies: list[Reply] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.replies.append(ask(self.port))
            except (OSError, AssertionError, ValueError) as exc:
                self.failures.append(repr(exc))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)


def wait_for_reply(port: int, predicate: Callable[[Reply], bool], timeout: float = 20.0) -> Reply:
    """Ask ``PID_APP`` until ``predicate`` holds for the answer; returns that answer."""
    deadline = time.monotonic() + timeout
    last: Reply | str | None = None
    while time.monotonic() < deadline:
        try:
            last = ask(port)
        except (OSError, AssertionError) as exc:
            last = repr(exc)
        else:
            if predicate(last):
                return last
        time.sleep(0.05)
    raise AssertionError(f"no matching reply; last was {last!r}")
