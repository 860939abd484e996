"""HTTP/2 end to end: httpx with http2 over TLS (ALPN) and cleartext prior knowledge,
and the h2 library over a raw socket."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import httpx
import pytest
import trustme

from hypercorn_protocol.typing import ASGIScope
from tests.helpers.server import make_config, run_server, sleep
from tests.helpers.websocket import extended_connect


async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    size = int(scope["query_string"] or b"0")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-version", scope["http_version"].encode())],
        }
    )
    if size:
        chunk = b"z" * 16384
        for _ in range(size // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.body", "body": body or scope["path"].encode()})


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[trustme.CA, str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return ca, str(certfile), str(keyfile)


def test_alpn_h2_over_tls(loop_name: str, tls_files: tuple[trustme.CA, str, str]) -> None:
    ca, certfile, keyfile = tls_files
    context = ssl.create_default_context()
    ca.configure_trust(context)
    config = make_config(certfile=certfile, keyfile=keyfile)
    with (
        run_server(app, config, loop_name) as server,
        httpx.Client(verify=context, http2=True) as client,
    ):
        response = client.get(server.url + "/over-tls")
        assert response.http_version == "HTTP/2"
        assert response.headers["x-version"] == "2"
        assert response.headers["server"] == "hypercorn-h2"
        assert response.content == b"/over-tls"
        posted = client.post(server.url + "/", content=b"q" * 200_000)
        assert posted.content == b"q" * 200_000


def test_h2c_prior_knowledge_many_streams(loop_name: str) -> None:
    with (
        run_server(app, make_config(), loop_name) as server,
        httpx.Client(http1=False, http2=True) as client,
    ):
        results: list[bytes] = []

        def fetch(i: int) -> None:
            results.append(client.get(f"{server.url}/s{i}").content)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results) == sorted(b"/s%d" % i for i in range(20))
        large = client.get(server.url + "/?1048576")
        assert large.http_version == "HTTP/2"
        assert len(large.content) == 1048576


def _h2_socket(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def _request(conn: h2.connection.H2Connection, path: bytes, *extra: tuple[bytes, bytes]) -> int:
    stream_id = conn.get_next_available_stream_id()
    pseudo = [(b":method", b"GET"), (b":path", path), (b":scheme", b"http"), (b":authority", b"x")]
    conn.send_headers(stream_id, [*pseudo, *extra], end_stream=True)
    return stream_id


def _read_response(
    sock: socket.socket, conn: h2.connection.H2Connection, stream_id: int
) -> tuple[bytes, list[h2.events.StreamReset]]:
    """Read until ``stream_id`` ends: its body, and the resets seen on the way."""
    body = b""
    resets = []
    while True:
        for event in conn.receive_data(sock.recv(65536)):
            assert not isinstance(event, h2.events.ConnectionTerminated)
            if isinstance(event, h2.events.StreamReset):
                resets.append(event)
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                if event.stream_id == stream_id:
                    body += event.data or b""
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                return body, resets
        sock.sendall(conn.data_to_send())


def test_slow_reader_on_one_stream_does_not_block_another(loop_name: str) -> None:
    with run_server(app, make_config(), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock:
            big = _request(conn, b"/?4194304")  # never read beyond the initial window
            sock.sendall(conn.data_to_send())
            small_done = False
            small: int | None = None
            for _ in range(200):
                events = conn.receive_data(sock.recv(65536))
                for event in events:
                    if isinstance(event, h2.events.DataReceived) and event.stream_id != big:
                        conn.acknowledge_received_data(
                            event.flow_controlled_length or 0, event.stream_id
                        )
                    elif isinstance(event, h2.events.DataReceived):
                        # give back connection-level window only: the big stream stays stuck
                        conn.increment_flow_control_window(event.flow_controlled_length or 0)
                    if isinstance(event, h2.events.StreamEnded) and event.stream_id == small:
                        small_done = True
                if small is None:
                    small = _request(conn, b"/small")
                sock.sendall(conn.data_to_send())
                if small_done:
                    break
            assert small_done


def test_reset_stream_keeps_connection_alive(loop_name: str) -> None:
    with run_server(app, make_config(), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock:
            first = _request(conn, b"/?1048576")
            conn.reset_stream(first)
            second = _request(conn, b"/after-reset")
            sock.sendall(conn.data_to_send())
            body, _ = _read_response(sock, conn, second)
            assert body == b"/after-reset"


def test_ping_flood_from_a_peer_that_never_reads_is_bounded(loop_name: str) -> None:
    """PINGs sent without reading the ACKs: the server stops reading instead of queueing.

    Each PING makes a 17-byte ACK. Kernel socket buffers on loopback hold a few MiB, so
    a bounded server stops accepting PINGs well before 48 MiB; one that keeps reading
    would take them all and queue as many ACKs in memory.
    """
    burst = (b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"12345678") * 1024
    limit = 48 * 1024 * 1024
    with run_server(app, make_config(), loop_name) as server:
        sock, _ = _h2_socket(server.port)
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(2.0)
            sent = 0
            try:
                while sent < limit:
                    sock.sendall(burst)
                    sent += len(burst)
            except (TimeoutError, ConnectionResetError, BrokenPipeError):
                pass  # the server stopped reading, or cut the peer off: both are bounded
            assert sent < limit, "the server kept reading a peer that never reads"


async def ws_echo(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": "echo:" + (message.get("text") or "")})


def test_websocket_over_http2_rfc8441(loop_name: str) -> None:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import CloseConnection, TextMessage

    with run_server(ws_echo, make_config(), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock:
            # wait for the server's SETTINGS (it must allow extended CONNECT)
            while not conn.remote_settings.enable_connect_protocol:
                conn.receive_data(sock.recv(65536))
                sock.sendall(conn.data_to_send())
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, extended_connect(b"x", b"/ws", scheme=b"http"))
            ws = Connection(ConnectionType.CLIENT)
            conn.send_data(stream_id, ws.send(TextMessage(data="hi")))
            sock.sendall(conn.data_to_send())
            status = None
            replies: list[str] = []
            closed_code = None
            while closed_code is None:
                for event in conn.receive_data(sock.recv(65536)):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = dict(event.headers or [])[b":status"]
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
                        ws.receive_data(event.data)
                        for ws_event in ws.events():
                            if isinstance(ws_event, TextMessage):
                                replies.append(ws_event.data)
                                conn.send_data(
                                    stream_id, ws.send(CloseConnection(code=1000, reason=""))
                                )
                            elif isinstance(ws_event, CloseConnection):
                                closed_code = ws_event.code
                sock.sendall(conn.data_to_send())
            assert status == b"200"
            assert replies == ["echo:hi"]
            assert closed_code == 1000


def test_malformed_request_costs_only_its_stream(loop_name: str) -> None:
    with run_server(app, make_config(), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock:
            # h2 would strip the field a smuggler sends; send it as is
            conn.config.validate_outbound_headers = conn.config.normalize_outbound_headers = False
            smuggler = conn.get_next_available_stream_id()
            conn.send_headers(
                smuggler,
                [
                    (b":method", b"GET"),
                    (b":path", b"/"),
                    (b":scheme", b"http"),
                    (b":authority", b"x"),
                    (b"transfer-encoding", b"chunked"),
                ],
                end_stream=True,
            )
            conn.config.validate_outbound_headers = conn.config.normalize_outbound_headers = True
            good = _request(conn, b"/after")
            sock.sendall(conn.data_to_send())
            body, resets = _read_response(sock, conn, good)
            assert [(r.stream_id, r.error_code) for r in resets] == [
                (smuggler, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            ]
            assert body == b"/after"


async def echo_header_app(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    value = dict(scope["headers"]).get(b"x-n", b"")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"x-echo", value),
                (b"x-constant", b"same every time"),
                (b"x-client-port", str(scope["client"][1]).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": value})


def test_header_compression_against_nghttp2(loop_name: str) -> None:
    """curl (via curl_cffi) brings nghttp2's HPACK: an implementation independent of ours.

    Enough distinct values go both ways on one connection that both dynamic tables
    fill up and evict; every response must still carry its own values.
    """
    from curl_cffi import CurlHttpVersion, requests as curl

    with run_server(echo_header_app, make_config(), loop_name) as server:
        ports = set()
        with curl.Session() as session:
            for n in range(300):
                value = f"{n}-{'v' * (n % 90)}"
                response = session.get(
                    f"http://127.0.0.1:{server.port}/",
                    headers={"x-n": value},
                    http_version=CurlHttpVersion.V2_PRIOR_KNOWLEDGE,
                    timeout=5,
                )
                assert response.http_version == CurlHttpVersion.V2_0
                assert response.headers["x-echo"] == value
                assert response.headers["x-constant"] == "same every time"
                assert response.content == value.encode()
                ports.add(response.headers["x-client-port"])
        assert len(ports) == 1  # one connection, so one pair of HPACK tables throughout


async def slow_app(scope: ASGIScope, receive: Any, send: Any) -> None:
    """``/slow`` answers after half a second; anything else at once."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    if scope["path"].startswith("/slow"):
        await sleep(0.5)
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def _read_responses(
    sock: socket.socket, conn: h2.connection.H2Connection, stream_ids: list[int]
) -> tuple[dict[int, bytes], list[h2.events.StreamReset], list[h2.events.Event]]:
    """Read until all of ``stream_ids`` end: their bodies, the resets and every event."""
    bodies = dict.fromkeys(stream_ids, b"")
    open_ids = set(stream_ids)
    resets: list[h2.events.StreamReset] = []
    seen: list[h2.events.Event] = []
    while open_ids:
        data = sock.recv(65536)
        assert data, f"connection closed with streams {open_ids} unfinished"
        for event in conn.receive_data(data):
            seen.append(event)
            if isinstance(event, h2.events.StreamReset):
                resets.append(event)
                open_ids.discard(event.stream_id or 0)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id in bodies:
                conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                bodies[event.stream_id] += event.data or b""
            elif isinstance(event, h2.events.StreamEnded):
                open_ids.discard(event.stream_id or 0)
        if outgoing := conn.data_to_send():  # nothing once a GOAWAY came
            sock.sendall(outgoing)
    return bodies, resets, seen


