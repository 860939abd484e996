"""WebSocket over HTTP/3 (RFC 9220): extended CONNECT from an aioquic client, wsproto frames."""

from __future__ import annotations

import asyncio
import json

import pytest
from aioquic.h3.connection import Setting

from tests.e2e.http3._support import H3Server
from tests.helpers.h3client import h3_connect

pytestmark = pytest.mark.slow


def test_server_settings_allow_extended_connect(server: H3Server) -> None:
    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            await client.request("GET", "/")  # the SETTINGS arrive before any response
            assert client.settings.get(Setting.ENABLE_CONNECT_PROTOCOL) == 1

    asyncio.run(main())


def test_echo_text_and_bytes(server: H3Server) -> None:
    async def main() -> None:
        async with (
            h3_connect("127.0.0.1", server.quic_port, server.cafile) as client,
            client.websocket("/ws") as ws,
        ):
            info = json.loads(await ws.receive())
            assert info == {"http_version": "3", "scheme": "wss", "path": "/ws"}
            ws.send("hello over HTTP/3")
            assert await ws.receive() == "hello over HTTP/3"
            ws.send(b"\x00\x01binary\xff")
            assert await ws.receive() == b"\x00\x01binary\xff"
            big = bytes(range(256)) * 4096  # 1 MiB, many DATA frames
            ws.send(big)
            assert await ws.receive(timeout=30) == big
            ws.close(1000, "done")
            reason = await ws.receive_close()
            assert reason.code == 1000
            assert await ws.ended()

    asyncio.run(main())


def test_server_close_code_reaches_the_client(server: H3Server) -> None:
    async def main() -> None:
        async with (
            h3_connect("127.0.0.1", server.quic_port, server.cafile) as client,
            client.websocket("/ws") as ws,
        ):
            await ws.receive()
            ws.send("close with 4001")
            reason = await ws.receive_close()
            assert (reason.code, reason.reason) == (4001, "asked to")

    asyncio.run(main())


def test_two_websockets_and_a_request_share_one_connection(server: H3Server) -> None:
    async def main() -> None:
        async with (
            h3_connect("127.0.0.1", server.quic_port, server.cafile) as client,
            client.websocket("/ws") as first,
            client.websocket("/ws") as second,
        ):
            await first.receive()
            await second.receive()
            first.send("one")
            second.send("two")
            hello = await client.request("GET", "/")
            assert (await second.receive(), await first.receive()) == ("two", "one")
            assert hello.body == b"hello"

    asyncio.run(main())


def test_connect_without_websocket_protocol_is_not_a_websocket(server: H3Server) -> None:
    """``:protocol`` other than ``websocket`` must not reach the app as a WebSocket."""

    async def main() -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            stream_id = client.protocol.open_stream(
                [
                    (b":method", b"CONNECT"),
                    (b":protocol", b"webtransport"),
                    (b":scheme", b"https"),
                    (b":authority", client.authority),
                    (b":path", b"/ws"),
                ],
                end_stream=False,
            )
            stream = client.protocol.streams[stream_id]
            await asyncio.wait_for(stream.got_headers.wait(), 10)
            statuses = [dict(headers).get(b":status") for headers in stream.headers]
            refused = stream.reset is not None or (bool(statuses) and statuses[0] != b"200")
            assert refused, (statuses, stream.reset)

    asyncio.run(main())
