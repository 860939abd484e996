"""``metrics_bind`` with ``serve()`` in one process, on every backend: the process serves
its own ``/metrics``, including the PROXY header refusals."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.cli._support import free_port
from tests.e2e.test_proxy_protocol import assert_closed_silently, v1, whoami
from tests.helpers.backends import BACKENDS
from tests.helpers.metrics import scrape, value
from tests.helpers.server import make_config, run_server


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
