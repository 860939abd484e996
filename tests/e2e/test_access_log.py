"""Exactly one access-log line per request, on every backend and in every ending:
a normal HTTP/1.1 exchange, an app error (500), a client that disconnects mid-request,
HTTP/2 streams and HTTP/3 streams (aioquic's client)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.h3client import h3_connect
from tests.helpers.logging import ListHandler
from tests.helpers.server import make_config, quic_port, run_server, sleep
from tests.helpers.tls import TLSFiles, write_tls_files


@pytest.fixture
def access_lines() -> Iterator[tuple[logging.Logger, list[str]]]:
    logger = logging.getLogger(f"test.access.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    yield logger, handler.lines
    logger.removeHandler(handler)


def settled(lines: list[str], expected: int) -> list[str]:
    """The lines once ``expected`` arrived, after a pause that would let duplicates in."""
    deadline = time.monotonic() + 5
    while len(lines) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    return list(lines)


async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/error":
        raise RuntimeError("boom")
    if scope["path"] == "/error-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("boom")
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body", False):
            break
    if scope["path"] == "/slow":
        await sleep(0.2)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def config_for(logger: logging.Logger) -> Any:
    return make_config(accesslog=logger, access_log_format="%(r)s %(s)s")


def test_http11_keep_alive_requests_log_once_each(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with run_server(app, config_for(logger), loop_name) as server, httpx.Client() as client:
        for index in range(3):
            assert client.get(f"{server.url}/r{index}").status_code == 200
        client.post(f"{server.url}/post", content=b"x" * 100_000)

        assert sorted(settled(lines, 4)) == [
            "GET /r0 1.1 200",
            "GET /r1 1.1 200",
            "GET /r2 1.1 200",
            "POST /post 1.1 200",
        ]


def test_app_error_logs_one_500(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with run_server(app, config_for(logger), loop_name) as server, httpx.Client() as client:
        assert client.get(f"{server.url}/error").status_code == 500

        assert settled(lines, 1) == ["GET /error 1.1 500"]


def test_app_error_after_response_start_logs_once(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with run_server(app, config_for(logger), loop_name) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /error-after-start HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536)

        result = settled(lines, 1)
        assert len(result) == 1
        assert result[0].startswith("GET /error-after-start 1.1 ")


def test_client_disconnecting_mid_request_logs_once(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with run_server(app, config_for(logger), loop_name) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            time.sleep(0.1)

        result = settled(lines, 1)
        assert len(result) == 1
        assert result[0].startswith("POST /upload 1.1 ")


def test_client_disconnecting_while_app_works_logs_once(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with run_server(app, config_for(logger), loop_name) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.05)

        result = settled(lines, 1)
        assert len(result) == 1
        assert result[0].startswith("GET /slow 1.1 ")


def test_http2_streams_log_once_each(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]]
) -> None:
    logger, lines = access_lines
    with (
        run_server(app, config_for(logger), loop_name) as server,
        httpx.Client(http1=False, http2=True) as client,
    ):
        for index in range(3):
            response = client.get(f"{server.url}/s{index}")
            assert response.http_version == "HTTP/2"
        assert client.get(f"{server.url}/error").status_code == 500

        assert sorted(settled(lines, 4)) == [
            "GET /error 2 500",
            "GET /s0 2 200",
            "GET /s1 2 200",
            "GET /s2 2 200",
        ]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return write_tls_files(tmp_path_factory.mktemp("access-log-tls"))


def h3_config(tls: TLSFiles, **values: Any) -> Any:
    return make_config(
        certfile=str(tls.certfile), keyfile=str(tls.keyfile), quic_bind=["127.0.0.1:0"], **values
    )


def test_http3_streams_log_once_each(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]], tls: TLSFiles
) -> None:
    """The atoms of an HTTP/3 request: ``%(H)s`` is "3" as it is "1.1" and "2" above."""
    logger, lines = access_lines
    config = h3_config(tls, accesslog=logger, access_log_format="%(r)s %(s)s %(H)s %(S)s %(b)s")

    async def main(port: int) -> None:
        async with h3_connect("127.0.0.1", port, str(tls.cafile)) as client:
            responses = await asyncio.gather(
                *(client.request("GET", f"/s{index}") for index in range(3)),
                client.request("POST", "/post", body=b"x" * 100_000),
                client.request("GET", "/error"),
            )
        assert [response.status for response in responses] == [200, 200, 200, 200, 500]

    with run_server(app, config, loop_name):
        asyncio.run(main(quic_port(config)))

        assert sorted(settled(lines, 5)) == [
            "GET /error 3 500 3 https 0",
            "GET /s0 3 200 3 https -",
            "GET /s1 3 200 3 https -",
            "GET /s2 3 200 3 https -",
            "POST /post 3 200 3 https -",
        ]


def test_http3_json_access_log_says_protocol_3(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]], tls: TLSFiles
) -> None:
    logger, lines = access_lines
    config = h3_config(tls, accesslog=logger, access_log_json=True)

    async def main(port: int) -> None:
        async with h3_connect("127.0.0.1", port, str(tls.cafile)) as client:
            assert (await client.request("GET", "/json?x=1")).status == 200

    with run_server(app, config, loop_name):
        asyncio.run(main(quic_port(config)))

        (line,) = settled(lines, 1)
    record = json.loads(line)
    assert record["request"] == "GET /json 3"
    assert record["protocol"] == "3"
    assert (record["method"], record["path"], record["query"]) == ("GET", "/json", "x=1")
    assert (record["scheme"], record["status"]) == ("https", 200)
    assert record["client"].startswith("127.0.0.1:")


def test_http3_stream_reset_mid_request_logs_once(
    loop_name: str, access_lines: tuple[logging.Logger, list[str]], tls: TLSFiles
) -> None:
    logger, lines = access_lines
    config = h3_config(tls, accesslog=logger, access_log_format="%(r)s %(s)s")

    async def main(port: int) -> None:
        async with h3_connect("127.0.0.1", port, str(tls.cafile)) as client:
            headers = [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
                (b":path", b"/upload"),
            ]
            stream_id = client.protocol.open_stream(headers, end_stream=False)
            client.protocol.send(stream_id, b"0123456789", end_stream=False)
            await asyncio.sleep(0.1)
            client.protocol._quic.reset_stream(stream_id, 0x10C)  # H3_REQUEST_CANCELLED
            client.protocol.transmit()
            # The connection carries on: a request after the reset is answered.
            assert (await client.request("GET", "/after")).status == 200

    with run_server(app, config, loop_name):
        asyncio.run(main(quic_port(config)))

        result = settled(lines, 2)
    assert "GET /after 3 200" in result
    (reset,) = [line for line in result if "/upload" in line]
    assert reset.startswith("POST /upload 3 ")
