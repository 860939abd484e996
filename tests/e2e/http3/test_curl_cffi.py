"""HTTP/3 with curl_cffi: libcurl on ngtcp2, nghttp3 and BoringSSL (nothing of aioquic's)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from curl_cffi import requests
from curl_cffi.const import CurlHttpVersion

from tests.e2e.http3._support import MIB, H3Server, pattern

pytestmark = pytest.mark.slow

HTTP3 = 30  # CURLINFO_HTTP_VERSION for HTTP/3


def _fetch(
    server: H3Server, url: str, http_version: CurlHttpVersion, method: str = "GET", **extra: Any
) -> requests.Response:
    # curl_cffi takes a CA file path for ``verify`` (libcurl's CAINFO); its hints say bool.
    options: dict[str, Any] = {"verify": server.cafile, "timeout": 50, **extra}
    return requests.request(method, url, http_version=http_version, **options)  # type: ignore[arg-type]


def _h3(server: H3Server, method: str, path: str, **extra: Any) -> requests.Response:
    return _fetch(server, server.quic_url(path), CurlHttpVersion.V3ONLY, method, **extra)


def test_hello(server: H3Server) -> None:
    response = _h3(server, "GET", "/")

    assert response.http_version == HTTP3
    assert (response.status_code, response.content) == (200, b"hello")
    assert response.headers["content-type"] == "text/plain"


def test_head_has_the_length_and_no_body(server: H3Server) -> None:
    """(aioquic's client cannot check this: it rejects a HEAD response's content-length.)"""
    response = _h3(server, "HEAD", "/")

    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


def test_the_scope_says_http_3(server: H3Server) -> None:
    info = _h3(server, "GET", "/scope").json()

    assert (info["http_version"], info["scheme"]) == ("3", "https")


@pytest.mark.parametrize(
    ("http_version", "expected"), [(CurlHttpVersion.V1_1, 2), (CurlHttpVersion.V2TLS, 3)]
)
def test_tcp_responses_carry_alt_svc(
    server: H3Server, http_version: CurlHttpVersion, expected: int
) -> None:
    response = _fetch(server, server.tcp_url("/"), http_version)

    assert response.http_version == expected  # CURL_HTTP_VERSION_1_1 / _2_0, over TCP
    assert response.content == b"hello"
    assert response.headers["alt-svc"] == f'h3=":{server.quic_port}"; ma=3600'


def test_http3_responses_need_no_alt_svc_to_stay(server: H3Server) -> None:
    """Alt-Svc on HTTP/3 responses is optional; if sent, it must name this QUIC port."""
    response = _h3(server, "GET", "/")

    assert response.headers.get("alt-svc") in (None, f'h3=":{server.quic_port}"; ma=3600')


def test_20_mib_download_is_byte_exact(server: H3Server) -> None:
    size = 20 * MIB
    response = _h3(server, "GET", f"/download/{size}")

    assert response.http_version == HTTP3
    assert response.status_code == 200
    assert len(response.content) == size
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(pattern(size)).digest()


def test_20_mib_upload_is_byte_exact(server: H3Server) -> None:
    body = pattern(20 * MIB)
    response = _h3(server, "POST", "/upload", data=body)

    assert response.http_version == HTTP3
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
