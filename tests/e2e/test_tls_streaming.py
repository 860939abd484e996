"""FastAPI streaming responses on many HTTP/2 streams of one TLS connection.

Starlette (through anyio) cancels an app's tasks as soon as its response is queued. A
write must never be cut by that: on trio a cancelled ``SSLStream.send_all`` leaves the
TLS stream broken, and every other stream of the connection fails with it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest
import trustme
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tests.helpers.server import make_config, run_server

CHUNK = b"x" * 8192
CHUNKS = 24
STREAMS = 16
ROUNDS = 4


def streaming_api() -> FastAPI:
    api = FastAPI()

    @api.post("/stream/{index}")
    async def stream(index: int, request: Request) -> StreamingResponse:
        # Reading the body makes the server send WINDOW_UPDATEs from the app's receive().
        size = len(await request.body())

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(CHUNKS):
                yield CHUNK
                await anyio.lowlevel.checkpoint()

        return StreamingResponse(
            chunks(), media_type="application/octet-stream", headers={"x-got": str(size)}
        )

    return api


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[trustme.CA, str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return ca, str(certfile), str(keyfile)


async def _many_streams(url: str, context: ssl.SSLContext) -> list[tuple[str, int, int]]:
    results: list[tuple[str, int, int]] = []
    async with httpx.AsyncClient(http2=True, verify=context, timeout=10) as client:
        for _ in range(ROUNDS):

            async def one(index: int) -> tuple[str, int, int]:
                response = await client.post(f"{url}/stream/{index}", content=b"p" * 20000)
                assert response.headers["x-got"] == "20000"
                return response.http_version, response.status_code, len(response.content)

            results += await asyncio.gather(*(one(i) for i in range(STREAMS)))
    return results


def test_fastapi_streams_multiplexed_over_tls(
    loop_name: str, tls_files: tuple[trustme.CA, str, str]
) -> None:
    ca, certfile, keyfile = tls_files
    context = ssl.create_default_context()
    ca.configure_trust(context)
    config = make_config(certfile=certfile, keyfile=keyfile)
    with run_server(streaming_api(), config, loop_name) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        results = asyncio.run(_many_streams(url, context))
    assert results == [("HTTP/2", 200, CHUNKS * len(CHUNK))] * (STREAMS * ROUNDS)