def _read_to_eof(sock: socket.socket, conn: h2.connection.H2Connection) -> list[h2.events.Event]:
    """Every event until the server closes the connection."""
    seen: list[h2.events.Event] = []
    while data := sock.recv(65536):
        seen += conn.receive_data(data)
    return seen


def _wait_until_refused(port: int) -> None:
    """Wait for the listener to close: the server's shutdown has begun."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.01)
    raise AssertionError("the server kept accepting")


class _GreedyH2(h2.connection.H2Connection):
    """A client that ignores the server's SETTINGS_MAX_CONCURRENT_STREAMS."""

    @property
    def open_outbound_streams(self) -> int:
        return 0


def test_stream_beyond_max_concurrent_streams_is_refused_alone(loop_name: str) -> None:
    with run_server(slow_app, make_config(h2_max_concurrent_streams=3), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        conn.__class__ = _GreedyH2
        with sock:
            while conn.remote_settings.max_concurrent_streams != 3:
                conn.receive_data(sock.recv(65536))
            open_ids = [_request(conn, b"/slow%d" % i) for i in range(3)]
            extra = _request(conn, b"/extra")
            sock.sendall(conn.data_to_send())
            bodies, resets, _ = _read_responses(sock, conn, open_ids)
            assert [(r.stream_id, r.error_code) for r in resets] == [
                (extra, h2.errors.ErrorCodes.REFUSED_STREAM)
            ]
            assert bodies == {stream_id: b"/slow%d" % i for i, stream_id in enumerate(open_ids)}
            after = _request(conn, b"/after")
            sock.sendall(conn.data_to_send())
            assert _read_response(sock, conn, after)[0] == b"/after"


def test_graceful_shutdown_lets_in_flight_http2_streams_finish(loop_name: str) -> None:
    """h2 and httpx stop taking frames at a GOAWAY: it must follow the open responses."""
    with run_server(slow_app, make_config(graceful_timeout=5), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock, httpx.Client(http1=False, http2=True, timeout=5) as client:
            in_flight = _request(conn, b"/slow-raw")
            sock.sendall(conn.data_to_send())
            replies: dict[str, httpx.Response | Exception] = {}

            def get(name: str, path: str) -> None:
                try:
                    replies[name] = client.get(server.url + path)
                except httpx.HTTPError as error:
                    replies[name] = error

            slow = threading.Thread(target=get, args=("slow", "/slow-httpx"))
            slow.start()
            time.sleep(0.2)  # both requests are in the app's sleep now
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            _wait_until_refused(server.port)

            # new requests on the open connections are refused at once, not left waiting
            late = _request(conn, b"/late")
            sock.sendall(conn.data_to_send())
            started = time.monotonic()
            get("late", "/late-httpx")
            assert isinstance(replies["late"], httpx.HTTPError)
            assert time.monotonic() - started < 2

            bodies, resets, seen = _read_responses(sock, conn, [in_flight, late])
            assert bodies[in_flight] == b"/slow-raw"
            assert [(r.stream_id, r.error_code) for r in resets] == [
                (late, h2.errors.ErrorCodes.REFUSED_STREAM)
            ]
            seen += _read_to_eof(sock, conn)
            goaways = [e for e in seen if isinstance(e, h2.events.ConnectionTerminated)]
            assert len(goaways) == 1 and seen[-1] is goaways[0]
            assert goaways[0].error_code == h2.errors.ErrorCodes.NO_ERROR
            assert goaways[0].last_stream_id == late

            slow.join(5)
            reply = replies["slow"]
            assert isinstance(reply, httpx.Response), reply
            assert reply.http_version == "HTTP/2"
            assert reply.content == b"/slow-httpx"
            stopper.join(10)
            assert not stopper.is_alive()


async def trailers_app(scope: ASGIScope, receive: Any, send: Any) -> None:
    """Sends trailers whenever the server offers them, as apps do (not looking at te)."""
    if scope["type"] != "http":
        return
    offered = "http.response.trailers" in scope["extensions"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-offered", b"yes" if offered else b"no")],
            "trailers": offered,
        }
    )
    await send({"type": "http.response.body", "body": b"t" * int(scope["query_string"] or b"1")})
    if offered:
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"42")]})


