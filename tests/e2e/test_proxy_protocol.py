"""PROXY protocol v1 and v2 over real sockets, on every backend: plain and TLS,
HTTP/1.1, HTTP/2 and WebSocket, and the refusals (untrusted peer, no header, a bad
header, a header that never ends)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
import trustme
import websockets.sync.client

from hypercorn_protocol.config import Config
from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.helpers.backends import BACKENDS
from tests.helpers.server import RunningServer, make_config, run_server

SOURCE = ("192.0.2.1", 56324)
DESTINATION = ("198.51.100.2", 443)
SOURCE6 = ("2001:db8::1", 40000)
DESTINATION6 = ("2001:db8::2", 8443)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source: tuple[str, int] = SOURCE, destination: tuple[str, int] = DESTINATION) -> bytes:
    family = "TCP6" if ":" in source[0] else "TCP4"
    return f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n".encode()


def v2(source: tuple[str, int] = SOURCE, destination: tuple[str, int] = DESTINATION) -> bytes:
    family, size = (socket.AF_INET6, 0x21) if ":" in source[0] else (socket.AF_INET, 0x11)
    block = (
        socket.inet_pton(family, source[0])
        + socket.inet_pton(family, destination[0])
        + struct.pack("!HH", source[1], destination[1])
    )
    return V2_SIGNATURE + bytes([0x21, size]) + struct.pack("!H", len(block)) + block


async def whoami(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    seen = {
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
    }
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        await receive()
        return
    body = json.dumps(seen).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_config(ca: trustme.CA, tmp_path: Path) -> Config:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return make_config(proxy_protocol=True, certfile=str(certfile), keyfile=str(keyfile))


def client_context(ca: trustme.CA, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(alpn)
    return context


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def plain(backend: str) -> Iterator[RunningServer]:
    with run_server(whoami, make_config(proxy_protocol=True), backend) as server:
        yield server


@pytest.fixture
def tls(backend: str, tls_config: Config) -> Iterator[RunningServer]:
    with run_server(whoami, tls_config, backend) as server:
        yield server


def connect(server: RunningServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def read_all(sock: socket.socket | ssl.SSLSocket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, ssl.SSLEOFError):
        pass
    return b"".join(chunks)


def http11(sock: socket.socket | ssl.SSLSocket) -> dict[str, Any]:
    sock.sendall(b"GET / HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n")
    response = read_all(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response
    result: dict[str, Any] = json.loads(body)
    return result


def assert_closed_silently(sock: socket.socket, within: float = 5.0) -> None:
    """The server closes without writing a byte."""
    sock.settimeout(within)
    assert read_all(sock) == b""


# ------------------------------------------------------------------ accepted
@pytest.mark.parametrize("header", [v1, v2], ids=["v1", "v2"])
def test_plain_http11_gets_the_headers_addresses(plain: RunningServer, header: Any) -> None:
    with connect(plain) as sock:
        sock.sendall(header())
        seen = http11(sock)
    assert seen["client"] == list(SOURCE)
    assert seen["server"] == list(DESTINATION)
    assert seen["http_version"] == "1.1"


@pytest.mark.parametrize("header", [v1, v2], ids=["v1", "v2"])
def test_ipv6_addresses(plain: RunningServer, header: Any) -> None:
    with connect(plain) as sock:
        sock.sendall(header(SOURCE6, DESTINATION6))
        seen = http11(sock)
    assert seen["client"] == list(SOURCE6)
    assert seen["server"] == list(DESTINATION6)


def test_header_and_request_in_one_write(plain: RunningServer) -> None:
    with connect(plain) as sock:
        sock.sendall(v1() + b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 200")
    assert json.loads(response.partition(b"\r\n\r\n")[2])["client"] == list(SOURCE)


def test_header_trickled_byte_by_byte(plain: RunningServer) -> None:
    with connect(plain) as sock:
        for byte in v2():
            sock.sendall(bytes([byte]))
            time.sleep(0.002)
        assert http11(sock)["client"] == list(SOURCE)


def test_local_command_keeps_the_real_addresses(plain: RunningServer) -> None:
    local = V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    with connect(plain) as sock:
        sock.sendall(local)
        seen = http11(sock)
        assert seen["client"] == list(sock.getsockname()[:2])


def test_plain_http2_prior_knowledge(plain: RunningServer) -> None:
    with connect(plain) as sock:
        sock.sendall(v2())
        seen = h2_request(sock, "http")
    assert seen["client"] == list(SOURCE)
    assert seen["http_version"] == "2"


def test_plain_websocket(plain: RunningServer) -> None:
    sock = connect(plain)
    sock.sendall(v1())
    with websockets.sync.client.connect(f"ws://127.0.0.1:{plain.port}/", sock=sock) as ws:
        seen = json.loads(ws.recv(timeout=5))
    assert seen["client"] == list(SOURCE)
    assert seen["server"] == list(DESTINATION)


@pytest.mark.parametrize("header", [v1, v2], ids=["v1", "v2"])
def test_tls_http11(tls: RunningServer, ca: trustme.CA, header: Any) -> None:
    context = client_context(ca, ["http/1.1"])
    sock = connect(tls)
    sock.sendall(header())
    with context.wrap_socket(sock, server_hostname="localhost") as tls_sock:
        seen = http11(tls_sock)
    assert seen["client"] == list(SOURCE)
    assert seen["scheme"] == "https"


def test_tls_client_hello_in_the_headers_segment(tls: RunningServer, ca: trustme.CA) -> None:
    """The header and the ClientHello arrive together: TLS must still see all of it."""
    context = client_context(ca, ["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_object = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with connect(tls) as sock:
        try:
            tls_object.do_handshake()
        except ssl.SSLWantReadError:
            pass
        sock.sendall(v2() + outgoing.read())
        while True:
            try:
                tls_object.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                data = sock.recv(65536)
                assert data, "closed during the handshake"
                incoming.write(data)
        tls_object.write(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        sock.sendall(outgoing.read())
        response = b""
        while b"}" not in response:
            try:
                response += tls_object.read(65536)
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                assert data, response
                incoming.write(data)
    assert response.startswith(b"HTTP/1.1 200")
    assert json.loads(response.partition(b"\r\n\r\n")[2])["client"] == list(SOURCE)


def test_tls_http2(tls: RunningServer, ca: trustme.CA) -> None:
    sock = connect(tls)
    sock.sendall(v1())
    with client_context(ca, ["h2"]).wrap_socket(sock, server_hostname="localhost") as tls_sock:
        assert tls_sock.selected_alpn_protocol() == "h2"
        seen = h2_request(tls_sock, "https")
    assert seen["client"] == list(SOURCE)
    assert seen["http_version"] == "2"


def test_tls_websocket(tls: RunningServer, ca: trustme.CA) -> None:
    sock = connect(tls)
    sock.sendall(v2())
    with websockets.sync.client.connect(
        f"wss://localhost:{tls.port}/",
        sock=sock,
        ssl=client_context(ca, ["http/1.1"]),
    ) as ws:
        seen = json.loads(ws.recv(timeout=5))
    assert seen["client"] == list(SOURCE)
    assert seen["scheme"] == "wss"


def h2_request(sock: socket.socket | ssl.SSLSocket, scheme: str) -> dict[str, Any]:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [(":method", "GET"), (":scheme", scheme), (":authority", "a"), (":path", "/")],
        end_stream=True,
    )
    sock.sendall(conn.data_to_send())
    body = b""
    while True:
        data = sock.recv(65536)
        assert data, "closed before the response"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                result: dict[str, Any] = json.loads(body)
                return result
        sock.sendall(conn.data_to_send())


# ------------------------------------------------------------------ refused
def test_missing_header_is_closed(plain: RunningServer) -> None:
    with connect(plain) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        assert_closed_silently(sock)


@pytest.mark.parametrize(
    "garbage",
    [
        b"PROXY TCP4 999.0.0.1 1.2.3.4 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # LF only
        b"PROXY " + b"x" * 200,  # no CRLF within 107 bytes
        V2_SIGNATURE + b"\x21\x11\xff\xff",  # v2 length beyond the bound
        b"\x16\x03\x01\x02\x00\x01",  # a ClientHello where the header should be
    ],
    ids=["bad-address", "lf-only", "too-long", "v2-too-long", "tls-first"],
)
def test_garbage_header_is_closed(plain: RunningServer, garbage: bytes) -> None:
    with connect(plain) as sock:
        sock.sendall(garbage)
        assert_closed_silently(sock)


def test_missing_header_under_tls_gets_no_handshake(tls: RunningServer, ca: trustme.CA) -> None:
    with connect(tls) as sock:
        context = client_context(ca, ["http/1.1"])
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            context.wrap_socket(sock, server_hostname="localhost")


def test_peer_closing_mid_header(plain: RunningServer) -> None:
    with connect(plain) as sock:
        sock.sendall(v1()[:10])
        sock.shutdown(socket.SHUT_WR)
        assert_closed_silently(sock)
    with connect(plain) as sock:  # still serving
        sock.sendall(v1())
        assert http11(sock)["client"] == list(SOURCE)


def test_untrusted_peer_is_closed_even_with_a_valid_header(backend: str) -> None:
    config = make_config(proxy_protocol=True, proxy_allow_ips=["10.0.0.0/8"])
    with run_server(whoami, config, backend) as server, connect(server) as sock:
        sock.sendall(v1() + b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        assert_closed_silently(sock)


def test_trusted_by_cidr(backend: str) -> None:
    config = make_config(proxy_protocol=True, proxy_allow_ips=["10.0.0.0/8", "127.0.0.0/8"])
    with run_server(whoami, config, backend) as server, connect(server) as sock:
        sock.sendall(v2())
        assert http11(sock)["client"] == list(SOURCE)


def test_a_header_that_never_comes_is_closed_at_the_deadline(backend: str) -> None:
    config = make_config(proxy_protocol=True, ssl_handshake_timeout=0.5)
    with run_server(whoami, config, backend) as server, connect(server) as sock:
        sock.sendall(b"PROXY TCP4 ")  # and then nothing
        started = time.monotonic()
        assert_closed_silently(sock, within=5)
        assert 0.3 < time.monotonic() - started < 3


def test_off_by_default_a_header_is_a_bad_request(backend: str) -> None:
    with run_server(whoami, make_config(), backend) as server, connect(server) as sock:
        sock.sendall(v1() + b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 400")


def test_unix_socket_bind_reads_the_header(backend: str) -> None:
    directory = tempfile.mkdtemp(prefix="hcp-")  # short: sun_path holds 108 bytes
    path = f"{directory}/s.sock"
    try:
        config = make_config(proxy_protocol=True, bind=[f"unix:{path}"])
        with run_server(whoami, config, backend), socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(v2())
            seen = http11(sock)
        assert seen["client"] == list(SOURCE)  # a unix peer is trusted
    finally:
        shutil.rmtree(directory, ignore_errors=True)
