"""An HTTP/3 client on aioquic's asyncio ``connect``, for tests against a real server.

One :class:`H3Client` is one QUIC connection; every :meth:`H3Client.request` is one request
stream on it, so concurrent calls are concurrent streams. :meth:`H3Client.websocket` opens
an RFC 9220 WebSocket (extended CONNECT with ``:protocol websocket``) whose frames are
built and parsed by wsproto's frame layer, not by the server's code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset
from aioquic.tls import SessionTicket
from wsproto.frame_protocol import Frame, FrameProtocol, Opcode

from tests.helpers.websocket import extended_connect

Headers = list[tuple[bytes, bytes]]


@dataclass
class Response:
    status: int
    headers: Headers
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass
class Close:
    code: int
    reason: str


@dataclass
class _Stream:
    """What one request stream has received so far."""

    headers: list[Headers] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    data: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    got_headers: asyncio.Event = field(default_factory=asyncio.Event)
    reset: int | None = None


class H3Protocol(QuicConnectionProtocol):
    """aioquic's asyncio protocol with an ``H3Connection`` on top, streams kept by id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        self.streams: dict[int, _Stream] = {}
        self.terminated: ConnectionTerminated | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
            for stream in self.streams.values():
                stream.ended.set()
                stream.got_headers.set()
                stream.data.put_nowait(None)
        elif isinstance(event, StreamReset) and event.stream_id in self.streams:
            stream = self.streams[event.stream_id]
            stream.reset = event.error_code
            stream.ended.set()
            stream.got_headers.set()
            stream.data.put_nowait(None)
        for h3_event in self.http.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.ended.is_set():
            return
        if isinstance(event, HeadersReceived):
            stream.headers.append(event.headers)
            stream.got_headers.set()
        else:
            stream.body += event.data
            if event.data:
                stream.data.put_nowait(event.data)
        if event.stream_ended:
            stream.ended.set()
            stream.data.put_nowait(None)

    def open_stream(self, headers: Headers, *, end_stream: bool) -> int:
        stream_id = self._quic.get_next_available_stream_id()
        self.streams[stream_id] = _Stream()
        self.http.send_headers(stream_id, headers, end_stream=end_stream)
        self.transmit()
        return stream_id

    def send(self, stream_id: int, data: bytes | bytearray, *, end_stream: bool) -> None:
        self.http.send_data(stream_id, bytes(data), end_stream=end_stream)
        self.transmit()


class H3Client:
    def __init__(self, protocol: H3Protocol, authority: str) -> None:
        self.protocol = protocol
        self.authority = authority.encode()

    @property
    def settings(self) -> dict[int, int]:
        """The SETTINGS the server sent (empty until they arrive)."""
        return dict(self.protocol.http.received_settings or {})

    def _request_headers(
        self, method: str, path: str, extra: Sequence[tuple[bytes, bytes]]
    ) -> Headers:
        return [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", self.authority),
            (b":path", path.encode()),
            *extra,
        ]

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Sequence[tuple[bytes, bytes]] = (),
        timeout: float = 30.0,
    ) -> Response:
        """One request on a new stream; the final response (interim ones skipped)."""
        extra = list(headers)
        if body:
            extra.append((b"content-length", str(len(body)).encode()))
        stream_id = self.protocol.open_stream(
            self._request_headers(method, path, extra), end_stream=not body
        )
        if body:
            self.protocol.send(stream_id, body, end_stream=True)
        stream = self.protocol.streams[stream_id]
        await asyncio.wait_for(stream.ended.wait(), timeout)
        del self.protocol.streams[stream_id]
        if stream.reset is not None:
            raise ConnectionError(f"stream {stream_id} reset with {stream.reset:#x}")
        if self.protocol.terminated is not None and not stream.headers:
            raise ConnectionError(f"connection closed: {self.protocol.terminated}")
        final = [h for h in stream.headers if not _status(h).startswith(b"1")]
        assert final, f"no final response headers on stream {stream_id}: {stream.headers}"
        return Response(int(_status(final[0])), final[0], bytes(stream.body))

    @asynccontextmanager
    async def websocket(
        self, path: str, *, subprotocols: Sequence[str] = (), timeout: float = 10.0
    ) -> AsyncIterator[H3WebSocket]:
        """An RFC 9220 WebSocket over one request stream; raises if not accepted."""
        extra = []
        if subprotocols:
            extra.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
        headers = extended_connect(self.authority, path.encode(), extra=extra)
        stream_id = self.protocol.open_stream(headers, end_stream=False)
        stream = self.protocol.streams[stream_id]
        await asyncio.wait_for(stream.got_headers.wait(), timeout)
        if not stream.headers:
            raise ConnectionError(f"no response to the CONNECT (reset: {stream.reset})")
        status = int(_status(stream.headers[0]))
        if status != 200:
            raise ConnectionError(f"WebSocket refused with {status}: {stream.headers[0]}")
        socket = H3WebSocket(self.protocol, stream_id, stream, stream.headers[0])
        try:
            yield socket
        finally:
            self.protocol.streams.pop(stream_id, None)


