"""Flask and Django's WSGI handler served by the real ``hypercorn`` command (``wsgi:`` prefix)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.frameworks import _support as check
from tests.frameworks._support import Certs, Served

APPS = {
    "flask": "wsgi:tests.frameworks.apps.flask_app:app",
    "django-wsgi": "wsgi:tests.frameworks.apps.django_app:wsgi_application",
}


@pytest.fixture(scope="module", params=sorted(APPS))
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def served(framework: str, backend: str, certs: Certs, state_dir: Path) -> Iterator[Served]:
    with check.serving(APPS[framework], backend, certs, state_dir / framework / backend) as running:
        yield running


@pytest.fixture
def client(served: Served, proto: str) -> Iterator[httpx.Client]:
    with served.client(proto) as client:
        yield client


@pytest.mark.all_backends
def test_json(client: httpx.Client, proto: str, framework: str) -> None:
    check.check_json(client, proto, framework)


def test_form(client: httpx.Client) -> None:
    check.check_form(client)


@pytest.mark.all_backends
def test_upload_10_mib(client: httpx.Client) -> None:
    check.check_upload(client)


@pytest.mark.all_backends
def test_streaming(client: httpx.Client, served: Served, proto: str) -> None:
    check.check_streaming(client, served, proto, uuid.uuid4().hex)


def test_file_response(client: httpx.Client, served: Served) -> None:
    check.check_file(client, served)
