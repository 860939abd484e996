"""FastAPI, Starlette, Quart, Flask and Django's WSGI handler served by the real
``hypercorn`` command (the WSGI apps through the ``wsgi:`` prefix), on asyncio, uvloop
and trio (Quart as ``quart_trio.QuartTrio`` there). Tests that need ASGI (background
tasks, server-sent events, lifespan, WebSocket) run on the ASGI frameworks only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.frameworks import _support as check
from tests.frameworks._support import Certs, Served

ASGI_APPS = {
    "fastapi": "tests.frameworks.apps.fastapi_app:app",
    "starlette": "tests.frameworks.apps.starlette_app:app",
    "quart": "tests.frameworks.apps.quart_app:app",
}
#: Quart itself runs on asyncio only: on trio the same routes come from QuartTrio.
TRIO_APPS = {"quart": "tests.frameworks.apps.quart_app:trio_app"}
APPS = {
    **ASGI_APPS,
    "flask": "wsgi:tests.frameworks.apps.flask_app:app",
    "django-wsgi": "wsgi:tests.frameworks.apps.django_app:wsgi_application",
}
#: Narrows a test to the ASGI frameworks (WSGI has no lifespan, WebSocket or SSE end).
asgi_only = pytest.mark.parametrize("framework", sorted(ASGI_APPS), indirect=True, scope="module")


@pytest.fixture(scope="module", params=sorted(APPS))
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def served(framework: str, backend: str, certs: Certs, state_dir: Path) -> Iterator[Served]:
    with check.serving(
        application(framework, backend), backend, certs, state_dir / framework / backend
    ) as running:
        yield running


def application(framework: str, backend: str) -> str:
    if backend == "trio":
        return TRIO_APPS.get(framework, APPS[framework])
    return APPS[framework]


@pytest.fixture
def client(served: Served, proto: str) -> Iterator[httpx.Client]:
    with served.client(proto) as client:
        yield client


def test_json(client: httpx.Client, proto: str, framework: str) -> None:
    check.check_json(client, proto, framework)


def test_form(client: httpx.Client) -> None:
    check.check_form(client)


def test_upload_10_mib(client: httpx.Client) -> None:
    check.check_upload(client)


def test_streaming(client: httpx.Client, served: Served, proto: str) -> None:
    check.check_streaming(client, served, proto, uuid.uuid4().hex)


# Starlette and FastAPI send it with http.response.pathsend
def test_file_response(client: httpx.Client, served: Served) -> None:
    check.check_file(client, served)


@asgi_only
def test_background_task(client: httpx.Client) -> None:
    check.check_background(client, uuid.uuid4().hex)


@asgi_only
def test_sse_disconnect_is_noticed(client: httpx.Client, served: Served) -> None:
    check.check_sse_disconnect(client, served, uuid.uuid4().hex)


@asgi_only
def test_lifespan_startup_state(client: httpx.Client, framework: str) -> None:
    check.check_lifespan_state(client, framework)


@asgi_only
def test_websocket_chat(served: Served) -> None:
    check.check_chat(served, uuid.uuid4().hex)


@asgi_only
def test_websocket_chat_tls(served: Served) -> None:
    check.check_chat_tls(served, uuid.uuid4().hex)


@asgi_only
def test_websocket_chat_over_http2(served: Served) -> None:
    check.check_chat_h2(served, uuid.uuid4().hex)


@asgi_only
def test_lifespan_shutdown_on_sigterm(
    backend: str, certs: Certs, tmp_path: Path, framework: str
) -> None:
    # its own server: the test stops it
    with check.serving(application(framework, backend), backend, certs, tmp_path) as running:
        with running.client("h1") as client:
            pid = check.check_lifespan_state(client, framework)
        check.check_shutdown_file(running, pid, framework)