class H3WebSocket:
    """WebSocket frames on one HTTP/3 request stream (DATA frames carry the bytes)."""

    def __init__(
        self, protocol: H3Protocol, stream_id: int, stream: _Stream, headers: Headers
    ) -> None:
        self.protocol = protocol
        self.stream_id = stream_id
        self.stream = stream
        self.response_headers = headers
        self.frames = FrameProtocol(client=True, extensions=[])
        self._pending: list[Frame] = []

    def send(self, message: str | bytes) -> None:
        self.protocol.send(
            self.stream_id, self.frames.send_data(message, fin=True), end_stream=False
        )

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.protocol.send(self.stream_id, self.frames.close(code, reason), end_stream=False)

    async def receive_frame(self, timeout: float = 10.0) -> Frame:
        while not self._pending:
            data = await asyncio.wait_for(self.stream.data.get(), timeout)
            if data is None:
                raise ConnectionError(f"stream ended (reset: {self.stream.reset})")
            self._pending.extend(_frames(self.frames, data))
        return self._pending.pop(0)

    async def receive(self, timeout: float = 10.0) -> str | bytes:
        """The next whole data message (answering pings)."""
        text: list[str] = []
        data: list[bytes] = []
        is_text = False
        while True:
            frame = await self.receive_frame(timeout)
            if frame.opcode is Opcode.PING:
                payload = frame.payload if isinstance(frame.payload, bytes) else b""
                self.protocol.send(self.stream_id, self.frames.pong(payload), end_stream=False)
                continue
            if frame.opcode is Opcode.CLOSE:
                raise ConnectionError(f"closed by the server: {frame.payload!r}")
            if isinstance(frame.payload, str):
                is_text = True
                text.append(frame.payload)
            elif isinstance(frame.payload, bytes | bytearray):
                data.append(bytes(frame.payload))
            if frame.message_finished:
                return "".join(text) if is_text else b"".join(data)

    async def receive_close(self, timeout: float = 10.0) -> Close:
        """Wait for the server's Close frame; data frames before it are an error."""
        frame = await self.receive_frame(timeout)
        assert frame.opcode is Opcode.CLOSE, frame
        assert isinstance(frame.payload, tuple), frame
        code, reason = frame.payload
        return Close(int(code), str(reason))

    async def ended(self, timeout: float = 10.0) -> bool:
        """True once the server has ended its side of the stream."""
        await asyncio.wait_for(self.stream.ended.wait(), timeout)
        return self.stream.reset is None


def _frames(protocol: FrameProtocol, data: bytes) -> list[Frame]:
    protocol.receive_bytes(data)
    return list(protocol.received_frames())


def _status(headers: Headers) -> bytes:
    for key, value in headers:
        if key == b":status":
            return value
    raise AssertionError(f"no :status in {headers}")


def client_configuration(
    cafile: str, *, server_name: str = "localhost", session_ticket: SessionTicket | None = None
) -> QuicConfiguration:
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=list(H3_ALPN),
        server_name=server_name,
        session_ticket=session_ticket,
    )
    configuration.load_verify_locations(cafile)
    return configuration


@asynccontextmanager
async def h3_connect(
    host: str,
    port: int,
    cafile: str,
    *,
    server_name: str = "localhost",
    session_ticket: SessionTicket | None = None,
    session_ticket_handler: Callable[[SessionTicket], None] | None = None,
    wait_connected: bool = True,
) -> AsyncIterator[H3Client]:
    """One verified QUIC connection with HTTP/3 on it; closed on exit.

    ``session_ticket`` resumes an earlier session (0-RTT when the ticket allows);
    ``session_ticket_handler`` receives the tickets the server issues.
    """
    configuration = client_configuration(
        cafile, server_name=server_name, session_ticket=session_ticket
    )
    async with connect(
        host,
        port,
        configuration=configuration,
        create_protocol=H3Protocol,
        session_ticket_handler=session_ticket_handler,
        wait_connected=wait_connected,
    ) as protocol:
        assert isinstance(protocol, H3Protocol)
        yield H3Client(protocol, f"{server_name}:{port}")
