"""StatsD metrics from a running server, received on a loopback UDP listener
(HTTP/1.1 through httpx, HTTP/3 through aioquic's client)."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.h3client import h3_connect
from tests.helpers.server import make_config, quic_port, run_server
from tests.helpers.tls import write_tls_files


async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status = int(scope["path"].strip("/") or 200)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def access_logger() -> logging.Logger:
    # The drivers call the logger's access() only when an access log is configured.
    logger = logging.getLogger(f"test.statsd.{uuid.uuid4().hex}")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def receive_datagrams(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(2048) for _ in range(count)]


def split(datagrams: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(duration timers, everything else): timer values vary, the rest is exact."""
    timers = [d for d in datagrams if b".request.duration:" in d]
    return timers, sorted(d for d in datagrams if d not in timers)


def test_requests_are_counted_and_timed(
    loop_name: str, listener: socket.socket, access_logger: logging.Logger
) -> None:
    port = listener.getsockname()[1]
    config = make_config(
        statsd_host=f"127.0.0.1:{port}", statsd_prefix="web", accesslog=access_logger
    )
    with run_server(app, config, loop_name) as server, httpx.Client() as client:
        assert client.get(f"{server.url}/200").status_code == 200
        assert client.get(f"{server.url}/404").status_code == 404

        timers, counters = split(receive_datagrams(listener, 6))

    assert counters == sorted(
        [
            b"web.hypercorn.requests:1|c|@1.0",
            b"web.hypercorn.requests:1|c|@1.0",
            b"web.hypercorn.request.status.200:1|c|@1.0",
            b"web.hypercorn.request.status.404:1|c|@1.0",
        ]
    )
    assert len(timers) == 2
    for timer in timers:
        name, _, rest = timer.partition(b":")
        value, _, kind = rest.partition(b"|")
        assert name == b"web.hypercorn.request.duration"
        assert kind == b"ms"
        assert 0 <= float(value) < 5000


def test_dogstatsd_tags_on_the_wire(
    loop_name: str, listener: socket.socket, access_logger: logging.Logger
) -> None:
    port = listener.getsockname()[1]
    config = make_config(
        statsd_host=f"127.0.0.1:{port}", dogstatsd_tags="env:test", accesslog=access_logger
    )
    with run_server(app, config, loop_name) as server, httpx.Client() as client:
        client.get(f"{server.url}/201")

        datagrams = receive_datagrams(listener, 3)

    assert all(datagram.endswith(b"|#env:test") for datagram in datagrams)
    assert b"hypercorn.request.status.201:1|c|@1.0|#env:test" in datagrams


def test_metrics_flow_without_an_access_log(loop_name: str, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    listener.settimeout(2)
    config = make_config(statsd_host=f"127.0.0.1:{port}")
    with run_server(app, config, loop_name) as server, httpx.Client() as client:
        client.get(f"{server.url}/200")

        datagrams = receive_datagrams(listener, 3)

    assert b"hypercorn.requests:1|c|@1.0" in datagrams


def test_http3_requests_are_counted_and_timed_like_the_others(
    loop_name: str, listener: socket.socket, tmp_path: Path
) -> None:
    port = listener.getsockname()[1]
    tls = write_tls_files(tmp_path)
    config = make_config(
        statsd_host=f"127.0.0.1:{port}",
        statsd_prefix="web",
        certfile=str(tls.certfile),
        keyfile=str(tls.keyfile),
        quic_bind=["127.0.0.1:0"],
    )

    async def main(quic: int) -> list[int]:
        async with h3_connect("127.0.0.1", quic, str(tls.cafile)) as client:
            responses = [await client.request("GET", path) for path in ("/200", "/404")]
        return [response.status for response in responses]

    with run_server(app, config, loop_name):
        assert asyncio.run(main(quic_port(config))) == [200, 404]

        timers, counters = split(receive_datagrams(listener, 6))

    assert counters == sorted(
        [
            b"web.hypercorn.requests:1|c|@1.0",
            b"web.hypercorn.requests:1|c|@1.0",
            b"web.hypercorn.request.status.200:1|c|@1.0",
            b"web.hypercorn.request.status.404:1|c|@1.0",
        ]
    )
    assert [timer.partition(b":")[0] for timer in timers] == [b"web.hypercorn.request.duration"] * 2
