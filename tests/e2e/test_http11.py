"""HTTP/1.1 end to end: real sockets on 127.0.0.1, httpx and raw-socket clients."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from hypercorn_protocol.typing import ASGIScope, Message
from tests.helpers.server import make_config, run_server, sleep

pytestmark = pytest.mark.usefixtures("http1_wire")  # every test on each HTTP/1.1 wire

Receive = Any
Send = Any

# Paths whose request reached the app, so a test can wait for "in flight" instead of
# sleeping a guess (a loaded machine can take longer than any fixed sleep).
ARRIVED: dict[str, threading.Event] = {}


def wait_until_arrived(path: str, timeout: float = 10.0) -> None:
    assert ARRIVED.setdefault(path, threading.Event()).wait(timeout), f"{path} never arrived"


async def echo_app(scope: ASGIScope, receive: Receive, send: Send) -> None:
    """Echo the request body; answer lifespan; report the scope in headers."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    path = scope["path"]
    ARRIVED.setdefault(path, threading.Event()).set()
    if path == "/error":
        raise RuntimeError("app failure")
    if path == "/slow":
        await sleep(0.5)
    if path == "/forever":
        await sleep(3600)
    headers = [
        (b"x-path", scope["path"].encode()),
        (b"x-greeting", scope.get("state", {}).get("greeting", "none").encode()),
        (b"x-scheme", scope["scheme"].encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/stream":
        for part in (b"a", b"b", b"c"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send({"type": "http.response.body", "body": body})


def raw_exchange(port: int, data: bytes, *, until_close: bool = True, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not until_close:
                break
        return b"".join(chunks)


def test_get_post_and_lifespan_state(loop_name: str) -> None:
    with run_server(echo_app, make_config(), loop_name) as server, httpx.Client() as client:
        response = client.get(server.url + "/hello%20world")
        assert response.status_code == 200
        assert response.headers["x-path"] == "/hello world"
        assert response.headers["x-greeting"] == "hello"
        assert response.headers["server"] == "hypercorn-h11"
        assert "date" in response.headers
        posted = client.post(server.url + "/echo", content=b"x" * 100_000)
        assert posted.content == b"x" * 100_000


def test_keep_alive_reuses_one_connection(loop_name: str) -> None:
    with (
        run_server(echo_app, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        for _ in range(3):
            sock.sendall(b"GET /k HTTP/1.1\r\nhost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"\r\n\r\n") or b"x-path" not in data:
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_pipelined_requests_in_order(loop_name: str) -> None:
    with run_server(echo_app, make_config(), loop_name) as server:
        request = b"GET /%d HTTP/1.1\r\nhost: x\r\n\r\n"
        wire = (
            b"".join(request % i for i in range(5))
            + b"GET /end HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        data = raw_exchange(server.port, wire)
        positions = [data.index(b"x-path: /%d\r\n" % i) for i in range(5)]
        assert positions == sorted(positions)
        assert data.count(b"HTTP/1.1 200 OK") == 6


def test_chunked_upload_and_streamed_response(loop_name: str) -> None:
    def chunks() -> Any:
        yield b"ab"
        yield b"cd"

    with run_server(echo_app, make_config(), loop_name) as server, httpx.Client() as client:
        assert client.post(server.url + "/", content=chunks()).content == b"abcd"
        streamed = client.get(server.url + "/stream")
        assert streamed.content == b"abc"
        assert streamed.headers["transfer-encoding"] == "chunked"


def test_expect_100_continue(loop_name: str) -> None:
    with (
        run_server(echo_app, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"body")
        final = b""
        while not final.endswith(b"body"):
            final += sock.recv(65536)
        assert b"HTTP/1.1 200 OK" in final


def test_malformed_request_gets_400_and_other_connections_unharmed(loop_name: str) -> None:
    with run_server(echo_app, make_config(), loop_name) as server, httpx.Client() as client:
        assert client.get(server.url + "/before").status_code == 200
        data = raw_exchange(server.port, b"GET / HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 ")
        assert b"connection: close" in data
        smuggle = raw_exchange(
            server.port,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n",
        )
        assert smuggle.startswith(b"HTTP/1.1 400 ")
        assert b"/smuggled" not in smuggle
        assert client.get(server.url + "/after").status_code == 200


def test_oversized_headers_431(loop_name: str) -> None:
    config = make_config(h11_max_incomplete_size=4096)
    with run_server(echo_app, config, loop_name) as server:
        data = raw_exchange(
            server.port, b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 8192 + b"\r\n\r\n"
        )
        assert data.startswith(b"HTTP/1.1 431 ")


def test_app_error_gives_500_and_connection_survives(loop_name: str) -> None:
    with run_server(echo_app, make_config(), loop_name) as server, httpx.Client() as client:
        response = client.get(server.url + "/error")
        assert response.status_code == 500
        assert response.content == b""
        assert client.get(server.url + "/ok").status_code == 200


def test_keep_alive_timeout_closes_idle_connection(loop_name: str) -> None:
    with (
        run_server(echo_app, make_config(keep_alive_timeout=0.3), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        started = time.monotonic()
        assert sock.recv(1) == b""  # the server closed it
        assert time.monotonic() - started >= 0.25


def test_tls_with_alpn_http11(loop_name: str, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    config = make_config(certfile=str(certfile), keyfile=str(keyfile), alpn_protocols=["http/1.1"])
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with run_server(echo_app, config, loop_name) as server:
        assert server.url.startswith("https://")
        with httpx.Client(verify=client_context) as client:
            response = client.get(server.url + "/secure")
            assert response.status_code == 200
            assert response.headers["x-scheme"] == "https"
            assert response.http_version == "HTTP/1.1"


def test_unix_socket(loop_name: str, tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    config = make_config()
    config.bind = [f"unix:{path}"]
    with run_server(echo_app, config, loop_name):
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport) as client:
            response = client.get("http://localhost/unix")
            assert response.headers["x-path"] == "/unix"


def test_several_binds_at_once(loop_name: str) -> None:
    config = make_config()
    config.bind = ["127.0.0.1:0", "[::1]:0"]
    with run_server(echo_app, config, loop_name) as server, httpx.Client() as client:
        assert len(server.binds) == 2
        for url in server.binds:
            assert client.get(url + "/multi").status_code == 200


def test_graceful_shutdown_finishes_in_flight_and_refuses_new(loop_name: str) -> None:
    results: dict[str, Any] = {}
    ARRIVED.pop("/slow", None)
    with run_server(echo_app, make_config(graceful_timeout=5), loop_name) as server:

        def slow_request() -> None:
            with httpx.Client() as client:
                results["slow"] = client.get(server.url + "/slow")

        thread = threading.Thread(target=slow_request)
        thread.start()
        wait_until_arrived("/slow")
        stop_started = time.monotonic()
        server.stop()
        results["stop_seconds"] = time.monotonic() - stop_started
        thread.join(5)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1)
    assert results["slow"].status_code == 200
    assert results["slow"].headers["connection"] == "close"
    assert results["stop_seconds"] < 3


def test_graceful_timeout_cancels_stuck_requests(loop_name: str) -> None:
    ARRIVED.pop("/forever", None)
    with run_server(echo_app, make_config(graceful_timeout=0.5), loop_name) as server:
        errors: list[BaseException] = []

        def stuck_request() -> None:
            try:
                with httpx.Client(timeout=10) as client:
                    client.get(server.url + "/forever")
            except httpx.HTTPError as error:
                errors.append(error)

        thread = threading.Thread(target=stuck_request)
        thread.start()
        wait_until_arrived("/forever")
        started = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - started
        thread.join(5)
    assert 0.4 <= elapsed < 3, elapsed
    assert errors, "the stuck request must be cut, not answered"


async def failing_lifespan(scope: ASGIScope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})


def test_lifespan_failure_refuses_to_start(loop_name: str) -> None:
    from hypercorn_protocol.errors import LifespanFailureError

    with (
        pytest.raises(LifespanFailureError, match="database unreachable"),
        run_server(failing_lifespan, make_config(), loop_name),
    ):
        pass


async def no_lifespan_app(scope: ASGIScope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 204})
    await send({"type": "http.response.body"})


def test_app_without_lifespan_keeps_serving(loop_name: str) -> None:
    with run_server(no_lifespan_app, make_config(), loop_name) as server, httpx.Client() as client:
        assert client.get(server.url).status_code == 204


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Port", environ["SERVER_PORT"])])
    return [b"wsgi:", body]


def test_wsgi_app(loop_name: str) -> None:
    with run_server(wsgi_app, make_config(), loop_name) as server, httpx.Client() as client:
        response = client.post(server.url + "/w", content=b"payload")
        assert response.content == b"wsgi:payload"
        assert response.headers["x-port"] == str(server.port)


def test_slow_reader_backpressure_bounds_memory(loop_name: str) -> None:
    """A client that does not read makes the app's send wait instead of buffering."""
    sent: list[int] = []

    async def firehose(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        chunk = b"x" * 65536
        for _ in range(2000):  # 128 MiB if nothing pushed back
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent.append(len(chunk))
        await send({"type": "http.response.body", "body": b""})

    with (
        run_server(firehose, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(1.0)
        # socket buffers plus the transport's high-water mark: a few MiB at most
        assert sum(sent) < 16 * 1024 * 1024
        received = 0
        while received < 1024 * 1024:
            received += len(sock.recv(65536))
        time.sleep(0.2)
        assert sum(sent) > 1024 * 1024  # reading let the app continue


def test_access_log_line(loop_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = make_config(accesslog="-")
    with run_server(echo_app, config, loop_name) as server, httpx.Client() as client:
        client.get(server.url + "/logged?q=1", headers={"user-agent": "pytest-agent"})
        time.sleep(0.2)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "/logged" in line]
    assert len(lines) == 1, out
    assert '"GET /logged 1.1" 200' in lines[0]
    assert "pytest-agent" in lines[0]


def _message(value: Message) -> Message:
    return value


def test_slow_app_backpressure_blocks_the_uploader(loop_name: str) -> None:
    """An app that does not read makes the server stop reading, so the client blocks."""
    import threading

    release = threading.Event()
    received: list[int] = []

    async def lazy_reader(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while not release.is_set():
            await sleep(0.05)
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        received.append(total)
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"%d" % total})

    size = 64 * 1024 * 1024
    with (
        run_server(lazy_reader, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % size)
        sent = 0
        chunk = b"y" * 65536
        sock.settimeout(1.0)
        try:
            while sent < size:
                sent += sock.send(chunk)
        except TimeoutError:
            pass
        # queue bound (max_app_queue_size chunks) plus kernel buffers, far below 64 MiB
        assert sent < 16 * 1024 * 1024, sent
        release.set()
        sock.settimeout(10)
        while sent < size:
            sent += sock.send(chunk[: min(len(chunk), size - sent)])
        response = b""
        while not response.endswith(b"%d" % size):
            response += sock.recv(65536)
    assert received == [size]


def test_serves_an_inherited_fd(loop_name: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = make_config()
    config.bind = [f"fd://{listener.detach()}"]  # the server owns the fd from here on
    with run_server(echo_app, config, loop_name), httpx.Client() as client:
        response = client.get(f"http://127.0.0.1:{port}/via-fd")
        assert response.headers["x-path"] == "/via-fd"
