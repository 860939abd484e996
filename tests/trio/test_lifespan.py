"""The trio lifespan runner, driven directly with small ASGI apps (mirrors tests/asyncio)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest

import trio
from hypercorn_protocol.errors import (
    LifespanFailureError,
    LifespanTimeoutError,
    UnexpectedMessageError,
)
from hypercorn_protocol.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from hypercorn_trio._lifespan import Lifespan

T = TypeVar("T")


def run(main: Callable[[trio.Nursery], Awaitable[T]]) -> T:
    """``trio.run`` with a nursery for the lifespan task, as the worker provides one."""
    results: list[T] = []

    async def in_nursery() -> None:
        async with trio.open_nursery() as nursery:
            results.append(await main(nursery))

    trio.run(in_nursery)
    return results[0]


@dataclass
class Timeouts:
    startup_timeout: float = 5.0
    shutdown_timeout: float = 5.0


class RecordingApp:
    """A lifespan app answering each stage with a configurable message type."""

    def __init__(self, startup: str = "complete", shutdown: str = "complete") -> None:
        self.startup = startup
        self.shutdown = shutdown
        self.received: list[str] = []
        self.scope: Scope | None = None
        self.finished = False

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        self.scope = scope
        for stage, answer in (("startup", self.startup), ("shutdown", self.shutdown)):
            message = await receive()
            self.received.append(message["type"])
            await send({"type": f"lifespan.{stage}.{answer}", "message": f"{stage} broke"})
        self.finished = True


def test_startup_and_shutdown_complete() -> None:
    app = RecordingApp()
    state: dict[str, object] = {}

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), state)
        await lifespan.startup(nursery)
        assert app.received == ["lifespan.startup"]
        await lifespan.shutdown()
        assert lifespan.supported

    run(main)
    assert app.received == ["lifespan.startup", "lifespan.shutdown"]
    assert app.finished
    assert app.scope is not None
    assert app.scope["type"] == "lifespan"
    assert app.scope["asgi"] == {"spec_version": "2.0", "version": "3.0"}
    assert app.scope["state"] is state


def test_state_is_shared_with_the_server() -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await receive()
        scope["state"]["pool"] = "connected"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    state: dict[str, object] = {"preset": 1}

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), state)
        await lifespan.startup(nursery)
        assert state == {"preset": 1, "pool": "connected"}
        await lifespan.shutdown()

    run(main)


def test_startup_failed_raises_with_the_apps_message() -> None:
    app = RecordingApp(startup="failed")

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), {})
        with pytest.raises(LifespanFailureError) as info:
            await lifespan.startup(nursery)
        assert (info.value.stage, info.value.message) == ("startup", "startup broke")

    run(main)
    assert not app.finished  # it was waiting for shutdown and got cancelled


def test_shutdown_failed_raises_with_the_apps_message() -> None:
    app = RecordingApp(shutdown="failed")

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), {})
        await lifespan.startup(nursery)
        with pytest.raises(LifespanFailureError) as info:
            await lifespan.shutdown()
        assert (info.value.stage, info.value.message) == ("shutdown", "shutdown broke")

    run(main)


def test_startup_timeout_cancels_the_app() -> None:
    cancelled = False

    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        nonlocal cancelled
        await receive()
        try:
            await trio.sleep(30)
        except trio.Cancelled:
            cancelled = True
            raise

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(startup_timeout=0.05), {})
        with pytest.raises(LifespanTimeoutError) as info:
            await lifespan.startup(nursery)
        assert info.value.stage == "startup"

    run(main)
    assert cancelled


def test_shutdown_timeout() -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await trio.sleep(30)

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(shutdown_timeout=0.05), {})
        await lifespan.startup(nursery)
        with pytest.raises(LifespanTimeoutError) as info:
            await lifespan.shutdown()
        assert info.value.stage == "shutdown"

    run(main)


def test_app_without_lifespan_support_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        assert scope["type"] == "http", "only HTTP is supported"

    async def main(nursery: trio.Nursery) -> Lifespan:
        lifespan = Lifespan(app, Timeouts(startup_timeout=5), {})
        await lifespan.startup(nursery)
        await lifespan.shutdown()
        return lifespan

    with caplog.at_level(logging.WARNING, logger="hypercorn.error"):
        lifespan = run(main)
    assert not lifespan.supported
    [record] = [r for r in caplog.records if r.name == "hypercorn.error"]
    assert record.levelno == logging.WARNING
    assert "does not support lifespan" in record.getMessage()
    assert "only HTTP is supported" in record.getMessage()


def test_app_that_returns_is_done() -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        return

    async def main(nursery: trio.Nursery) -> Lifespan:
        lifespan = Lifespan(app, Timeouts(startup_timeout=5, shutdown_timeout=5), {})
        with trio.fail_after(1):
            await lifespan.startup(nursery)
        with trio.fail_after(1):
            await lifespan.shutdown()
        return lifespan

    assert run(main).supported


def test_error_after_startup_is_logged_with_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise RuntimeError("cleanup crashed")

    async def main(nursery: trio.Nursery) -> Lifespan:
        lifespan = Lifespan(app, Timeouts(), {})
        await lifespan.startup(nursery)
        await lifespan.shutdown()
        return lifespan

    with caplog.at_level(logging.ERROR, logger="hypercorn.error"):
        lifespan = run(main)
    assert lifespan.supported
    [record] = [r for r in caplog.records if r.name == "hypercorn.error"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_unknown_message_type_raises_in_send() -> None:
    errors: list[Exception] = []

    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await receive()
        try:
            await send({"type": "lifespan.startup.done"})
        except UnexpectedMessageError as error:
            errors.append(error)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), {})
        await lifespan.startup(nursery)
        await lifespan.shutdown()

    run(main)
    [error] = errors
    assert isinstance(error, UnexpectedMessageError)
    assert error.message_type == "lifespan.startup.done"


def test_unknown_message_type_escaping_the_app_fails_startup() -> None:
    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await receive()
        await send({"type": "lifespan.ready"})

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Timeouts(), {})
        with pytest.raises(UnexpectedMessageError):
            await lifespan.startup(nursery)

    run(main)


def test_shutdown_without_startup_is_a_no_op() -> None:
    app = RecordingApp()

    async def main(nursery: trio.Nursery) -> None:
        await Lifespan(app, Timeouts(), {}).shutdown()

    run(main)
    assert app.received == []


def test_config_protocol_accepts_any_object_with_the_timeouts() -> None:
    class Settings:
        startup_timeout = 1
        shutdown_timeout = 1

    app = RecordingApp()

    async def main(nursery: trio.Nursery) -> None:
        lifespan = Lifespan(app, Settings(), {})
        await lifespan.startup(nursery)
        await lifespan.shutdown()

    run(main)
    assert app.finished
