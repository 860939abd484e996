"""What a process imports before it serves: start-up time and memory.

A worker replaced after a crash must serve within a second (docs/deployment.md), and
``-w 1`` should cost little memory (issue 12: at most 45 MiB in total). So each process
imports only what it uses: the supervisor no event loop, no TLS library without TLS and
not the application; a worker not the command line; h2 / aioquic only once a connection
or a bind needs them, wsproto only with the first WebSocket, h11 only when it is the
wire. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import importlib.util
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


#: What the supervisor does without: each costs RSS in a process that only supervises.
SUPERVISOR_NEVER = (
    "ssl",  # maps OpenSSL: about 5 MiB (loaded only when TLS is configured)
    "_hashlib",
    "multiprocessing",  # about 2.5 MiB; the worker channel is hypercorn_cli._pipe
    "tempfile",
    "json",
    "difflib",
    "pathlib",
    "asyncio",
    "h11",
    "wsproto",
    "hypercorn_protocol.apps.loading",  # the application is the workers' business
    "hypercorn_protocol.apps.wsgi",
    "hypercorn_protocol.server.reloading",  # --reload only
    "hypercorn_protocol.server.metrics",  # metrics_bind only
)


def test_the_command_line_loads_no_tls_multiprocessing_reloader_or_app_loader() -> None:
    loaded = _modules_after(
        """
        import hypercorn.__main__, hypercorn_cli.run, hypercorn_cli._supervisor
        from hypercorn_cli._options import parse_args
        parse_args(["-w", "1", "-b", "127.0.0.1:0", "app:app"])
        """
    )
    assert "hypercorn_cli._pipe" in loaded
    for module in SUPERVISOR_NEVER:
        assert module not in loaded, module


def test_tls_flags_still_load_ssl_when_given() -> None:
    loaded = _modules_after(
        """
        from hypercorn_cli._options import parse_args
        parse_args(["--verify-mode", "CERT_REQUIRED", "app:app"])
        """
    )
    assert "ssl" in loaded


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
        "multiprocessing",
        "argparse",
        "hypercorn_cli._options",
        "wsproto",
        "hypercorn_protocol.websocket.stream",
        "hypercorn_asyncio.wsgi",
        "hypercorn_trio.wsgi",
        "hypercorn_protocol.server.reloading",
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


HTTPTOOLS = importlib.util.find_spec("httptools") is not None

_SERVE = """
    from hypercorn_protocol import ServerConnection
    from hypercorn_protocol.config import Config
    config = Config()
    config.http_parser = {parser!r}
    conn = ServerConnection(config, client=None, server=None, scheme="http", now=0.0)
    conn.receive_data({data!r}, 0.0)
    while conn.next_event() is not None:
        pass
    """

_GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
_UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_wsproto_is_imported_by_the_first_websocket_upgrade() -> None:
    http = _modules_after(_SERVE.format(parser="auto", data=_GET))
    assert "hypercorn_protocol.asgi.stream" in http
    assert "wsproto" not in http
    assert "hypercorn_protocol.websocket.stream" not in http
    upgrade = _modules_after(_SERVE.format(parser="auto", data=_UPGRADE))
    assert {"wsproto", "hypercorn_protocol.websocket.stream"} <= upgrade


def test_h11_is_imported_only_when_it_is_the_wire() -> None:
    # With httptools installed the default ("auto") wire is httptools, and h11 stays out.
    auto = _modules_after(_SERVE.format(parser="auto", data=_GET))
    assert ("h11" in auto) is not HTTPTOOLS
    assert ("httptools" in auto) is HTTPTOOLS
    chosen = _modules_after(_SERVE.format(parser="h11", data=_GET))
    assert {"h11", "hypercorn_protocol.http1.h11_wire"} <= chosen


PROTOCOL_LIBRARIES = ("h11", "h2", "hpack", "hyperframe", "wsproto", "aioquic", "trio", "uvloop")


@pytest.mark.parametrize(
    "statement",
    [
        "import hypercorn_protocol",
        "import hypercorn_protocol.config",
        "import hypercorn_protocol.typing",
        "import hypercorn_cli._supervisor",
        "import hypercorn_cli.__main__",
    ],
)
def test_the_supervisors_imports_load_no_protocol_library(statement: str) -> None:
    loaded = {name.split(".")[0] for name in _modules_after(statement)}
    assert loaded.isdisjoint(PROTOCOL_LIBRARIES), sorted(loaded & set(PROTOCOL_LIBRARIES))


def test_lazy_names_still_resolve() -> None:
    import hypercorn_protocol
    from hypercorn_protocol.typing import H11SendableEvent

    assert hypercorn_protocol.ServerConnection.__name__ == "ServerConnection"
    assert hypercorn_protocol.events.StartApp is hypercorn_protocol.StartApp
    assert set(hypercorn_protocol.__all__) <= set(dir(hypercorn_protocol))
    assert "Data" in repr(H11SendableEvent)