def test_trailers_offered_always_and_sent_only_when_asked(loop_name: str) -> None:
    with run_server(trailers_app, make_config(), loop_name) as server:
        sock, conn = _h2_socket(server.port)
        with sock:
            # beyond the first window: still buffered when the app sends its trailers
            plain = _request(conn, b"/?200000")
            asked = _request(conn, b"/?10", (b"te", b"trailers"))
            sock.sendall(conn.data_to_send())
            bodies, resets, seen = _read_responses(sock, conn, [plain, asked])
            assert not resets
            assert bodies == {plain: b"t" * 200000, asked: b"t" * 10}
            heads = {
                e.stream_id: dict(e.headers or [])
                for e in seen
                if isinstance(e, h2.events.ResponseReceived)
            }
            assert heads[plain][b"x-offered"] == heads[asked][b"x-offered"] == b"yes"
            trailers = {
                e.stream_id: dict(e.headers or [])
                for e in seen
                if isinstance(e, h2.events.TrailersReceived)
            }
            assert trailers == {asked: {b"x-checksum": b"42"}}
            after = _request(conn, b"/?5")
            sock.sendall(conn.data_to_send())
            assert _read_response(sock, conn, after)[0] == b"t" * 5
        with httpx.Client(http1=False, http2=True, timeout=5) as client:
            response = client.get(server.url + "/?100000")  # httpx sends no te: trailers
            assert response.headers["x-offered"] == "yes"
            assert response.content == b"t" * 100000
