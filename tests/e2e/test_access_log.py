"""Exactly one access-log line per request, on every backend and in every ending:
a normal HTTP/1.1 exchange, an app error (500), a client that disconnects mid-request,
and HTTP/2 streams."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.logging import ListHandler
from tests.helpers.server import make_config, run_server, sleep


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
