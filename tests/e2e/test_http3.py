"""HTTP/3 end to end: a real UDP socket on every backend, aioquic's asyncio client.

The client runs its own asyncio loop in the test's thread; the server runs in a
background thread (``tests.helpers.server.run_server``), TLS with a trustme certificate
(``tests.helpers.tls``).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytest.importorskip("aioquic")

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamReset

from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.helpers.backends import BACKENDS
from tests.helpers.lifespan import serve_lifespan
from tests.helpers.server import RunningServer, make_config, quic_port, run_server, sleep
from tests.helpers.tls import TLSFiles, write_tls_files
from tests.helpers.websocket import extended_connect

BIG = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return write_tls_files(tmp_path_factory.mktemp("h3-e2e"))


disconnects: list[str] = []


async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo:" + message["text"]})
    path = scope["path"]
    if path == "/hang":
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnects.append(scope["query_string"].decode())
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    if path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = bytes(range(256)) * 256  # 64 KiB
        for _ in range(BIG // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"with trailers"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"42")]})
        return
    if path == "/slow":
        await sleep(0.01)
    version = scope["http_version"].encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-http-version", version), (b"x-scheme", scope["scheme"].encode())],
        }
    )
    await send({"type": "http.response.body", "body": body or b"hello"})


@dataclass
class Response:
    headers: list[list[tuple[bytes, bytes]]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reset: int | None = None

    @property
    def status(self) -> bytes:
        return dict(self.headers[0])[b":status"]


class H3Client(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.responses: dict[int, Response] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamReset) and event.stream_id in self.responses:
            self.responses[event.stream_id].reset = event.error_code
            self.responses[event.stream_id].done.set()
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, (HeadersReceived, DataReceived)):
            response = self.responses.get(event.stream_id)
            if response is None:
                return
            if isinstance(event, HeadersReceived):
                response.headers.append(list(event.headers))
            else:
                response.body.extend(event.data)
            if event.stream_ended:
                response.done.set()

    def start(
        self,
        path: str,
        *,
        method: bytes = b"GET",
        body: bytes | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        end: bool = True,
    ) -> int:
        stream_id = self._quic.get_next_available_stream_id()
        fields = [
            (b":method", method),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            (b":path", path.encode()),
            *(headers or []),
        ]
        self.h3.send_headers(stream_id, fields, end_stream=end and body is None)
        if body is not None:
            self.h3.send_data(stream_id, body, end_stream=end)
        self.responses[stream_id] = Response()
        self.transmit()
        return stream_id

    async def request(self, path: str, *, timeout: float = 30, **kwargs: Any) -> Response:
        stream_id = self.start(path, **kwargs)
        response = self.responses[stream_id]
        await asyncio.wait_for(response.done.wait(), timeout)
        return response


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tls_files: TLSFiles) -> Iterator[RunningServer]:
    config = make_config(
        certfile=str(tls_files.certfile),
        keyfile=str(tls_files.keyfile),
        quic_bind=["127.0.0.1:0"],
    )
    with run_server(app, config, request.param) as running:
        (alt_svc,) = config.quic_alt_svc
        running.quic_port = quic_port(config)  # type: ignore[attr-defined]
        running.alt_svc = alt_svc  # type: ignore[attr-defined]
        yield running


def h3(server: RunningServer, tls_files: TLSFiles, scenario: Any) -> Any:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    configuration.load_verify_locations(cafile=str(tls_files.cafile))
    configuration.server_name = "localhost"
    port: int = server.quic_port  # type: ignore[attr-defined]

    async def main() -> Any:
        async with connect(
            "127.0.0.1", port, configuration=configuration, create_protocol=H3Client
        ) as client:
            assert isinstance(client, H3Client)
            return await scenario(client)

    return asyncio.run(asyncio.wait_for(main(), 220))


def test_hello_and_alt_svc(server: RunningServer, tls_files: TLSFiles) -> None:
    async def scenario(client: H3Client) -> Response:
        return await client.request("/")

    response = h3(server, tls_files, scenario)
    assert response.status == b"200"
    assert response.body == b"hello"
    headers = dict(response.headers[0])
    assert headers[b"x-http-version"] == b"3"
    assert headers[b"x-scheme"] == b"https"
    assert b"alt-svc" not in headers
    # the TCP side advertises the UDP port
    ssl_context = ssl.create_default_context(cafile=str(tls_files.cafile))
    with httpx.Client(verify=ssl_context) as tcp:
        tcp_response = tcp.get(server.url.replace("127.0.0.1", "localhost"))
    assert tcp_response.headers["alt-svc"] == server.alt_svc  # type: ignore[attr-defined]
    assert server.alt_svc == f'h3=":{server.quic_port}"; ma=3600'  # type: ignore[attr-defined]


def test_post_echo(server: RunningServer, tls_files: TLSFiles) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: more than one window's worth in flight

    async def scenario(client: H3Client) -> Response:
        return await client.request("/echo", method=b"POST", body=body)

    response = h3(server, tls_files, scenario)
    assert response.status == b"200"
    assert bytes(response.body) == body


def test_response_trailers(server: RunningServer, tls_files: TLSFiles) -> None:
    async def scenario(client: H3Client) -> Response:
        return await client.request("/trailers", headers=[(b"te", b"trailers")])

    response = h3(server, tls_files, scenario)
    assert response.body == b"with trailers"
    assert response.headers[-1] == [(b"x-sum", b"42")]


def test_stream_reset_disconnects_the_app(server: RunningServer, tls_files: TLSFiles) -> None:
    tag = f"reset-{id(server)}"

    async def scenario(client: H3Client) -> Response:
        stream_id = client.start(f"/hang?{tag}", method=b"POST", body=b"x", end=False)
        await asyncio.sleep(0.2)
        client._quic.reset_stream(stream_id, 0x10C)
        client.transmit()
        for _ in range(100):
            if tag in disconnects:
                break
            await asyncio.sleep(0.05)
        return await client.request("/after")  # the connection carries on

    response = h3(server, tls_files, scenario)
    assert tag in disconnects
    assert response.status == b"200"


def test_hundred_streams_on_one_connection(server: RunningServer, tls_files: TLSFiles) -> None:
    async def scenario(client: H3Client) -> list[Response]:
        return await asyncio.gather(
            *(client.request("/slow", method=b"POST", body=b"%d" % n) for n in range(100))
        )

    responses = h3(server, tls_files, scenario)
    assert [bytes(r.body) for r in responses] == [b"%d" % n for n in range(100)]


@pytest.mark.timeout(240)
def test_twenty_mib_download_byte_exact(server: RunningServer, tls_files: TLSFiles) -> None:
    # aioquic is pure Python on both ends, in one process: this takes tens of seconds
    async def scenario(client: H3Client) -> Response:
        return await client.request("/big", timeout=200)

    response = h3(server, tls_files, scenario)
    expected = hashlib.sha256(bytes(range(256)) * 256 * (BIG // 65536)).hexdigest()
    assert len(response.body) == BIG
    assert hashlib.sha256(response.body).hexdigest() == expected


def test_websocket_echo_over_http3(server: RunningServer, tls_files: TLSFiles) -> None:
    from wsproto.frame_protocol import FrameProtocol, Opcode

    async def scenario(client: H3Client) -> list[Any]:
        frames = FrameProtocol(client=True, extensions=[])
        stream_id = client._quic.get_next_available_stream_id()
        client.h3.send_headers(stream_id, extended_connect(b"localhost", b"/ws"))
        response = client.responses[stream_id] = Response()
        client.h3.send_data(stream_id, bytes(frames.send_data("ping", fin=True)), False)
        client.transmit()
        for _ in range(200):
            if response.body:
                break
            await asyncio.sleep(0.05)
        frames.receive_bytes(bytes(response.body))
        received = list(frames.received_frames())
        client.h3.send_data(stream_id, bytes(frames.close(1000, "")), False)
        client.transmit()
        return [response.status, received]

    status, received = h3(server, tls_files, scenario)
    assert status == b"200"
    (frame,) = received
    assert frame.opcode is Opcode.TEXT and frame.payload == "echo:ping"
