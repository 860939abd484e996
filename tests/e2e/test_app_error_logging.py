"""An app's exception goes through the configured logger (``config.log``), on every backend.

A custom ``logger_class`` (and the StatsD logger's ``hypercorn.log.exception`` counter)
must see it; Hypercorn-style loggers override the async ``exception`` method.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, ClassVar

import httpx

from hypercorn_protocol.server.logging import Logger
from hypercorn_protocol.typing import ASGIScope
from tests.helpers.server import make_config, run_server


class RecordingLogger(Logger):
    exceptions: ClassVar[list[tuple[str, BaseException | None]]] = []

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.exceptions.append((message % args if args else message, sys.exc_info()[1]))
        await super().exception(message, *args, **kwargs)


async def failing_app(scope: ASGIScope, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        raise RuntimeError("the app broke")


def test_app_exception_reaches_a_custom_logger_class(loop_name: str) -> None:
    RecordingLogger.exceptions.clear()
    config = make_config(logger_class=RecordingLogger)
    with run_server(failing_app, config, loop_name) as server:
        response = httpx.get(server.url + "/", timeout=5)
    assert response.status_code == 500
    [(message, error)] = RecordingLogger.exceptions
    assert message == "Error in ASGI Framework"
    assert isinstance(error, RuntimeError)
    assert str(error) == "the app broke"


def test_app_exception_counted_by_statsd(loop_name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        config = make_config(statsd_host=f"127.0.0.1:{listener.getsockname()[1]}")
        with run_server(failing_app, config, loop_name) as server:
            assert httpx.get(server.url + "/", timeout=5).status_code == 500
            datagram = b""
            while not datagram.startswith(b"hypercorn.log.exception:1|c"):
                datagram = listener.recv(2048)  # times out if it never comes
