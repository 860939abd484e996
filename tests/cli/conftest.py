"""Fixtures for the ``hypercorn`` command tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli._support import (
    ASGI_APP,
    BROKEN_IMPORT_APP,
    FAILING_STARTUP_APP,
    PID_APP,
    WSGI_APP,
    Server,
    StartServer,
    hypercorn_command,
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A working directory holding small apps (``app``, ``wsgiapp``, ...)."""
    (tmp_path / "app.py").write_text(ASGI_APP)
    (tmp_path / "wsgiapp.py").write_text(WSGI_APP)
    (tmp_path / "failing.py").write_text(FAILING_STARTUP_APP)
    (tmp_path / "broken.py").write_text(BROKEN_IMPORT_APP)
    (tmp_path / "pidapp.py").write_text(PID_APP)
    return tmp_path


@pytest.fixture
def start_server(app_dir: Path) -> Iterator[StartServer]:
    """Start ``hypercorn ARGS`` in ``app_dir``; killed at teardown if still running."""
    servers: list[Server] = []

    def start(
        *args: str,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> Server:
        server = Server([*(command or hypercorn_command()), *args], app_dir, env, pass_fds)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
