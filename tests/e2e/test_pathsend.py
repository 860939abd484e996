"""``http.response.pathsend`` over real sockets: HTTP/1.1 plain and TLS, HTTP/2 (TLS).

Plain HTTP/1.1 on asyncio, uvloop and trio goes through ``os.sendfile`` (observed by
counting its calls); TLS and HTTP/2 read the file in chunks. Every case must deliver
the file byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

from tests.helpers.server import make_config, run_server

SIZE = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    os.mkfifo(path.parent / "fifo")
    return path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str, str]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return ca, str(certfile), str(keyfile)


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts ``os.sendfile`` calls (the server runs in this process)."""
    calls: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting)
    return calls


class FileApp:
    """Sends the file at ``path`` with pathsend; records what happened to each send."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.extensions: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.errors: list[BaseException] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.extensions.append(scope["extensions"])
        route = scope["path"]
        headers = [(b"content-type", b"application/octet-stream")]
        path = str(self.path)
        if route == "/length":
            headers.append((b"content-length", b"%d" % self.path.stat().st_size))
        elif route == "/missing":
            path = str(self.path) + ".missing"
        elif route == "/directory":
            path = str(self.path.parent)
        elif route == "/fifo":
            path = str(self.path.parent / "fifo")  # no writer: opening it must not block
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            await send({"type": "http.response.pathsend", "path": path})
        except BaseException as error:
            self.errors.append(error)
            raise
        finally:
            self.finished.set()


def _client(scheme: str, tls: tuple[trustme.CA, str, str], http2: bool) -> httpx.Client:
    context = ssl.create_default_context()
    tls[0].configure_trust(context)
    return httpx.Client(http2=http2, verify=context, timeout=30)


CASES = [("http", False), ("https", False), ("https", True)]
CASE_IDS = ["h1", "h1-tls", "h2-tls"]


def _config(scheme: str, tls: tuple[trustme.CA, str, str]) -> Any:
    if scheme == "https":
        return make_config(certfile=tls[1], keyfile=tls[2])
    return make_config()


@pytest.mark.parametrize(("scheme", "http2"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("route", ["/", "/length"])
def test_file_is_sent_byte_exact(
    loop_name: str,
    big_file: Path,
    tls: tuple[trustme.CA, str, str],
    sendfile_calls: list[int],
    scheme: str,
    http2: bool,
    route: str,
) -> None:
    app = FileApp(big_file)
    with run_server(app, _config(scheme, tls), loop_name) as server:
        url = f"{scheme}://localhost:{server.port}{route}"
        with _client(scheme, tls, http2) as client:
            response = client.get(url)
            again = client.get(url)  # the connection is reusable after a file
    assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    expected = hashlib.sha256(big_file.read_bytes()).hexdigest()
    assert hashlib.sha256(response.content).hexdigest() == expected
    assert hashlib.sha256(again.content).hexdigest() == expected
    assert all("http.response.pathsend" in extensions for extensions in app.extensions)
    zero_copy = scheme == "http"
    assert bool(sendfile_calls) == zero_copy


@pytest.mark.parametrize(("scheme", "http2"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("route", ["/missing", "/directory", "/fifo"])
def test_file_that_cannot_be_opened_is_a_500(
    loop_name: str,
    big_file: Path,
    tls: tuple[trustme.CA, str, str],
    scheme: str,
    http2: bool,
    route: str,
) -> None:
    app = FileApp(big_file)
    with (
        run_server(app, _config(scheme, tls), loop_name) as server,
        _client(scheme, tls, http2) as client,
    ):
        response = client.get(f"{scheme}://localhost:{server.port}{route}")
        after = client.get(f"{scheme}://localhost:{server.port}/")
    assert response.status_code == 500
    assert response.content == b""
    assert isinstance(app.errors[0], OSError)
    assert after.status_code == 200
    assert len(after.content) == SIZE


def test_file_to_a_reader_that_stalls_resumes_where_the_socket_filled(
    loop_name: str, big_file: Path, sendfile_calls: list[int]
) -> None:
    """The client stops reading until the server's socket is full; the rest of the file
    still goes out zero-copy once it reads again (uvloop: the transport drains the chunk
    written when the socket filled, then ``os.sendfile`` goes on), byte for byte."""
    app = FileApp(big_file)
    with (
        run_server(app, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as client,
    ):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.sendall(b"GET /length HTTP/1.1\r\nhost: localhost\r\n\r\n")
        time.sleep(1.0)  # nothing read: the server's send buffer fills
        received = bytearray()
        while b"\r\n\r\n" not in received or len(received) < received.index(b"\r\n\r\n") + 4 + SIZE:
            data = client.recv(256 * 1024)
            assert data, "the server closed the connection mid-file"
            received += data
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    # Several calls: the first stopped at a full socket, later ones went on from there.
    assert len(sendfile_calls) >= 2, sendfile_calls


def test_file_to_a_reader_that_never_reads_ends_at_response_write_timeout(
    loop_name: str, big_file: Path
) -> None:
    """A client that takes no bytes of a file response is cut at ``response_write_timeout``
    as for any other body: the app's send returns, and the server goes on serving."""
    app = FileApp(big_file)
    config = make_config(response_write_timeout=1.0)
    with run_server(app, config, loop_name) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            client.sendall(b"GET /length HTTP/1.1\r\nhost: localhost\r\n\r\n")
            started = time.monotonic()
            assert app.finished.wait(20), "the app's pathsend never returned"
            elapsed = time.monotonic() - started
        with httpx.Client(timeout=30) as other:
            assert len(other.get(f"http://127.0.0.1:{server.port}/").content) == SIZE
    assert app.errors == []
    assert 0.5 < elapsed < 15, elapsed


