"""Serving a framework app with the real ``hypercorn`` command, and the checks every
framework's tests share.

One process serves both protocols: ``--insecure-bind`` is plain HTTP/1.1 and ``--bind``
is TLS, where ALPN offers HTTP/2 and HTTP/1.1; the ``proto`` a test is parametrised
with picks which one its client speaks. With ``quic=True`` it serves HTTP/3 as well
(``--quic-bind`` on a port the kernel picks, read from the startup line).
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import trustme
import websockets.sync.client
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, TextMessage

from tests.cli._support import Server, free_port, hypercorn_command
from tests.helpers.websocket import extended_connect

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


@dataclass
class Certs:
    """A test CA and a leaf for 127.0.0.1/localhost, written to files."""

    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_certs(directory: Path) -> Certs:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.pem"
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in leaf.cert_chain_pems[1:]:
        with cert_file.open("ab") as handle:
            handle.write(extra.bytes())
    leaf.private_key_pem.write_to_path(str(key_file))
    return Certs(ca, ca_file, cert_file, key_file)


@dataclass
class Served:
    """A running server: plain HTTP/1.1 on ``http_port``, TLS on ``https_port``."""

    server: Server
    http_port: int
    https_port: int
    state_dir: Path
    certs: Certs
    quic_port: int | None = None

    def base_url(self, proto: str) -> str:
        if proto == "h2":
            return f"https://127.0.0.1:{self.https_port}"
        return f"http://127.0.0.1:{self.http_port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.http_port}{path}"

    def client(self, proto: str, **kwargs: Any) -> httpx.Client:
        if proto == "h2":
            return httpx.Client(
                base_url=self.base_url(proto),
                http2=True,
                http1=False,
                verify=self.certs.client_context(),
                timeout=30,
                **kwargs,
            )
        return httpx.Client(base_url=self.base_url(proto), timeout=30, **kwargs)


_RUNNING_QUIC = re.compile(r"Running on https://127\.0\.0\.1:(\d+) \(QUIC\)")


def start(
    application: str,
    backend: str,
    certs: Certs,
    state_dir: Path,
    *args: str,
    quic: bool = False,
) -> Served:
    """Start ``hypercorn -k BACKEND APPLICATION`` from the repository root."""
    state_dir.mkdir(parents=True, exist_ok=True)
    download = state_dir / "download.bin"
    if not download.exists():
        download.write_bytes(payload(3 * MIB + 17, b"download"))  # what /file serves
    http_port, https_port = free_port(), free_port()
    env = {**os.environ, "STATE_DIR": str(state_dir)}
    command = [
        *hypercorn_command(),
        "-k",
        backend,
        "--insecure-bind",
        f"127.0.0.1:{http_port}",
        "--bind",
        f"127.0.0.1:{https_port}",
        "--certfile",
        str(certs.cert_file),
        "--keyfile",
        str(certs.key_file),
        *(["--quic-bind", "127.0.0.1:0"] if quic else []),
        *args,
        application,
    ]
    server = Server(command, ROOT, env)
    quic_port = None
    try:
        server.wait_for(f"Running on https://127.0.0.1:{https_port}", timeout=60)
        server.wait_for(f"Running on http://127.0.0.1:{http_port}", timeout=60)
        if quic:
            line = server.wait_for("(QUIC)", timeout=60)[0]
            found = _RUNNING_QUIC.search(line)
            assert found is not None, line
            quic_port = int(found[1])
    except BaseException:
        server.close()
        raise
    return Served(server, http_port, https_port, state_dir, certs, quic_port)


@contextmanager
def serving(
    application: str, backend: str, certs: Certs, state_dir: Path, *args: str, quic: bool = False
) -> Iterator[Served]:
    served = start(application, backend, certs, state_dir, *args, quic=quic)
    try:
        yield served
    finally:
        served.server.close()


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} was not written within {timeout} s")
        time.sleep(0.02)
    return path.read_text()


def expected_version(proto: str) -> str:
    return "HTTP/2" if proto == "h2" else "HTTP/1.1"


@functools.lru_cache(maxsize=4)
def payload(size: int, seed: bytes) -> bytes:
    """``size`` pseudo-random bytes (a repeated block would hide reordering)."""
    return random.Random(seed).randbytes(size)


# -- checks shared by every framework -------------------------------------------------


def check_json(client: httpx.Client, proto: str, framework: str) -> None:
    info = client.get("/info", params={"q": "a b", "n": "1"})
    assert info.status_code == 200, info.text
    assert info.http_version == expected_version(proto)
    assert info.headers["content-type"].startswith("application/json")
    body = info.json()
    assert body["framework"] == framework
    assert body["http_version"] == ("2" if proto == "h2" else "1.1")
    assert body["scheme"] == ("https" if proto == "h2" else "http")
    assert body["query"] == {"q": "a b", "n": "1"}
    sent = {"name": "Zoë", "items": [1, 2, 3], "nested": {"ok": True}}
    echoed = client.post("/json", json=sent)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json() == {"received": sent, "keys": ["items", "name", "nested"]}


def check_form(client: httpx.Client) -> None:
    response = client.post("/form", data={"name": "Zoë & co", "count": "3"})
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "Zoë & co", "count": "3"}


def check_upload(client: httpx.Client, size: int = 10 * MIB) -> None:
    data = payload(size, b"upload")
    response = client.post(
        "/upload",
        data={"note": "ten mebibytes"},
        files={"file": ("big.bin", data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": size,
        "filename": "big.bin",
        "note": "ten mebibytes",
    }


def check_streaming(client: httpx.Client, served: Served, proto: str, token: str) -> None:
    """The first chunk arrives while the app is still waiting to be released."""
    with client.stream("GET", f"/stream/{token}") as response:
        assert response.status_code == 200
        assert response.http_version == expected_version(proto)
        chunks = response.iter_bytes()
        received = b""
        while b"\n" not in received:
            received += next(chunks)
        assert received == b"first\n"
        # a second client on its own connection releases the gate
        with served.client(proto) as other:
            assert other.get(f"/release/{token}").status_code == 200
        rest = b"".join(chunks)
    assert received + rest == b"first\nsecond\nchunk 0\nchunk 1\nchunk 2\n"


def check_file(client: httpx.Client, served: Served) -> None:
    expected = (served.state_dir / "download.bin").read_bytes()
    response = client.get("/file")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(expected))
    assert hashlib.sha256(response.content).hexdigest() == hashlib.sha256(expected).hexdigest()


def check_background(client: httpx.Client, token: str) -> None:
    queued = client.get(f"/background/{token}")
    assert queued.json() == {"queued": token}
    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline:
        state = client.get(f"/background-result/{token}").json()["state"]
        if state == "done":
            return
        time.sleep(0.05)
    raise AssertionError(f"background task state {state!r}")


def check_sse_disconnect(client: httpx.Client, served: Served, token: str) -> None:
    """Read a few events, hang up, and wait for the app to notice."""
    with client.stream("GET", f"/events/{token}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(line.removeprefix("data: "))
            if len(seen) == 3:
                break
    client.close()  # the connection goes, not just the stream
    assert seen == ["tick 0", "tick 1", "tick 2"]
    assert wait_for_file(served.state_dir / f"sse-closed-{token}") == "client went away"


def check_chat(served: Served, room: str) -> None:
    url = served.ws_url(f"/chat/{room}")
    with (
        websockets.sync.client.connect(f"{url}?name=ann", open_timeout=10) as ann,
        websockets.sync.client.connect(f"{url}?name=bob", open_timeout=10) as bob,
    ):
        # both are in the room only once each has been accepted; ann speaks first
        ann.send("hello")
        assert ann.recv(timeout=10) == "ann: hello"
        assert bob.recv(timeout=10) == "ann: hello"
        bob.send("hi ann")
        assert ann.recv(timeout=10) == "bob: hi ann"
        assert bob.recv(timeout=10) == "bob: hi ann"


def check_chat_tls(served: Served, room: str) -> None:
    """The same chat over wss:// (WebSocket over HTTP/1.1 on the TLS port)."""
    url = f"wss://127.0.0.1:{served.https_port}/chat/{room}?name=tls"
    with websockets.sync.client.connect(
        url, ssl=served.certs.client_context(), open_timeout=10
    ) as ws:
        ws.send("secure")
        assert ws.recv(timeout=10) == "tls: secure"


