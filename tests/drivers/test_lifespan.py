"""The lifespan runners of both drivers, driven directly with small ASGI apps."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

import trio
from hypercorn_asyncio._lifespan import Lifespan as AsyncioLifespan
from hypercorn_protocol.apps.lifespan import LifespanConfig
from hypercorn_protocol.errors import (
    LifespanFailureError,
    LifespanTimeoutError,
    UnexpectedMessageError,
)
from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend
from hypercorn_trio._lifespan import Lifespan as TrioLifespan


class Lifespan(Protocol):
    """What the tests use of a driver's runner (trio's gets its nursery bound)."""

    @property
    def supported(self) -> bool: ...

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


Make = Callable[[ASGIApp, LifespanConfig, dict[str, object]], Lifespan]


class _TrioRunner:
    def __init__(
        self, nursery: trio.Nursery, app: ASGIApp, config: LifespanConfig, state: dict[str, object]
    ) -> None:
        self._lifespan = TrioLifespan(app, config, state)
        self._nursery = nursery

    @property
    def supported(self) -> bool:
        return self._lifespan.supported

    async def startup(self) -> None:
        await self._lifespan.startup(self._nursery)

    async def shutdown(self) -> None:
        await self._lifespan.shutdown()


def _run_asyncio(main: Callable[[Make], Awaitable[Any]]) -> Any:
    async def call() -> Any:
        return await main(AsyncioLifespan)

    return asyncio.run(call())


def _run_trio(main: Callable[[Make], Awaitable[Any]]) -> Any:
    """``trio.run`` with a nursery for the lifespan task, as the worker provides one."""
    results: list[Any] = []

    async def in_nursery() -> None:
        async with trio.open_nursery() as nursery:
            results.append(await main(functools.partial(_TrioRunner, nursery)))

    trio.run(in_nursery)
    return results[0]


@dataclass(frozen=True)
class Backend:
    run: Callable[[Callable[[Make], Awaitable[Any]]], Any]
    sleep: Callable[[float], Awaitable[None]]
    cancelled: type[BaseException]


BACKENDS = {
    "asyncio": Backend(_run_asyncio, asyncio.sleep, asyncio.CancelledError),
    "trio": Backend(_run_trio, trio.sleep, trio.Cancelled),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


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
        self.scope: ASGIScope | None = None
        self.finished = False

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        self.scope = scope
        for stage, answer in (("startup", self.startup), ("shutdown", self.shutdown)):
            message = await receive()
            self.received.append(message["type"])
            await send({"type": f"lifespan.{stage}.{answer}", "message": f"{stage} broke"})
        self.finished = True


def test_startup_and_shutdown_complete(backend: Backend) -> None:
    app = RecordingApp()
    state: dict[str, object] = {}

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), state)
        await lifespan.startup()
        assert app.received == ["lifespan.startup"]
        await lifespan.shutdown()
        assert lifespan.supported

    backend.run(main)
    assert app.received == ["lifespan.startup", "lifespan.shutdown"]
    assert app.finished
    assert app.scope is not None
    assert app.scope["type"] == "lifespan"
    assert app.scope["asgi"] == {"spec_version": "2.0", "version": "3.0"}
    assert app.scope["state"] is state


def test_state_is_shared_with_the_server(backend: Backend) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await receive()
        scope["state"]["pool"] = "connected"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    state: dict[str, object] = {"preset": 1}

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), state)
        await lifespan.startup()
        assert state == {"preset": 1, "pool": "connected"}
        await lifespan.shutdown()

    backend.run(main)


def test_startup_failed_raises_with_the_apps_message(backend: Backend) -> None:
    app = RecordingApp(startup="failed")

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), {})
        with pytest.raises(LifespanFailureError) as info:
            await lifespan.startup()
        assert (info.value.stage, info.value.message) == ("startup", "startup broke")

    backend.run(main)
    assert not app.finished  # it was waiting for shutdown and got cancelled


def test_shutdown_failed_raises_with_the_apps_message(backend: Backend) -> None:
    app = RecordingApp(shutdown="failed")

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), {})
        await lifespan.startup()
        with pytest.raises(LifespanFailureError) as info:
            await lifespan.shutdown()
        assert (info.value.stage, info.value.message) == ("shutdown", "shutdown broke")

    backend.run(main)


def test_startup_timeout_cancels_the_app(backend: Backend) -> None:
    cancelled = False

    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        nonlocal cancelled
        await receive()
        try:
            await backend.sleep(30)
        except backend.cancelled:
            cancelled = True
            raise

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(startup_timeout=0.05), {})
        with pytest.raises(LifespanTimeoutError) as info:
            await lifespan.startup()
        assert info.value.stage == "startup"

    backend.run(main)
    assert cancelled


def test_shutdown_timeout(backend: Backend) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await backend.sleep(30)

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(shutdown_timeout=0.05), {})
        await lifespan.startup()
        with pytest.raises(LifespanTimeoutError) as info:
            await lifespan.shutdown()
        assert info.value.stage == "shutdown"

    backend.run(main)


def test_app_without_lifespan_support_keeps_serving(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        assert scope["type"] == "http", "only HTTP is supported"

    async def main(make: Make) -> Lifespan:
        lifespan = make(app, Timeouts(startup_timeout=5), {})
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan

    with caplog.at_level(logging.WARNING, logger="hypercorn.error"):
        lifespan = backend.run(main)
    assert not lifespan.supported
    [record] = [r for r in caplog.records if r.name == "hypercorn.error"]
    assert record.levelno == logging.WARNING
    assert "does not support lifespan" in record.getMessage()
    assert "only HTTP is supported" in record.getMessage()


def test_app_that_returns_is_done(backend: Backend) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        return

    async def main(make: Make) -> Lifespan:
        lifespan = make(app, Timeouts(startup_timeout=5, shutdown_timeout=5), {})
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan

    assert backend.run(main).supported


def test_error_after_startup_is_logged_with_traceback(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise RuntimeError("cleanup crashed")

    async def main(make: Make) -> Lifespan:
        lifespan = make(app, Timeouts(), {})
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan

    with caplog.at_level(logging.ERROR, logger="hypercorn.error"):
        lifespan = backend.run(main)
    assert lifespan.supported
    [record] = [r for r in caplog.records if r.name == "hypercorn.error"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_unknown_message_type_raises_in_send(backend: Backend) -> None:
    errors: list[Exception] = []

    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await receive()
        try:
            await send({"type": "lifespan.startup.done"})
        except UnexpectedMessageError as error:
            errors.append(error)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), {})
        await lifespan.startup()
        await lifespan.shutdown()

    backend.run(main)
    [error] = errors
    assert isinstance(error, UnexpectedMessageError)
    assert error.message_type == "lifespan.startup.done"


def test_unknown_message_type_escaping_the_app_fails_startup(backend: Backend) -> None:
    async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await receive()
        await send({"type": "lifespan.ready"})

    async def main(make: Make) -> None:
        lifespan = make(app, Timeouts(), {})
        with pytest.raises(UnexpectedMessageError):
            await lifespan.startup()

    backend.run(main)


def test_shutdown_without_startup_is_a_no_op(backend: Backend) -> None:
    app = RecordingApp()

    async def main(make: Make) -> None:
        await make(app, Timeouts(), {}).shutdown()

    backend.run(main)
    assert app.received == []


def test_config_protocol_accepts_any_object_with_the_timeouts(backend: Backend) -> None:
    class Settings:
        startup_timeout = 1
        shutdown_timeout = 1

    app = RecordingApp()

    async def main(make: Make) -> None:
        lifespan = make(app, Settings(), {})
        await lifespan.startup()
        await lifespan.shutdown()

    backend.run(main)
    assert app.finished
