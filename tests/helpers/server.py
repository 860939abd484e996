"""Run a real server in a background thread, on every backend.

``loop_name`` is ``"asyncio"``, ``"uvloop"`` (both ``hypercorn_asyncio.serve``) or
``"trio"`` (``hypercorn_trio.serve`` started with ``nursery.start``).
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypercorn_protocol.config import Config


class RunningServer:
    def __init__(
        self, binds: list[str], stop: Callable[[], None], thread: threading.Thread
    ) -> None:
        self.binds = binds
        self.stop = stop
        self.thread = thread
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.binds[0]

    @property
    def port(self) -> int:
        return int(self.binds[0].rsplit(":", 1)[1])


@contextmanager
def run_server(
    app: Any, config: Config, loop: str, *, mode: str | None = None
) -> Iterator[RunningServer]:
    """Serve ``app`` on the ``loop`` backend in a thread; stop it on exit."""
    if loop == "trio":
        with _run_trio_server(app, config, mode=mode) as server:
            yield server
        return
    from hypercorn_asyncio import serve

    bound: list[str] = []
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def target() -> None:
        new_loop: asyncio.AbstractEventLoop
        if loop == "uvloop":
            import uvloop

            new_loop = uvloop.new_event_loop()
        else:
            new_loop = asyncio.new_event_loop()
        stop_event = asyncio.Event()
        holder["loop"] = new_loop
        holder["stop"] = stop_event

        def on_bound(binds: list[str]) -> None:
            bound.extend(binds)
            ready.set()

        try:
            new_loop.run_until_complete(
                serve(
                    app,
                    config,
                    shutdown_trigger=stop_event.wait,
                    mode=mode,  # type: ignore[arg-type]
                    on_bound=on_bound,
                )
            )
        except BaseException as error:
            holder["error"] = error
        finally:
            ready.set()
            new_loop.close()

    def request_stop() -> None:
        loop_ = holder.get("loop")
        if loop_ is not None and not loop_.is_closed():
            try:
                loop_.call_soon_threadsafe(holder["stop"].set)
            except RuntimeError:
                pass

    with _in_thread(target, request_stop, bound, ready, holder) as server:
        yield server


@contextmanager
def _run_trio_server(app: Any, config: Config, *, mode: str | None) -> Iterator[RunningServer]:
    """Serve ``app`` with ``hypercorn_trio.serve`` in ``trio.run`` in a thread."""
    import trio
    from hypercorn_trio import serve

    bound: list[str] = []
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        stop_event = trio.Event()
        holder["token"] = trio.lowlevel.current_trio_token()
        holder["stop"] = stop_event
        async with trio.open_nursery() as nursery:
            try:
                binds = await nursery.start(
                    functools.partial(
                        serve,
                        app,
                        config,
                        shutdown_trigger=stop_event.wait,
                        mode=mode,  # type: ignore[arg-type]
                    )
                )
            except Exception as error:
                # Raised as itself by nursery.start; kept out of this nursery's group.
                holder["error"] = error
                return
            bound.extend(binds)
            ready.set()

    def target() -> None:
        try:
            trio.run(main)
        except BaseException as error:
            holder["error"] = error
        finally:
            ready.set()

    def request_stop() -> None:
        token = holder.get("token")
        if token is not None:
            try:
                trio.from_thread.run_sync(holder["stop"].set, trio_token=token)
            except trio.RunFinishedError:
                pass

    with _in_thread(target, request_stop, bound, ready, holder) as server:
        yield server


@contextmanager
def _in_thread(
    target: Callable[[], None],
    request_stop: Callable[[], None],
    bound: list[str],
    ready: threading.Event,
    holder: dict[str, Any],
) -> Iterator[RunningServer]:
    """Run ``target`` (a server's event loop) in a thread until the ``with`` ends.

    ``target`` sets ``ready`` once bound (or failed, leaving the error in ``holder``);
    ``request_stop`` asks its loop, from this thread, to shut the server down.
    """
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        request_stop()
        thread.join(30)

    server = RunningServer(bound, stop, thread)
    if "error" in holder:
        server.error = holder["error"]
        raise holder["error"]
    try:
        yield server
    finally:
        stop()
        server.error = holder.get("error")


def quic_port(config: Config) -> int:
    """The UDP port of the first ``quic_bind`` socket of a running server's ``config``."""
    alt_svc = config.quic_alt_svc[0]  # h3=":PORT"; ma=3600
    return int(alt_svc.split('":', 1)[1].split('"', 1)[0])


def make_config(**values: Any) -> Config:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.errorlog = None
    for key, value in values.items():
        setattr(config, key, value)
    return config


async def sleep(seconds: float) -> None:
    """Sleep on whichever backend runs the calling app, so one app serves every backend."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass  # not inside trio.run
        else:
            await trio.sleep(seconds)
            return
    await asyncio.sleep(seconds)
