"""Real frameworks behind the real command: one server per (framework, backend) per module.

Every test runs on asyncio, uvloop and trio unless it is marked ``backends(...)``
(Django's async side needs asyncio). Tests that take ``proto`` run over plain HTTP/1.1
and over HTTP/2 with TLS.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.frameworks._support import Certs, make_certs

_NEEDED = ("fastapi", "starlette", "django", "flask", "multipart", "selenium", "h2")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]

# Without the frameworks group (plain `hatch test`) these modules are not collected at
# all; the header of the run says so.
collect_ignore_glob = ["test_*.py"] if _MISSING else []


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _MISSING:
        return None
    return (
        f"tests/frameworks not collected: {', '.join(_MISSING)} not installed;"
        " run `hatch run frameworks:test`"
    )


ALL_BACKENDS = ["asyncio", "uvloop", "trio"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run on exactly these backends")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.definition.get_closest_marker("backends")
        backends = list(chosen.args) if chosen is not None else ALL_BACKENDS
        # module scope: every test of a module on one backend shares one server
        metafunc.parametrize("backend", backends, scope="module")
    if "proto" in metafunc.fixturenames:
        metafunc.parametrize("proto", ["h1", "h2"])


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the apps write what the tests check (one subdirectory per backend)."""
    return tmp_path_factory.mktemp("state")
