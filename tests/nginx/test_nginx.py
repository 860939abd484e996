"""The real ``hypercorn`` command behind nginx: keep-alive upstreams over TCP and a unix
socket, WebSockets through the proxy, forwarded headers, large bodies, and a graceful
reload under load."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from tests.frameworks._support import Certs
from tests.helpers.backends import BACKENDS
from tests.nginx.conftest import FRAGMENT, StartNginx, StartUpstream

MIB = 1024 * 1024


def connected_unix_sockets(path: str) -> int:
    """Accepted connections on the unix socket ``path`` (they carry its name)."""
    count = 0
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode Path; St 03 is "connected"
        if len(fields) >= 8 and fields[7] == path and fields[5] == "03":
            count += 1
    return count


@pytest.mark.parametrize("backend", BACKENDS)
def test_keepalive_upstream_over_tcp(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx
) -> None:
    upstream = start_upstream(backend)
    nginx = start_nginx(upstream.address)
    ports = set()
    with httpx.Client(base_url=nginx.http_url) as client:
        for _ in range(20):
            response = client.get("/raw/whoami")
            assert response.status_code == 200, nginx.error_log()
            seen = response.json()
            assert seen["http_version"] == "1.1"
            ports.add(seen["client"][1])
    # 20 requests on one or two upstream connections, not 20 (nginx's own port each)
    assert 1 <= len(ports) <= 2, ports


@pytest.mark.parametrize("backend", BACKENDS)
def test_keepalive_upstream_over_unix_socket(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx
) -> None:
    upstream = start_upstream(backend, unix=True)
    path = upstream.address.removeprefix("unix:")
    nginx = start_nginx(upstream.address)
    with httpx.Client(base_url=nginx.http_url) as client:
        for _ in range(20):
            response = client.get("/raw/whoami")
            assert response.status_code == 200, nginx.error_log()
            assert response.json()["client"] is None  # a unix socket has no peer address
    # the idle upstream connection is still open, and there is only one or two
    assert 1 <= connected_unix_sockets(path) <= 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_forwarded_for_and_proto_through_proxy_fix(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx, certs: Certs
) -> None:
    nginx = start_nginx(start_upstream(backend).address)
    # the client comes from 127.0.0.2, nginx talks to hypercorn from 127.0.0.1
    transport = httpx.HTTPTransport(
        local_address="127.0.0.2", verify=certs.client_context(), http2=True
    )
    with httpx.Client(transport=transport, http2=True) as client:
        fixed = client.get(
            f"{nginx.https_url}/whoami",
            headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "gopher"},
        )
        raw = client.get(f"{nginx.https_url}/raw/whoami")
        plain = client.get(f"{nginx.http_url}/whoami")
    assert fixed.http_version == "HTTP/2"  # client to nginx; nginx to hypercorn is 1.1
    seen = fixed.json()
    # only the last hop (nginx's own entry) is believed: the forged one is ignored
    assert seen["client"] == ["127.0.0.2", 0]
    assert seen["scheme"] == "https"
    assert seen["host"] == "127.0.0.1"
    assert seen["http_version"] == "1.1"
    unfixed = raw.json()
    assert unfixed["client"][0] == "127.0.0.1"
    assert unfixed["scheme"] == "http"
    assert plain.json()["scheme"] == "http"
    assert plain.json()["client"] == ["127.0.0.2", 0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_websocket_through_nginx(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx, certs: Certs
) -> None:
    nginx = start_nginx(start_upstream(backend).address)
    with websockets.sync.client.connect(
        f"wss://127.0.0.1:{nginx.https_port}/ws", ssl=certs.client_context(), open_timeout=10
    ) as ws:
        seen = json.loads(ws.recv(timeout=10))
        assert seen["scheme"] == "wss"  # X-Forwarded-Proto https, through ProxyFixMiddleware
        assert seen["client"][0] == "127.0.0.1"
        for text in ("one", "two", "x" * 100_000):
            ws.send(text)
            assert ws.recv(timeout=10) == "echo " + text
    with websockets.sync.client.connect(
        f"ws://127.0.0.1:{nginx.http_port}/ws", open_timeout=10
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["scheme"] == "ws"
        ws.send("plain")
        assert ws.recv(timeout=10) == "echo plain"


@pytest.mark.parametrize("backend", BACKENDS)
def test_10_mib_upload_and_download(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx, certs: Certs
) -> None:
    nginx = start_nginx(start_upstream(backend).address)
    data = random.Random(7).randbytes(10 * MIB)
    with httpx.Client(http2=True, verify=certs.client_context(), timeout=60) as client:
        uploaded = client.post(f"{nginx.https_url}/upload", content=data)
        assert uploaded.status_code == 200, nginx.error_log()
        assert uploaded.json() == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        size = 10 * MIB + 3
        downloaded = client.get(f"{nginx.https_url}/download/{size}")
        assert downloaded.status_code == 200
        assert len(downloaded.content) == size
        expected = random.Random(size).randbytes(size)
        assert hashlib.sha256(downloaded.content).digest() == hashlib.sha256(expected).digest()


@pytest.mark.parametrize("backend", BACKENDS)
def test_graceful_reload_under_nginx_has_no_502(
    backend: str, start_upstream: StartUpstream, start_nginx: StartNginx
) -> None:
    upstream = start_upstream(backend, workers=2)
    nginx = start_nginx(upstream.address)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    pids: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=nginx.http_url, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.get("/whoami")
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                    continue
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    pids.append(response.json()["pid"])

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        before = set(pids)
        upstream.server.process.send_signal(signal.SIGHUP)
        # two new workers, each "Running on" once it accepts connections
        upstream.server.wait_for(f"Running on http://{upstream.address}", count=4, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (set(pids[-50:]) - before):
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert statuses[502] == 0, (statuses, nginx.error_log())
    assert set(statuses) == {200}, statuses
    assert errors == []
    # served by the old workers before and only by new ones after (which of the two
    # workers a keep-alive connection lands on is up to the kernel)
    after = set(pids[-50:])
    assert before and after and not (after & before), (before, after)
    assert sum(statuses.values()) > 100


def test_docs_show_the_configuration_these_tests_use() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    assert FRAGMENT.read_text().strip() in docs
