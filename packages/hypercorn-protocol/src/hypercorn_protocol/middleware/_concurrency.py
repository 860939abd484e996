"""The two concurrency primitives the dispatcher's lifespan fan-out needs.

Middleware is plain ASGI, so it runs inside whichever event loop the server runs; it
only needs (1) a queue and (2) a way to run calls in the background while a main call
runs. The core never imports an event loop: these backends look the library up in
``sys.modules``, where it necessarily is once its loop is running (as ``sniffio`` does).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

Call = Callable[[], Awaitable[None]]


class Queue(Protocol):
    """A FIFO whose ``put`` waits while it is full and ``get`` while it is empty."""

    async def put(self, item: Any) -> None: ...

    async def get(self) -> Any: ...


class Backend(Protocol):
    """What :class:`~hypercorn_protocol.middleware.DispatcherMiddleware` needs of a loop."""

    def queue(self, maxsize: float) -> Queue:
        """A new queue holding at most ``maxsize`` items (``math.inf``: unbounded)."""
        ...

    async def run_alongside(self, main: Call, background: Sequence[Call]) -> None:
        """Run ``background`` concurrently with ``main``; cancel them once ``main`` ends.

        The ``background`` calls must not raise; an error from ``main`` propagates as is.
        """
        ...


def _running_module(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is None:
        raise RuntimeError(f"{name} is not running")
    return module


class _AsyncioQueue:
    def __init__(self, asyncio: Any, maxsize: float) -> None:
        self._queue = asyncio.Queue(0 if math.isinf(maxsize) else int(maxsize))

    async def put(self, item: Any) -> None:
        await self._queue.put(item)

    async def get(self) -> Any:
        return await self._queue.get()


class AsyncioBackend:
    """Tasks and ``asyncio.Queue`` (also right for uvloop)."""

    def queue(self, maxsize: float) -> Queue:
        return _AsyncioQueue(_running_module("asyncio"), maxsize)

    async def run_alongside(self, main: Call, background: Sequence[Call]) -> None:
        asyncio = _running_module("asyncio")
        tasks = [asyncio.ensure_future(call()) for call in background]
        try:
            await main()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


class _TrioQueue:
    def __init__(self, trio: Any, maxsize: float) -> None:
        self._send, self._receive = trio.open_memory_channel(maxsize)

    async def put(self, item: Any) -> None:
        await self._send.send(item)

    async def get(self) -> Any:
        return await self._receive.receive()


class TrioBackend:
    """A nursery and memory channels."""

    def queue(self, maxsize: float) -> Queue:
        return _TrioQueue(_running_module("trio"), maxsize)

    async def run_alongside(self, main: Call, background: Sequence[Call]) -> None:
        trio = _running_module("trio")
        error: Exception | None = None
        async with trio.open_nursery() as nursery:
            for call in background:
                nursery.start_soon(call)
            try:
                await main()
            except Exception as exc:
                # Re-raised below as itself, not inside the nursery's exception group.
                error = exc
            nursery.cancel_scope.cancel()
        if error is not None:
            raise error


def current_backend() -> Backend:
    """The backend of the event loop running the caller.

    Raises:
        RuntimeError: Neither a trio nor an asyncio loop is running.
    """
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            return TrioBackend()
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return AsyncioBackend()
    raise RuntimeError("no running asyncio or trio event loop")
