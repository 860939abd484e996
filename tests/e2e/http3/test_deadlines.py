"""The deadlines and the body limit over HTTP/3, on the real command, on every backend.

One server per backend with short deadlines; aioquic's client on a real UDP socket. Each
refusal costs its stream alone: every test then serves a request on the same connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioquic.buffer import encode_uint_var

from tests.e2e.http3._support import MIB, H3Server, h3_server
from tests.helpers.backends import BACKENDS
from tests.helpers.h3client import H3Client, _Stream, h3_connect

pytestmark = pytest.mark.slow

LIMIT = 1000
DEADLINE = 2.0
_CANCELLED = 0x10C
_REJECTED = 0x10B


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[H3Server]:
    directory: Path = tmp_path_factory.mktemp(f"h3-deadlines-{request.param}")
    with h3_server(
        directory,
        str(request.param),
        "--max-request-body-size",
        str(LIMIT),
        "--request-body-timeout",
        str(DEADLINE),
        "--request-header-timeout",
        str(DEADLINE),
        "--response-write-timeout",
        str(DEADLINE),
    ) as running:
        yield running


def upload_headers(client: H3Client, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", client.authority),
        (b":path", b"/upload"),
        *extra,
    ]


def start_upload(client: H3Client, first: bytes) -> int:
    """A POST /upload without content-length whose body starts with ``first``."""
    protocol = client.protocol
    stream_id = protocol.open_stream(upload_headers(client, []), end_stream=False)
    protocol.send(stream_id, first, end_stream=False)
    return stream_id


async def final_status(stream: _Stream, timeout: float) -> int:
    await asyncio.wait_for(stream.got_headers.wait(), timeout)
    assert stream.headers, f"no response (reset: {stream.reset})"
    return int(dict(stream.headers[-1])[b":status"])


async def still_serving(client: H3Client) -> None:
    response = await client.request("GET", "/")
    assert (response.status, response.body) == (200, b"hello")


def run(server: H3Server, scenario: object) -> None:
    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            await scenario(client)  # type: ignore[operator]
            await still_serving(client)

    asyncio.run(main())


def test_declared_body_over_the_limit_is_413(server: H3Server) -> None:
    async def scenario(client: H3Client) -> None:
        response = await client.request("POST", "/upload", body=b"x" * (LIMIT + 1))
        assert response.status == 413
        within = await client.request("POST", "/upload", body=b"x" * LIMIT)
        assert within.status == 200

    run(server, scenario)


def test_body_crossing_the_limit_is_413(server: H3Server) -> None:
    async def scenario(client: H3Client) -> None:
        protocol = client.protocol
        stream_id = start_upload(client, b"a" * 600)
        await asyncio.sleep(0.2)
        protocol.send(stream_id, b"b" * 600, end_stream=False)
        assert await final_status(protocol.streams[stream_id], 10) == 413

    run(server, scenario)


def test_a_stalled_body_gets_408(server: H3Server) -> None:
    async def scenario(client: H3Client) -> None:
        protocol = client.protocol
        stream_id = start_upload(client, b"a" * 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await final_status(protocol.streams[stream_id], DEADLINE + 8) == 408
        assert loop.time() - started >= DEADLINE - 0.5

    run(server, scenario)


def test_an_unfinished_head_is_refused(server: H3Server) -> None:
    async def scenario(client: H3Client) -> None:
        protocol = client.protocol
        quic = protocol._quic
        stream_id = quic.get_next_available_stream_id()
        protocol.streams[stream_id] = stream = _Stream()
        # a HEADERS frame announcing 100 bytes, of which 5 are sent
        quic.send_stream_data(stream_id, encode_uint_var(1) + encode_uint_var(100) + b"\0" * 5)
        protocol.transmit()
        await asyncio.wait_for(stream.ended.wait(), DEADLINE + 8)
        assert stream.reset == _REJECTED
        assert not stream.headers

    run(server, scenario)


def test_a_client_that_stops_reading_has_its_stream_reset(server: H3Server) -> None:
    async def scenario(client: H3Client) -> None:
        protocol = client.protocol
        headers = [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", client.authority),
            (b":path", b"/download/%d" % (16 * MIB)),
        ]
        stream_id = protocol.open_stream(headers, end_stream=True)
        stream = protocol.streams[stream_id]
        await asyncio.wait_for(stream.got_headers.wait(), 10)
        # asyncio's datagram transport can pause (typeshed does not say so)
        transport: Any = protocol._transport
        transport.pause_reading()  # the client takes no more datagrams
        await asyncio.sleep(DEADLINE + 3)
        transport.resume_reading()
        await asyncio.wait_for(stream.ended.wait(), 20)
        assert stream.reset == _CANCELLED
        assert len(stream.body) < 16 * MIB

    run(server, scenario)
