"""HTTP/3 with aioquic's own client (the same QUIC stack as the server, driven from outside)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from tests.e2e.http3._support import MIB, H3Server, pattern
from tests.helpers.h3client import h3_connect

pytestmark = pytest.mark.slow


def test_hello_and_the_scope(server: H3Server) -> None:
    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            hello = await client.request("GET", "/")
            scope = await client.request("GET", "/scope?x=1")
        assert (hello.status, hello.body) == (200, b"hello")
        assert hello.header(b"content-type") == b"text/plain"
        assert hello.header(b"server") is not None
        info = json.loads(scope.body)
        assert info["http_version"] == "3"
        assert info["scheme"] == "https"
        assert info["type"] == "http"
        assert info["method"] == "GET"
        assert info["path"] == "/scope"

    asyncio.run(main())


def test_unknown_path(server: H3Server) -> None:
    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            missing = await client.request("GET", "/nowhere")
        assert (missing.status, missing.body) == (404, b"not found")

    asyncio.run(main())


@pytest.mark.timeout(300)  # aioquic's pure-Python client, on a loaded machine: minutes
def test_20_mib_download_is_byte_exact(server: H3Server) -> None:
    size = 20 * MIB

    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            response = await client.request("GET", f"/download/{size}", timeout=290)
        assert response.status == 200
        assert response.header(b"content-length") == str(size).encode()
        assert len(response.body) == size
        assert hashlib.sha256(response.body).digest() == hashlib.sha256(pattern(size)).digest()

    asyncio.run(main())


@pytest.mark.timeout(300)
def test_20_mib_upload_is_byte_exact(server: H3Server) -> None:
    body = pattern(20 * MIB)

    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            response = await client.request("POST", "/upload", body=body, timeout=290)
        assert response.status == 200, response
        assert json.loads(response.body) == {
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }

    asyncio.run(main())


def test_100_concurrent_streams_on_one_connection(server: H3Server) -> None:
    """Every response waits until all 100 requests are in the app: only concurrency passes."""
    key = uuid.uuid4().hex

    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            responses = await asyncio.gather(
                *(client.request("GET", f"/barrier/{key}/100", timeout=60) for _ in range(100))
            )
        assert [(r.status, r.body) for r in responses] == [(200, b"together")] * 100

    asyncio.run(main())


def test_many_requests_in_a_row_on_one_connection(server: H3Server) -> None:
    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            for index in range(200):
                response = await client.request("POST", "/upload", body=b"x" * index or b"")
                assert json.loads(response.body)["length"] == index

    asyncio.run(main())
