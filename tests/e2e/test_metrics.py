"""``metrics_bind`` with ``serve()`` in one process, on every backend: the process serves
its own ``/metrics``, including the PROXY header refusals and HTTP/3's bytes."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.cli._support import free_port
from tests.e2e.test_proxy_protocol import assert_closed_silently, v1, whoami
from tests.helpers.backends import BACKENDS
from tests.helpers.h3client import h3_connect
from tests.helpers.metrics import scrape, value
from tests.helpers.server import make_config, quic_port, run_server
from tests.helpers.tls import write_tls_files


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_counts_requests_and_proxy_refusals(backend: str) -> None:
    metrics_port = free_port()
    config = make_config(
        proxy_protocol=True, metrics_bind=f"127.0.0.1:{metrics_port}", ssl_handshake_timeout=0.3
    )
    with run_server(whoami, config, backend) as server:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(v1() + b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
                assert sock.recv(100).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # no header
            assert_closed_silently(sock)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            assert_closed_silently(sock)  # nothing sent: the deadline closes it
        samples = scrape(metrics_port)
        assert (
            value(samples, "hypercorn_requests_total", method="GET", status="200", protocol="h1")
            == 2
        )
        assert value(samples, "hypercorn_refusals_total", reason="proxy_header") == 1
        assert value(samples, "hypercorn_refusals_total", reason="proxy_timeout") == 1
        assert value(samples, "hypercorn_refusals_total", reason="proxy_untrusted") == 0
    with pytest.raises(httpx.ConnectError):  # the endpoint stops with the server
        httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")


@pytest.mark.parametrize("backend", BACKENDS)
def test_untrusted_peer_is_counted(backend: str) -> None:
    metrics_port = free_port()
    config = make_config(
        proxy_protocol=True,
        proxy_allow_ips=["10.0.0.0/8"],
        metrics_bind=f"127.0.0.1:{metrics_port}",
    )
    with run_server(whoami, config, backend) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(v1())
            assert_closed_silently(sock)
        assert (
            value(scrape(metrics_port), "hypercorn_refusals_total", reason="proxy_untrusted") == 1
        )


def test_metrics_bind_in_use_fails_startup() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(metrics_bind=f"127.0.0.1:{port}")
        with (
            pytest.raises(OSError, match=f"cannot bind 127.0.0.1:{port}"),
            run_server(whoami, config, "asyncio"),
        ):
            pass


async def sized_app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    """``/download/N``: N bytes; any other path reads the body and answers its length."""
    if scope["type"] != "http":
        return
    received = 0
    while True:
        message = await receive()
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    path = scope["path"]
    body = b"d" * int(path.rsplit("/", 1)[1]) if path.startswith("/download/") else b"%d" % received
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("backend", BACKENDS)
def test_http3_bytes_are_counted_under_protocol_h3(backend: str, tmp_path: Path) -> None:
    """QUIC datagram bytes (UDP payloads), reported per request and when a connection ends."""
    size = 256 * 1024
    metrics_port = free_port()
    tls = write_tls_files(tmp_path)
    config = make_config(
        certfile=str(tls.certfile),
        keyfile=str(tls.keyfile),
        quic_bind=["127.0.0.1:0"],
        metrics_bind=f"127.0.0.1:{metrics_port}",
    )

    async def main(port: int) -> None:
        async with h3_connect("127.0.0.1", port, str(tls.cafile)) as client:
            upload = await client.request("POST", "/upload", body=b"u" * size)
            download = await client.request("GET", f"/download/{size}")
        assert (upload.status, upload.body) == (200, b"%d" % size)
        assert (download.status, len(download.body)) == (200, size)

    with run_server(sized_app, config, backend):
        asyncio.run(main(quic_port(config)))
        deadline = time.monotonic() + 30
        while True:  # the connection's last bytes are reported once it is gone
            samples = scrape(metrics_port)
            if value(samples, "hypercorn_open_connections", protocol="h3") == 0:
                break
            assert time.monotonic() < deadline, samples
            time.sleep(0.1)

    received = value(samples, "hypercorn_received_bytes_total", protocol="h3")
    sent = value(samples, "hypercorn_sent_bytes_total", protocol="h3")
    # The bodies, plus QUIC's and TLS's own bytes (handshake, packet headers, ACKs, tags):
    # more than the body, and not twice it (that would be a datagram counted twice).
    assert size < received < size * 1.5 + 64 * 1024
    assert size < sent < size * 1.5 + 64 * 1024
    assert value(samples, "hypercorn_received_bytes_total", protocol="h1") == 0
    assert value(samples, "hypercorn_sent_bytes_total", protocol="h1") == 0
    for method in ("POST", "GET"):
        requests = value(
            samples, "hypercorn_requests_total", method=method, status="200", protocol="h3"
        )
        assert requests == 1


async def limited_app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    """``/stream`` sends 1 MiB chunks until its send ends; anything else reads its body."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(1024):
            await send({"type": "http.response.body", "body": b"x" * (1 << 20), "more_body": True})
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


@pytest.mark.parametrize("backend", BACKENDS)
def test_deadline_and_limit_refusals_are_counted_by_reason(backend: str) -> None:
    metrics_port = free_port()
    config = make_config(
        metrics_bind=f"127.0.0.1:{metrics_port}",
        max_request_body_size=100,
        request_body_timeout=0.5,
        request_header_timeout=0.5,
        response_write_timeout=0.5,
        keep_alive_timeout=30,
    )
    with run_server(limited_app, config, backend) as server:
        address = ("127.0.0.1", server.port)
        before = scrape(metrics_port)
        for reason in ("max_request_body_size", "request_body_timeout", "request_header_timeout"):
            assert value(before, "hypercorn_refusals_total", reason=reason) == 0
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 101\r\n\r\n")
            assert _until_closed(sock).startswith(b"HTTP/1.1 413 ")
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\nabc")
            assert _until_closed(sock).startswith(b"HTTP/1.1 408 ")
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")  # the head never ends
            assert _until_closed(sock).startswith(b"HTTP/1.1 408 ")
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.settimeout(10)
        with reader:
            reader.connect(address)
            reader.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")  # and never reads
            deadline = time.monotonic() + 15
            while True:
                samples = scrape(metrics_port)
                if value(samples, "hypercorn_refusals_total", reason="response_write_timeout"):
                    break
                assert time.monotonic() < deadline, "the stalled reader was never cut"
                time.sleep(0.2)
        for reason in (
            "max_request_body_size",
            "request_body_timeout",
            "request_header_timeout",
            "response_write_timeout",
        ):
            assert value(samples, "hypercorn_refusals_total", reason=reason) == 1, reason
