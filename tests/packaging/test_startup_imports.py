"""What a process imports before it serves: start-up time and memory.

A worker replaced after a crash must serve within a second (docs/deployment.md), and
``-w 1`` should cost little memory. So each process imports only what it uses: the
supervisor no event loop, a worker not the command line, and h2 / aioquic only once a
connection or a bind needs them. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _modules_after(code: str) -> set[str]:
    probe = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split())


def test_the_supervisor_checks_the_backend_without_importing_it() -> None:
    loaded = _modules_after(
        """
        from hypercorn_cli import _supervisor, run
        from hypercorn_cli._workers import check_worker
        for worker_class in ("asyncio", "uvloop", "trio"):
            check_worker(worker_class)
        """
    )
    assert {"hypercorn_cli.run", "hypercorn_cli._supervisor"} <= loaded
    for module in ("trio", "uvloop", "hypercorn_trio.run", "hypercorn_asyncio.run", "h2"):
        assert module not in loaded, module


@pytest.mark.parametrize("driver", ["hypercorn_asyncio.run", "hypercorn_trio.run"])
def test_a_worker_imports_neither_the_command_line_nor_http2_nor_quic(driver: str) -> None:
    loaded = _modules_after(f"import hypercorn_cli._spawn, hypercorn_cli._worker_process, {driver}")
    assert driver in loaded
    for module in (
        "hypercorn_cli.__main__",
        "hypercorn_cli._supervisor",
        "h2",
        "hpack",
        "aioquic",
        "hypercorn_protocol.http2.connection",
        "hypercorn_protocol.quic_driving",
    ):
        assert module not in loaded, module


def test_http2_is_imported_by_the_first_connection_that_speaks_it() -> None:
    serve = """
        from hypercorn_protocol import ServerConnection
        from hypercorn_protocol.config import Config
        conn = ServerConnection(Config(), client=None, server=None, scheme="http", now=0.0)
        conn.receive_data({data!r}, 0.0)
        while conn.next_event() is not None:
            pass
        """
    http1 = _modules_after(serve.format(data=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert "hypercorn_protocol.http1.connection" in http1
    assert "h2" not in http1
    http2 = _modules_after(serve.format(data=b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
    assert {"h2", "hypercorn_protocol.http2.connection"} <= http2
