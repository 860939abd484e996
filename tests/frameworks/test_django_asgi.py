"""Django's ASGI handler (with a raw-ASGI WebSocket chat beside it) served by the real
``hypercorn`` command. Django's async side needs asyncio, so trio is not among its
backends: every test runs on asyncio and uvloop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.frameworks import _support as check
from tests.frameworks._support import Certs, Served

APP = "tests.frameworks.apps.django_app:application"
FRAMEWORK = "django-asgi"
pytestmark = pytest.mark.backends("asyncio", "uvloop")


@pytest.fixture(scope="module")
def served(backend: str, certs: Certs, state_dir: Path) -> Iterator[Served]:
    with check.serving(APP, backend, certs, state_dir / backend) as running:
        yield running


@pytest.fixture
def client(served: Served, proto: str) -> Iterator[httpx.Client]:
    with served.client(proto) as client:
        yield client


def test_json(client: httpx.Client, proto: str) -> None:
    check.check_json(client, proto, FRAMEWORK)


def test_form(client: httpx.Client) -> None:
    check.check_form(client)


def test_upload_10_mib(client: httpx.Client) -> None:
    check.check_upload(client)


def test_streaming(client: httpx.Client, served: Served, proto: str) -> None:
    check.check_streaming(client, served, proto, uuid.uuid4().hex)


def test_file_response(client: httpx.Client, served: Served) -> None:
    check.check_file(client, served)


def test_sse_disconnect_is_noticed(client: httpx.Client, served: Served) -> None:
    check.check_sse_disconnect(client, served, uuid.uuid4().hex)


def test_websocket_chat(served: Served) -> None:
    check.check_chat(served, uuid.uuid4().hex)


def test_websocket_chat_tls(served: Served) -> None:
    check.check_chat_tls(served, uuid.uuid4().hex)


def test_websocket_chat_over_http2(served: Served) -> None:
    check.check_chat_h2(served, uuid.uuid4().hex)


def test_lifespan_refused_is_not_fatal(served: Served, client: httpx.Client) -> None:
    # Django raises on the lifespan scope; the server says so once and serves on
    warnings = [line for line in served.server.lines if "does not support lifespan" in line]
    assert len(warnings) == 1, served.server.lines
    assert "Django can only handle ASGI/HTTP connections" in warnings[0]
    assert client.get("/info").status_code == 200
