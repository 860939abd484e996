"""The app side of one stream on trio, shared by the TCP and the QUIC connections.

The tasks waiting in ``receive()`` (woken in order, each handed its message, so a woken
task cannot be cancelled before it has it) and the task a ``send`` parks while it waits
for window. Each transport adds only how its ``send`` writes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio
from hypercorn_protocol.driving import DriverBase, StreamBase
from hypercorn_protocol.typing import Message


def abort_wait(_: Any) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.SUCCEEDED


class Waiter:
    """A task waiting in ``receive()``, and the message handed to it."""

    __slots__ = ("message", "task")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.message: Message | None = None


class TrioStream(StreamBase):
    """One stream's app side: the tasks waiting in ``receive()``, handed a message each."""

    __slots__ = ("waiters", "writable")

    def __init__(self, driver: DriverBase[Any, Any], stream_id: int) -> None:
        StreamBase.__init__(self, driver, stream_id)  # not super(): one call less
        self.waiters: deque[Waiter] = deque()
        self.writable: trio.lowlevel.Task | None = None

    def push(self, message: Message) -> None:
        if self.waiters:
            waiter = self.waiters.popleft()
            waiter.message = message
            trio.lowlevel.reschedule(waiter.task)
        else:
            self.queue.append(message)

    async def _wait(self) -> Message:
        waiter = Waiter(trio.lowlevel.current_task())
        waiters = self.waiters
        waiters.append(waiter)

        def abort(_: Any) -> trio.lowlevel.Abort:
            waiters.remove(waiter)
            return trio.lowlevel.Abort.SUCCEEDED

        # Once woken with a message, the task cannot be cancelled before it has it.
        await trio.lowlevel.wait_task_rescheduled(abort)
        assert waiter.message is not None
        return waiter.message

    async def _window(self) -> None:
        self.writable = trio.lowlevel.current_task()
        try:
            await trio.lowlevel.wait_task_rescheduled(abort_wait)
        finally:
            self.writable = None

    def wake_writer(self) -> None:
        writable = self.writable
        if writable is not None:
            self.writable = None
            trio.lowlevel.reschedule(writable)
