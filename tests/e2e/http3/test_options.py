"""The QUIC options of a config file, as the real command applies them (one server each)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from aioquic.tls import SessionTicket

from tests.e2e.http3._support import H3Server, h3_server
from tests.helpers.h3client import h3_connect

pytestmark = pytest.mark.slow

StartH3 = Callable[[str], AbstractContextManager[H3Server]]


@pytest.fixture
def start_h3(tmp_path: Path, loop_name: str) -> StartH3:
    """A server on ``loop_name`` whose ``-c config.toml`` holds the given TOML."""

    @contextmanager
    def start(toml: str) -> Iterator[H3Server]:
        (tmp_path / "config.toml").write_text(toml)
        with h3_server(tmp_path, loop_name, "-c", "config.toml") as server:
            yield server

    return start


def test_quic_retry_validates_the_address_first(start_h3: StartH3) -> None:
    async def retries(server: H3Server) -> int:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            assert (await client.request("GET", "/")).body == b"hello"
            return int(client.protocol._quic._retry_count)

    with start_h3("quic_retry = true\n") as server:
        assert asyncio.run(retries(server)) == 1
    with start_h3("quic_retry = false\n") as server:
        assert asyncio.run(retries(server)) == 0


def test_quic_max_connections_refuses_beyond_the_limit(start_h3: StartH3) -> None:
    async def connect_and_leave(server: H3Server) -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile):
            pass

    async def main(server: H3Server) -> None:
        async with (
            h3_connect("127.0.0.1", server.quic_port, server.cafile) as first,
            h3_connect("127.0.0.1", server.quic_port, server.cafile) as second,
        ):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(connect_and_leave(server), 3)
            # the two admitted connections still work
            assert (await first.request("GET", "/")).body == b"hello"
            assert (await second.request("GET", "/")).body == b"hello"

    with start_h3("quic_max_connections = 2\n") as server:
        asyncio.run(main(server))


def test_quic_idle_timeout_is_what_the_server_offers(start_h3: StartH3) -> None:
    async def main(server: H3Server) -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            await client.request("GET", "/")
            assert client.protocol._quic._remote_max_idle_timeout == 1.5
            await asyncio.sleep(4)  # silent for longer than that: the connection is gone
            assert client.protocol.terminated is not None

    with start_h3("quic_idle_timeout = 1.5\n") as server:
        asyncio.run(main(server))


def test_quic_max_saved_sessions_allows_resumption(start_h3: StartH3) -> None:
    async def resumed(server: H3Server) -> tuple[int, bool]:
        tickets: list[SessionTicket] = []
        async with h3_connect(
            "127.0.0.1", server.quic_port, server.cafile, session_ticket_handler=tickets.append
        ) as client:
            await client.request("GET", "/")
        if not tickets:
            return 0, False
        async with h3_connect(
            "127.0.0.1", server.quic_port, server.cafile, session_ticket=tickets[-1]
        ) as client:
            assert (await client.request("GET", "/")).body == b"hello"
            return len(tickets), bool(client.protocol._quic.tls.session_resumed)

    with start_h3("quic_max_saved_sessions = 10\n") as server:
        count, was_resumed = asyncio.run(resumed(server))
        assert count >= 1
        assert was_resumed
    with start_h3("quic_max_saved_sessions = 0\n") as server:
        assert asyncio.run(resumed(server)) == (0, False)


def test_alt_svc_headers_replace_the_generated_value(start_h3: StartH3) -> None:
    with start_h3("alt_svc_headers = ['h3=\":443\"; ma=86400']\n") as server:
        response = httpx.get(server.tcp_url("/"), verify=_context(server))
    assert response.headers.get_list("alt-svc") == ['h3=":443"; ma=86400']


def _context(server: H3Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.cafile)


def test_access_log_lines_name_http_version_3(start_h3: StartH3, tmp_path: Path) -> None:
    async def main(server: H3Server) -> None:
        async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
            await client.request("GET", "/scope?q=1")

    with start_h3('accesslog = "access.log"\n') as server:
        asyncio.run(main(server))
    (line,) = (tmp_path / "access.log").read_text().splitlines()
    # Hypercorn's %(r)s: method, path, then the ASGI http_version ("1.1", "2", "3")
    assert '"GET /scope 3" 200' in line


def test_two_workers_share_the_quic_socket(start_h3: StartH3) -> None:
    """Datagrams of one connection must reach the worker that holds it."""

    async def main(server: H3Server) -> None:
        for _ in range(12):
            async with h3_connect("127.0.0.1", server.quic_port, server.cafile) as client:
                bodies = await asyncio.gather(
                    *(client.request("GET", "/", timeout=10) for _ in range(5))
                )
                assert [response.body for response in bodies] == [b"hello"] * 5

    with start_h3("workers = 2\n") as server:
        asyncio.run(main(server))
        # One worker serves HTTP/3 (the first slot); both answer TCP.
        server.server.wait_for("(CTRL + C to quit)", count=2)
        assert len([line for line in server.server.lines if "(QUIC)" in line]) == 1
