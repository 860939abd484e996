"""FastAPI, Starlette, Quart, Django (ASGI and WSGI) and Flask (WSGI) over HTTP/3, served
by the real ``hypercorn`` command with ``--quic-bind``, on asyncio, uvloop and trio
(Django's ASGI handler: asyncio and uvloop; Quart on trio is ``quart_trio.QuartTrio``):
JSON, forms, a 10 MiB upload, streaming, file responses, and for the ASGI apps
server-sent events ended by the client, background tasks, lifespan state and WebSockets.

Requests go through curl_cffi (libcurl on ngtcp2 and nghttp3, told to use HTTP/3 only);
WebSockets through aioquic's client (RFC 9220 extended CONNECT, frames by wsproto), for
the frameworks that have WebSockets of their own. One server per (framework, backend).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from curl_cffi import CurlMime, requests
from curl_cffi.const import CurlHttpVersion

from tests.frameworks import _support as check
from tests.frameworks._support import MIB, Certs, Served, payload
from tests.helpers.h3client import h3_connect

HTTP3 = 30  # CURLINFO_HTTP_VERSION of an HTTP/3 response

APPS = {
    "fastapi": "tests.frameworks.apps.fastapi_app:app",
    "starlette": "tests.frameworks.apps.starlette_app:app",
    "quart": "tests.frameworks.apps.quart_app:app",
    "django-asgi": "tests.frameworks.apps.django_app:application",
    "django-wsgi": "wsgi:tests.frameworks.apps.django_app:wsgi_application",
    "flask": "wsgi:tests.frameworks.apps.flask_app:app",
}
#: Quart itself runs on asyncio only; QuartTrio serves the same routes on trio.
TRIO_APPS = {**APPS, "quart": "tests.frameworks.apps.quart_app:trio_app"}
#: (framework, backend): Django's async side needs asyncio.
TARGETS = [
    (framework, backend)
    for framework in sorted(APPS)
    for backend in ("asyncio", "uvloop", "trio")
    if not (framework == "django-asgi" and backend == "trio")
]
#: The frameworks with WebSockets of their own (Django's chat is raw ASGI beside it;
#: WSGI has none).
WEBSOCKET_TARGETS = [
    target for target in TARGETS if target[0] not in ("django-asgi", "django-wsgi", "flask")
]
#: ASGI apps: server-sent events whose end the app notices.
ASGI_TARGETS = [target for target in TARGETS if target[0] not in ("django-wsgi", "flask")]
#: Background tasks and lifespan state (Django refuses the lifespan scope).
LIFESPAN_TARGETS = WEBSOCKET_TARGETS


def _ids(target: tuple[str, str]) -> str:
    return "-".join(target)


@pytest.fixture(scope="module", params=TARGETS, ids=_ids)
def h3_served(
    request: pytest.FixtureRequest, certs: Certs, state_dir: Path
) -> Iterator[tuple[str, Served]]:
    framework, backend = request.param
    application = (TRIO_APPS if backend == "trio" else APPS)[framework]
    directory = state_dir / "h3" / framework / backend
    with check.serving(application, backend, certs, directory, quic=True) as served:
        yield framework, served
        # Each server ends with a clean SIGTERM, and nothing the tests did left an error.
        assert served.server.stop() == 0, served.server.lines
        problems = [
            line
            for line in served.server.lines
            if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line
        ]
        assert problems == [], served.server.lines


@pytest.fixture
def session(h3_served: tuple[str, Served]) -> Iterator[requests.Session[Any]]:
    """A curl_cffi session speaking HTTP/3 only, trusting the test CA."""
    _, served = h3_served
    # curl_cffi takes a CA file path for ``verify`` (libcurl's CAINFO); its hints say bool.
    with requests.Session(
        base_url=f"https://127.0.0.1:{served.quic_port}",
        http_version=CurlHttpVersion.V3ONLY,
        verify=str(served.certs.ca_file),  # type: ignore[arg-type]
        timeout=60,
    ) as session:
        yield session


def test_json(h3_served: tuple[str, Served], session: requests.Session[Any]) -> None:
    framework, _ = h3_served
    info = session.get("/info", params={"q": "a b", "n": "1"})
    assert info.status_code == 200, info.text
    assert info.http_version == HTTP3
    assert info.headers["content-type"].startswith("application/json")
    assert info.json() == {
        "framework": framework,
        "http_version": "3",
        "scheme": "https",
        "query": {"q": "a b", "n": "1"},
    }
    sent = {"name": "Zoë", "items": [1, 2, 3], "nested": {"ok": True}}
    echoed = session.post("/json", json=sent)
    assert echoed.status_code == 200, echoed.text
    assert echoed.http_version == HTTP3
    assert echoed.json() == {"received": sent, "keys": ["items", "name", "nested"]}


def test_upload_10_mib(session: requests.Session[Any]) -> None:
    size = 10 * MIB
    data = payload(size, b"upload")
    form = CurlMime()
    form.addpart(name="note", data=b"ten mebibytes")
    form.addpart(
        name="file", filename="big.bin", content_type="application/octet-stream", data=data
    )
    try:
        response = session.post("/upload", multipart=form)
    finally:
        form.close()
    assert response.status_code == 200, response.text
    assert response.http_version == HTTP3
    assert response.json() == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": size,
        "filename": "big.bin",
        "note": "ten mebibytes",
    }


def test_streaming(session: requests.Session[Any], h3_served: tuple[str, Served]) -> None:
    """The first chunk arrives while the app still waits to be released (no buffering)."""
    _, served = h3_served
    token = uuid.uuid4().hex
    response = session.get(f"/stream/{token}", stream=True)
    try:
        assert response.status_code == 200
        assert response.http_version == HTTP3
        chunks = response.iter_content()
        received = b""
        while b"\n" not in received:
            received += next(chunks)
        assert received == b"first\n"
        # another HTTP/3 connection releases the gate
        with requests.Session(
            http_version=CurlHttpVersion.V3ONLY,
            verify=str(served.certs.ca_file),  # type: ignore[arg-type]
            timeout=30,
        ) as other:
            released = other.get(f"https://127.0.0.1:{served.quic_port}/release/{token}")
            assert released.status_code == 200
        rest = b"".join(chunks)
    finally:
        response.close()
    assert received + rest == b"first\nsecond\nchunk 0\nchunk 1\nchunk 2\n"


def test_form(session: requests.Session[Any]) -> None:
    response = session.post("/form", data={"name": "Zoë & co", "count": "3"})
    assert response.status_code == 200, response.text
    assert response.http_version == HTTP3
    assert response.json() == {"name": "Zoë & co", "count": "3"}


def test_file_response(session: requests.Session[Any], h3_served: tuple[str, Served]) -> None:
    _, served = h3_served
    expected = (served.state_dir / "download.bin").read_bytes()
    response = session.get("/file")
    assert response.status_code == 200
    assert response.http_version == HTTP3
    assert response.headers["content-length"] == str(len(expected))
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(expected).digest()


@pytest.mark.parametrize("h3_served", ASGI_TARGETS, ids=_ids, indirect=True, scope="module")
def test_sse_ended_by_the_client_is_noticed(
    session: requests.Session[Any], h3_served: tuple[str, Served]
) -> None:
    """Read a few events, cancel the stream (the QUIC connection stays), wait for the app."""
    _, served = h3_served
    token = uuid.uuid4().hex
    response = session.get(f"/events/{token}", stream=True)
    seen: list[str] = []
    try:
        assert response.status_code == 200
        assert response.http_version == HTTP3
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                seen.append(line.removeprefix(b"data: ").decode())
            if len(seen) == 3:
                break
    finally:
        response.close()
    assert seen == ["tick 0", "tick 1", "tick 2"]
    closed = check.wait_for_file(served.state_dir / f"sse-closed-{token}", timeout=20)
    assert closed == "client went away"


@pytest.mark.parametrize("h3_served", LIFESPAN_TARGETS, ids=_ids, indirect=True, scope="module")
def test_background_task_and_lifespan_state(
    session: requests.Session[Any], h3_served: tuple[str, Served]
) -> None:
    framework, _ = h3_served
    state = session.get("/lifespan").json()
    assert state["started"] == f"{framework} {state['pid']}"
    token = uuid.uuid4().hex
    assert session.get(f"/background/{token}").json() == {"queued": token}
    deadline = time.monotonic() + 10
    while session.get(f"/background-result/{token}").json()["state"] != "done":
        assert time.monotonic() < deadline, "the background task never finished"
        time.sleep(0.05)


@pytest.mark.parametrize("h3_served", WEBSOCKET_TARGETS, ids=_ids, indirect=True, scope="module")
def test_websocket_chat(h3_served: tuple[str, Served]) -> None:
    """Two WebSockets over HTTP/3 (two streams of one QUIC connection) in one room."""
    _, served = h3_served
    port = served.quic_port
    assert port is not None
    room = uuid.uuid4().hex

    async def main() -> None:
        async with (
            h3_connect(
                "127.0.0.1", port, str(served.certs.ca_file), server_name="localhost"
            ) as client,
            client.websocket(f"/chat/{room}?name=ann") as ann,
            client.websocket(f"/chat/{room}?name=bob") as bob,
        ):
            ann.send("hello")
            assert await ann.receive() == "ann: hello"
            assert await bob.receive() == "ann: hello"
            bob.send("hi ann")
            assert await ann.receive() == "bob: hi ann"
            assert await bob.receive() == "bob: hi ann"
            ann.close()
            bob.close()

    asyncio.run(asyncio.wait_for(main(), 60))
