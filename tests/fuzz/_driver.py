"""A driver for fuzzing the sans-IO core through its public API only.

It does what a real driver does with a :class:`~hypercorn_protocol.ServerConnection`:
feeds bytes (holding them back while reading is paused), drains events, flushes
``data_to_send()``, fires timers, and runs a trivial app per stream that answers
every request (and accepts or refuses WebSockets). While doing so it records what
the invariants need: everything written, what was written after ``CloseConnection``,
and how many times each stream completed.

Imports: only ``hypercorn_protocol`` public names (the private modules are moving).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hypercorn_protocol import ServerConnection, events as ev
from hypercorn_protocol.config import Config
from hypercorn_protocol.errors import WebSocketClosedError
from hypercorn_protocol.typing import Message

NOW = 1_000_000.0


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (out-of-range and repeated cuts ignored)."""
    bounds = [0, *sorted({cut for cut in cuts if 0 < cut < len(data)}), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@dataclass
class Violation:
    """An invariant the core broke, with what is needed to report it."""

    what: str
    detail: str = ""


@dataclass
class AppPolicy:
    """What the trivial app does for each stream."""

    accept_websockets: bool = False
    echo_websocket: bool = True
    read_body_first: bool = True  # call app_receive_waiting before answering (100-continue)


@dataclass
class StreamRecord:
    scope: dict[str, Any]
    messages: list[Message] = field(default_factory=list)
    answered: bool = False
    finished: bool = False
    disconnected: bool = False
    consumed: int = 0  # messages the app took from its queue
    handled: int = 0  # messages the WebSocket app acted on


class FuzzDriver:
    def __init__(
        self,
        *,
        alpn: str | None = None,
        config: Config | None = None,
        policy: AppPolicy | None = None,
    ) -> None:
        self.now = NOW
        self.config = config or Config()
        self.policy = policy or AppPolicy()
        self.conn = ServerConnection(
            self.config,
            client=("127.0.0.1", 5000),
            server=("127.0.0.1", 8000),
            scheme="https" if alpn else "http",
            now=self.now,
            alpn=alpn,
        )
        self.output = bytearray()
        self.fed = 0
        self.backlog = bytearray()
        self.paused = False
        self.close_seen = False
        self.close_events: list[ev.CloseConnection] = []
        self.after_close = bytearray()
        self.streams: dict[int, StreamRecord] = {}
        self.order: list[int] = []  # stream ids in StartApp order
        self.pending: deque[int] = deque()
        self.completed: dict[int, int] = {}
        self.eof_fed = False
        self.eof_delivered = False
        self.lazy = False  # True: apps answer only when run_apps() is called

    # -- the peer side ------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the peer, as a driver would pass them on (b"" is not EOF here)."""
        if self.close_seen or not data:
            return  # the driver closed the socket: nothing more is read
        if self.paused:
            self.backlog += data
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        self.fed += len(data)
        self.conn.receive_data(data, self.now)
        self.pump()

    def eof(self) -> None:
        """The peer closed its side (seen only once reading is not paused)."""
        self.eof_fed = True
        self.pump()

    def tick(self, seconds: float) -> None:
        """Let time pass and fire the connection's timer if it is due."""
        self.now += seconds
        deadline = self.conn.get_timer()
        if deadline is not None and deadline <= self.now and not self.close_seen:
            self.conn.handle_timer(self.now)
            self.pump()

    # -- the driver loop ---------------------------------------------------------------

    def pump(self) -> None:
        for _ in range(1_000):
            progressed = self._drain()
            if not self.lazy:
                progressed = self.run_apps(pump=False) or progressed
            if not self.paused and self.backlog and not self.close_seen:
                data, self.backlog = bytes(self.backlog), bytearray()
                self.fed += len(data)
                self.conn.receive_data(data, self.now)
                progressed = True
            elif self.eof_fed and not self.eof_delivered and not self.paused:
                self.eof_delivered = True
                if not self.close_seen:
                    self.conn.receive_data(b"", self.now)
                    progressed = True
            if not progressed:
                return
        raise AssertionError("the core never went quiet")

    def _drain(self) -> bool:
        got_any = False
        closing = False
        while (event := self.conn.next_event()) is not None:
            got_any = True
            if isinstance(event, ev.StartApp):
                self.streams[event.stream_id] = StreamRecord(dict(event.scope))
                self.order.append(event.stream_id)
                self.pending.append(event.stream_id)
            elif isinstance(event, ev.AppMessage):
                record = self.streams.get(event.stream_id)
                assert record is not None, f"message for a stream never started: {event}"
                record.messages.append(event.message)
            elif isinstance(event, ev.PauseReading):
                self.paused = True
            elif isinstance(event, ev.ResumeReading):
                self.paused = False
            elif isinstance(event, ev.RequestCompleted):
                self.completed[event.stream_id] = self.completed.get(event.stream_id, 0) + 1
            elif isinstance(event, ev.CloseConnection):
                closing = True
                self.close_events.append(event)
        data = self.conn.data_to_send()
        if self.close_seen:
            self.after_close += data
        else:
            self.output += data
        if closing:
            self.close_seen = True  # that flush was the last one allowed
        # The app side consumes what it was given (a real app reads its queue).
        for stream_id, record in self.streams.items():
            for message in record.messages[record.consumed :]:
                self.conn.app_consumed(stream_id)
                if message["type"] in ("http.disconnect", "websocket.disconnect"):
                    record.disconnected = True
            record.consumed = len(record.messages)
        data = self.conn.data_to_send()
        (self.after_close if self.close_seen else self.output).extend(data)
        return got_any or bool(data)

    # -- the app side ------------------------------------------------------------------

    def _send(self, stream_id: int, message: Message) -> bool:
        try:
            self.conn.app_send(stream_id, message, self.now)
        except WebSocketClosedError:
            return False  # the declared answer to sending on a closed WebSocket
        return True

    def run_apps(self, *, pump: bool = True) -> bool:
        """Run every app one step: answer new streams, echo, finish on disconnect."""
        progressed = False
        while self.pending:
            stream_id = self.pending.popleft()
            record = self.streams[stream_id]
            self._answer(stream_id, record)
            progressed = True
        for stream_id, record in self.streams.items():
            if record.scope["type"] == "websocket" and not record.finished:
                progressed = self._websocket_step(stream_id, record) or progressed
        if progressed and pump:
            self.pump()
        return progressed

    def _answer(self, stream_id: int, record: StreamRecord) -> None:
        record.answered = True
        if record.scope["type"] == "websocket":
            if self.policy.accept_websockets:
                self._send(stream_id, {"type": "websocket.accept"})
            else:
                self._send(stream_id, {"type": "websocket.close", "code": 1000})
                self._finish(stream_id, record)
            return
        if self.policy.read_body_first:
            self.conn.app_receive_waiting(stream_id, self.now)
        self._send(
            stream_id,
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            },
        )
        self._send(stream_id, {"type": "http.response.body", "body": b"ok"})
        self._finish(stream_id, record)

    def _websocket_step(self, stream_id: int, record: StreamRecord) -> bool:
        progressed = False
        for message in record.messages[record.handled :]:
            progressed = True
            if message["type"] == "websocket.receive" and self.policy.echo_websocket:
                if message.get("bytes") is not None:
                    self._send(stream_id, {"type": "websocket.send", "bytes": message["bytes"]})
                else:
                    self._send(stream_id, {"type": "websocket.send", "text": message["text"]})
            elif message["type"] == "websocket.disconnect":
                self._finish(stream_id, record)
                break
        record.handled = len(record.messages)
        return progressed

    def _finish(self, stream_id: int, record: StreamRecord) -> None:
        if not record.finished:
            record.finished = True
            self.conn.app_finished(stream_id, None, self.now)

    def finish_all_apps(self) -> None:
        """The driver's shutdown: every app still running returns."""
        self.run_apps()
        for stream_id, record in list(self.streams.items()):
            self._finish(stream_id, record)
        self.pump()

    # -- invariants shared by every protocol ------------------------------------------

    def is_closed(self) -> bool:
        """``conn.closed``, read afresh (a call, so type checkers do not narrow it)."""
        return self.conn.closed

    def common_violations(self) -> list[Violation]:
        found = []
        if self.after_close:
            found.append(
                Violation("bytes after CloseConnection", repr(bytes(self.after_close[:200])))
            )
        for stream_id, count in self.completed.items():
            if count > 1:
                found.append(Violation("stream completed twice", f"stream {stream_id}: {count}"))
        if len(self.close_events) > 1:
            found.append(Violation("CloseConnection emitted twice", repr(self.close_events)))
        return found