class H2WebSockets:
    """WebSockets as streams of one HTTP/2 connection over TLS (RFC 8441): h2 + wsproto."""

    def __init__(self, served: Served) -> None:
        self.authority = f"127.0.0.1:{served.https_port}".encode()
        context = served.certs.client_context()
        context.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", served.https_port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self._flush()
        self.sockets: dict[int, Connection] = {}
        self.texts: dict[int, list[str]] = {}
        self.status: dict[int, bytes] = {}
        while not self.conn.remote_settings.enable_connect_protocol:
            self._read()

    def open(self, path: str) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, extended_connect(self.authority, path.encode()))
        self.sockets[stream_id] = Connection(ConnectionType.CLIENT)
        self.texts[stream_id] = []
        self._flush()
        while stream_id not in self.status:
            self._read()
        return stream_id

    def send(self, stream_id: int, text: str) -> None:
        self.conn.send_data(stream_id, self.sockets[stream_id].send(TextMessage(data=text)))
        self._flush()

    def recv(self, stream_id: int) -> str:
        while not self.texts[stream_id]:
            self._read()
        return self.texts[stream_id].pop(0)

    def close(self) -> None:
        for stream_id, ws in self.sockets.items():
            self.conn.send_data(stream_id, ws.send(CloseConnection(code=1000)))
        self._flush()
        self.sock.close()

    def _flush(self) -> None:
        if data := self.conn.data_to_send():
            self.sock.sendall(data)

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.status[event.stream_id] = dict(event.headers or [])[b":status"]
            elif isinstance(event, h2.events.DataReceived):
                stream_id = event.stream_id
                self.conn.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
                ws = self.sockets[stream_id]
                ws.receive_data(event.data)
                for message in ws.events():
                    if isinstance(message, TextMessage):
                        self.texts[stream_id].append(message.data)
        self._flush()


def check_chat_h2(served: Served, room: str) -> None:
    """The chat with both members as WebSocket streams of one HTTP/2 connection."""
    client = H2WebSockets(served)
    try:
        ann = client.open(f"/chat/{room}?name=ann")
        bob = client.open(f"/chat/{room}?name=bob")
        assert client.status == {ann: b"200", bob: b"200"}
        client.send(ann, "hello")
        assert client.recv(ann) == "ann: hello"
        assert client.recv(bob) == "ann: hello"
        client.send(bob, "hi ann")
        assert client.recv(ann) == "bob: hi ann"
        assert client.recv(bob) == "bob: hi ann"
    finally:
        client.close()


def check_lifespan_state(client: httpx.Client, framework: str) -> int:
    response = client.get("/lifespan")
    assert response.status_code == 200
    body = response.json()
    assert body["started"] == f"{framework} {body['pid']}"
    pid: int = body["pid"]
    return pid


def check_shutdown_file(served: Served, pid: int, framework: str) -> None:
    assert served.server.stop(signal.SIGTERM) == 0, served.server.lines
    shutdown = served.state_dir / f"shutdown-{pid}"
    assert shutdown.read_text() == f"{framework} shutdown complete"
