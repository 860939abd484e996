"""Flask served by the real ``hypercorn`` command (``wsgi:`` prefix)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.frameworks import _support as check
from tests.frameworks._support import Certs, Served

APP = "wsgi:tests.frameworks.apps.flask_app:app"
FRAMEWORK = "flask"


@pytest.fixture(scope="module")
def served(backend: str, certs: Certs, state_dir: Path) -> Iterator[Served]:
    with check.serving(APP, backend, certs, state_dir / backend) as running:
        yield running


@pytest.fixture
def client(served: Served, proto: str) -> Iterator[httpx.Client]:
    with served.client(proto) as client:
        yield client


@pytest.mark.all_backends
def test_json(client: httpx.Client, proto: str) -> None:
    check.check_json(client, proto, FRAMEWORK)


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
