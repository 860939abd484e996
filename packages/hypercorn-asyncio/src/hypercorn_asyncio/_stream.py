"""The app side of one stream on asyncio, shared by the TCP and the QUIC connections.

A future per pending ``receive()`` (served in order, a message handed to a receive that
was just cancelled goes to the next one), the app's task, and the future a ``send``
waits on for window. Each transport adds only how its ``send`` writes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from hypercorn_protocol.driving import DriverBase, StreamBase
from hypercorn_protocol.typing import Message


class AsyncioStream(StreamBase):
    """One stream's app side: a future per pending ``receive()``, the app's task."""

    __slots__ = ("_loop", "task", "waiters", "writable")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, driver: DriverBase[Any, Any], stream_id: int
    ) -> None:
        StreamBase.__init__(self, driver, stream_id)  # not super(): one call less
        self._loop = loop
        self.waiters: deque[asyncio.Future[Message]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.writable: asyncio.Future[None] | None = None

    def push(self, message: Message) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled receive() leaves a cancelled future
                waiter.set_result(message)
                return
        self.queue.append(message)

    async def _wait(self) -> Message:
        waiter: asyncio.Future[Message] = self._loop.create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed over just as the caller was cancelled: the next one gets it.
                self._give_back(waiter.result())
            elif waiter in self.waiters:
                self.waiters.remove(waiter)
            raise

    def _give_back(self, message: Message) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(message)
                return
        self.queue.appendleft(message)

    async def _window(self) -> None:
        self.writable = writable = self._loop.create_future()
        try:
            await writable
        finally:
            self.writable = None

    def wake_writer(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
