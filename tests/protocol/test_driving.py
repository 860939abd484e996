"""The drivers' shared dispatch (hypercorn_protocol.driving) on a fake I/O: no loop."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

import h11
import pytest

from hypercorn_protocol import DateCache
from hypercorn_protocol.driving import APP_ERROR, ConnectionDriver, StreamBase
from hypercorn_protocol.events import RequestCompleted, RequestRefused
from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend, Message
from tests.helpers.protocol import Settings

NOW = 1_000_000.0


class _Log:
    def __init__(self) -> None:
        self.exceptions: list[str] = []

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.exceptions.append(message)


@dataclass(frozen=True)
class _Settings(Settings):
    log: _Log = field(default_factory=_Log)


class _Suspend:
    """An awaitable that suspends the coroutine once (a stand-in for the event loop)."""

    def __await__(self) -> Generator[None, None, None]:
        yield


class _Cancelled(BaseException):
    """What a loop throws into a cancelled task."""


class _Stream(StreamBase):
    __slots__ = ("woken",)

    def __init__(self, driver: ConnectionDriver[Any], stream_id: int) -> None:
        StreamBase.__init__(self, driver, stream_id)
        self.woken = 0

    def push(self, message: Message) -> None:
        self.queue.append(message)

    def wake_writer(self) -> None:
        self.woken += 1

    async def send(self, message: Message) -> None:
        self._driver.app_send(self.stream_id, message, NOW)


class _IO:
    """Records what the driver asks of it; app tasks are coroutines run by the test."""

    def __init__(self, app: ASGIApp, *, alpn: str | None = None) -> None:
        self.app = app
        self.config = _Settings()
        self.lifespan_state: dict[str, Any] = {}
        self.dates = DateCache()
        self.calls: list[str] = []
        self.written: list[bytes] = []
        self.completed: list[RequestCompleted] = []
        self.refused: list[RequestRefused] = []
        self.tasks: list[Coroutine[Any, Any, None]] = []
        self.driver: ConnectionDriver[_Stream] = ConnectionDriver(
            self,
            self,
            secure=False,
            client=("1.2.3.4", 5),
            server=None,
            alpn=alpn,
            clock=lambda: NOW,
        )

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self, discard: bool = False, linger: bool = False) -> None:
        self.calls.append("abort" if discard else "close")

    def pause_reading(self) -> None:
        self.calls.append("pause_reading")

    def resume_reading(self) -> None:
        self.calls.append("resume_reading")

    def start_app(self, stream_id: int, scope: ASGIScope) -> _Stream:
        stream = _Stream(self.driver, stream_id)
        self.tasks.append(self.driver.run_app(stream_id, scope, stream.receive, stream.send))
        return stream

    def arm_timer(self, deadline: float) -> None:
        self.calls.append("arm_timer")

    def schedule_flush(self) -> None:
        self.calls.append("schedule_flush")

    def request_completed(self, event: RequestCompleted) -> None:
        self.completed.append(event)

    def request_refused(self, event: RequestRefused) -> None:
        self.refused.append(event)

    def feed(self, data: bytes) -> None:
        self.driver.conn.receive_data(data, NOW)
        self.driver.pump()


def _request(target: str = "/") -> bytes:
    client = h11.Connection(h11.CLIENT)
    return client.send(h11.Request(method="GET", target=target, headers=[("host", "x")])) or b""


async def hello(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def _run(task: Coroutine[Any, Any, None]) -> None:
    with pytest.raises(StopIteration):
        task.send(None)


def test_request_runs_the_app_writes_and_reports() -> None:
    io = _IO(hello)
    io.feed(_request())
    assert list(io.driver.streams) == [1] and len(io.tasks) == 1
    _run(io.tasks[0])
    assert b"".join(io.written).startswith(b"HTTP/1.1 200")
    assert b"".join(io.written).endswith(b"hi")
    assert [event.response.status for event in io.completed if event.response] == [200]
    assert io.driver.streams == {}  # the app finished: the stream is forgotten
    assert "arm_timer" in io.calls  # keep-alive


def test_an_app_exception_is_logged_and_answered_500() -> None:
    async def broken(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        raise RuntimeError("boom")

    io = _IO(broken)
    io.feed(_request())
    _run(io.tasks[0])
    assert io.config.log.exceptions == [APP_ERROR]
    assert b"".join(io.written).startswith(b"HTTP/1.1 500")
    assert io.driver.streams == {}


def test_a_cancelled_app_finishes_and_nothing_more_is_written() -> None:
    async def stuck(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await _Suspend()

    io = _IO(stuck)
    io.feed(_request())
    task = io.tasks[0]
    task.send(None)
    written = list(io.written)
    with pytest.raises(_Cancelled):
        task.throw(_Cancelled())
    assert io.driver.closing and io.calls.count("close") == 1
    assert io.written == written  # no 500, no cut response: the connection is aborted
    assert io.driver.streams == {}  # app_finished ran on the cancellation path too


def test_receive_serves_the_queue_then_the_driver_pumps() -> None:
    got: list[Message] = []

    async def reader(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        got.append(await receive())
        await hello(scope, receive, send)

    io = _IO(reader)
    io.feed(_request())
    _run(io.tasks[0])
    assert got == [{"type": "http.request", "body": b"", "more_body": False}]


def _chunked_upload(*chunks: bytes, end: bool = True) -> bytes:
    client = h11.Connection(h11.CLIENT)
    head = h11.Request(
        method="POST", target="/", headers=[("host", "x"), ("transfer-encoding", "chunked")]
    )
    data = client.send(head) or b""
    for chunk in chunks:
        data += client.send(h11.Data(data=chunk)) or b""
    if end:
        data += client.send(h11.EndOfMessage()) or b""
    return data


def test_body_messages_queued_together_are_received_as_one() -> None:
    got: list[Message] = []

    async def reader(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        got.append(await receive())
        await _Suspend()
        await hello(scope, receive, send)

    io = _IO(reader)
    io.feed(_chunked_upload(b"aaa", b"bbb", b"ccc"))  # all queued before the app runs
    queue = io.driver.streams[1].queue
    core_stream = io.driver.conn._protocol._streams[1]
    assert len(queue) >= 3  # one message per chunk, at least
    assert core_stream.unconsumed == len(queue)
    io.tasks[0].send(None)  # up to the _Suspend
    assert got == [{"type": "http.request", "body": b"aaabbbccc", "more_body": False}]
    assert not queue
    # every message joined counts as consumed (flow control, pause and resume)
    assert core_stream.unconsumed == 0
    _run(io.tasks[0])


def test_joining_stops_at_a_message_that_is_not_body() -> None:
    got: list[Message] = []

    async def reader(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        got.append(await receive())
        got.append(await receive())

    io = _IO(reader)
    io.feed(_chunked_upload(b"aaa", b"bbb", end=False))
    io.driver.lost(NOW)  # the client went away mid-body: http.disconnect is queued next
    _run(io.tasks[0])
    assert got == [
        {"type": "http.request", "body": b"aaabbb", "more_body": True},
        {"type": "http.disconnect"},
    ]


def test_http2_output_waits_for_one_flush_per_turn() -> None:
    io = _IO(hello, alpn="h2")
    assert io.driver.multiplexed
    io.driver.pump()
    io.driver.pump()
    assert io.calls.count("schedule_flush") == 1 and io.written == []
    assert io.driver.flush_pending
    io.driver.flush()
    assert len(io.written) == 1 and not io.driver.flush_pending  # the server's SETTINGS


def test_lost_disconnects_once_and_wakes_writers() -> None:
    async def waits(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        await _Suspend()

    io = _IO(waits)
    io.feed(_request())
    io.tasks[0].send(None)
    stream = io.driver.streams[1]
    io.driver.lost(NOW)
    io.driver.lost(NOW)
    assert io.driver.closing and stream.woken == 1
    assert [m["type"] for m in stream.queue] == ["http.request", "http.disconnect"]
    io.tasks[0].close()


def test_a_blocked_write_arms_the_timer_then_aborts_and_reports_the_refusal() -> None:
    io = _IO(hello)
    io.feed(_request())
    io.calls.clear()
    io.driver.write_blocked(NOW)
    assert io.calls == ["arm_timer"]
    timeout = io.config.response_write_timeout
    assert timeout is not None
    assert io.driver.conn.get_timer() == NOW + timeout
    io.written.clear()
    io.driver.timer_fired(NOW + timeout)
    assert io.calls[-1] == "abort"  # unsent bytes dropped, not flushed
    assert io.written == []
    assert [e.reason for e in io.refused] == ["response_write_timeout"]
    assert io.driver.closing
    io.tasks[0].close()  # the app never ran


def test_a_drained_write_stops_the_write_deadline() -> None:
    io = _IO(hello)
    io.feed(_request())
    io.driver.write_blocked(NOW)
    io.driver.write_unblocked()
    assert io.driver.conn.get_timer() is None
    io.driver.timer_fired(NOW + 1000)  # a late timer finds nothing due
    assert "abort" not in io.calls
    io.tasks[0].close()  # the app never ran