def test_head_request_sends_no_body(loop_name: str, big_file: Path) -> None:
    app = FileApp(big_file)
    with run_server(app, make_config(), loop_name) as server:
        response = httpx.head(f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == b""


@pytest.mark.parametrize(("scheme", "http2"), CASES, ids=CASE_IDS)
def test_client_disconnect_mid_file(
    loop_name: str,
    big_file: Path,
    tls: tuple[trustme.CA, str, str],
    scheme: str,
    http2: bool,
) -> None:
    app = FileApp(big_file)
    with run_server(app, _config(scheme, tls), loop_name) as server:
        url = f"{scheme}://localhost:{server.port}/"
        with _client(scheme, tls, http2) as client, client.stream("GET", url) as response:
            received = 0
            for chunk in response.iter_raw(65536):
                received += len(chunk)
                if received >= 256 * 1024:
                    break
        # Leaving the response unread closes its connection (HTTP/1.1) or resets its
        # stream (HTTP/2); the app's send() returns instead of sending on.
        assert app.finished.wait(10)
        assert app.errors == []
        # The server still serves files.
        with _client(scheme, tls, http2) as client:
            after = client.get(url)
    assert SIZE > received >= 256 * 1024
    assert len(after.content) == SIZE


class Recorder:
    """Records the message types an app sends (was it pathsend or a read loop?)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def recording_send(message: dict[str, Any]) -> None:
            self.sent.append(message["type"])
            await send(message)

        await self.app(scope, receive, recording_send)


def starlette_files(path: Path) -> Starlette:
    relative_path = os.path.relpath(path)  # as Starlette apps often give it

    async def download(request: Request) -> FileResponse:
        return FileResponse(path, filename="big.bin")

    async def relative(request: Request) -> FileResponse:
        return FileResponse(relative_path, filename="big.bin")

    return Starlette(routes=[Route("/file", download), Route("/relative", relative)])


@pytest.mark.parametrize(("scheme", "http2"), CASES, ids=CASE_IDS)
def test_starlette_file_response_uses_pathsend(
    loop_name: str,
    big_file: Path,
    tls: tuple[trustme.CA, str, str],
    scheme: str,
    http2: bool,
) -> None:
    app = Recorder(starlette_files(big_file))
    expected = hashlib.sha256(big_file.read_bytes()).hexdigest()
    with (
        run_server(app, _config(scheme, tls), loop_name) as server,
        _client(scheme, tls, http2) as client,
    ):
        for route in ("/file", "/relative"):
            response = client.get(f"{scheme}://localhost:{server.port}{route}")
            assert response.status_code == 200
            assert response.headers["content-length"] == str(SIZE)
            assert hashlib.sha256(response.content).hexdigest() == expected
        # a Range request is the app's: Starlette answers it with its own body
        ranged = client.get(
            f"{scheme}://localhost:{server.port}/file", headers={"range": "bytes=10-19"}
        )
    assert app.sent.count("http.response.pathsend") == 2
    assert ranged.status_code == 206
    assert ranged.content == big_file.read_bytes()[10:20]
