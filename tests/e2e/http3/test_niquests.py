"""HTTP/3 with niquests (urllib3-future on qh3), found the way browsers find it: Alt-Svc."""

from __future__ import annotations

import hashlib
import json

import niquests
import pytest

from tests.e2e.http3._support import MIB, H3Server, pattern

pytestmark = pytest.mark.slow


def _http3_only() -> niquests.Session:
    """A session that speaks nothing but HTTP/3 (to the URL's port, over UDP)."""
    return niquests.Session(disable_http1=True, disable_http2=True)


def test_alt_svc_discovery_moves_the_second_request_to_http3(server: H3Server) -> None:
    with niquests.Session() as session:
        first = session.get(server.tcp_url("/scope"), verify=server.cafile, timeout=10)
        second = session.get(server.tcp_url("/scope"), verify=server.cafile, timeout=10)

    assert first.http_version in (11, 20)
    assert first.headers["alt-svc"] == f'h3=":{server.quic_port}"; ma=3600'
    assert first.json()["http_version"] in ("1.1", "2")
    assert second.http_version == 30
    assert second.json()["http_version"] == "3"


def test_hello(server: H3Server) -> None:
    with _http3_only() as session:
        response = session.get(server.quic_url("/"), verify=server.cafile, timeout=10)

    assert response.http_version == 30
    assert (response.status_code, response.content) == (200, b"hello")


def test_20_mib_download_is_byte_exact(server: H3Server) -> None:
    size = 20 * MIB
    with _http3_only() as session:
        response = session.get(
            server.quic_url(f"/download/{size}"), verify=server.cafile, timeout=50
        )

    assert response.http_version == 30
    assert response.status_code == 200
    content = response.content or b""
    assert len(content) == size
    assert hashlib.sha256(content).digest() == hashlib.sha256(pattern(size)).digest()


def test_20_mib_upload_is_byte_exact(server: H3Server) -> None:
    body = pattern(20 * MIB)
    with _http3_only() as session:
        response = session.post(
            server.quic_url("/upload"), data=body, verify=server.cafile, timeout=50
        )

    assert response.http_version == 30
    assert response.status_code == 200
    assert json.loads(response.content or b"") == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def test_100_multiplexed_requests(server: H3Server) -> None:
    """niquests' multiplexed mode: 100 requests in flight on one HTTP/3 connection."""
    with niquests.Session(disable_http1=True, disable_http2=True, multiplexed=True) as session:
        pending = [
            session.get(
                server.quic_url(f"/download/{1000 + index}"), verify=server.cafile, timeout=30
            )
            for index in range(100)
        ]
        session.gather()
        sizes = [len(response.content or b"") for response in pending]
        versions = {response.http_version for response in pending}

    assert sizes == [1000 + index for index in range(100)]
    assert versions == {30}
