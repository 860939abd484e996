"""nginx's stream proxy with ``proxy_protocol on`` in front of the real ``hypercorn
--proxy-protocol``: the app sees the client nginx saw, over plain HTTP/1.1, TLS passed
through with HTTP/2, and a WebSocket inside that TLS."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from tests.frameworks._support import Certs
from tests.helpers.backends import BACKENDS
from tests.nginx.conftest import STREAM_FRAGMENT, StartStreamNginx, StartUpstream

# The client connects from 127.0.0.2; nginx reaches Hypercorn from 127.0.0.1 (trusted
# by the default proxy_allow_ips), so only the PROXY header can say 127.0.0.2.
CLIENT = "127.0.0.2"


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_http11_through_nginx_stream(
    backend: str, start_upstream: StartUpstream, start_stream_nginx: StartStreamNginx
) -> None:
    upstream = start_upstream(backend, args=("--proxy-protocol",))
    port = start_stream_nginx(upstream.address)
    transport = httpx.HTTPTransport(local_address=CLIENT)
    with httpx.Client(transport=transport) as client:
        for _ in range(3):
            seen = client.get(f"http://127.0.0.1:{port}/raw/whoami").json()
            assert seen["client"][0] == CLIENT
            assert seen["http_version"] == "1.1"


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_http2_and_websocket_through_nginx_stream(
    backend: str,
    start_upstream: StartUpstream,
    start_stream_nginx: StartStreamNginx,
    certs: Certs,
) -> None:
    tls = ("--certfile", str(certs.cert_file), "--keyfile", str(certs.key_file))
    upstream = start_upstream(backend, args=("--proxy-protocol", *tls), scheme="https")
    port = start_stream_nginx(upstream.address)
    transport = httpx.HTTPTransport(local_address=CLIENT, verify=certs.client_context(), http2=True)
    with httpx.Client(transport=transport, http2=True) as client:
        response = client.get(f"https://127.0.0.1:{port}/raw/whoami")
    assert response.http_version == "HTTP/2"
    seen = response.json()
    assert seen["client"][0] == CLIENT
    assert seen["scheme"] == "https"
    with websockets.sync.client.connect(
        f"wss://127.0.0.1:{port}/raw/ws",
        ssl=certs.client_context(),
        open_timeout=10,
        source_address=(CLIENT, 0),
    ) as ws:
        seen = json.loads(ws.recv(timeout=10))
        assert seen["client"][0] == CLIENT
        ws.send("through")
        assert ws.recv(timeout=10) == "echo through"


def test_without_proxy_protocol_the_header_is_a_bad_request(
    start_upstream: StartUpstream, start_stream_nginx: StartStreamNginx
) -> None:
    port = start_stream_nginx(start_upstream().address)
    response = httpx.get(f"http://127.0.0.1:{port}/raw/whoami")
    assert response.status_code == 400


def test_docs_show_the_stream_configuration_these_tests_use() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "proxy-protocol.md").read_text()
    assert STREAM_FRAGMENT.read_text().strip() in docs
