"""WebSocket echo load client for the ``ws`` benchmark (run it with the peers' python).

``--conns`` connections each do strict round trips (send one message, wait for its
echo) as fast as they can. After ``--warmup`` seconds the timed window opens; a round
trip counts when its echo arrives inside the window. Compression is off, so the test
measures framing and the server's per-message work, not zlib.

Output on stdout, one line each, flushed at once so a harness can follow along:
``window-start`` and ``window-end`` when the timed window opens and closes, then one
JSON object: round trips per second, their count, p50/p99 latency in ms, the client's
CPU seconds inside the window, and errors.

It uses the ``websockets`` library (not this project) on uvloop when installed::

    benchmarks/.peers-venv/bin/python benchmarks/ws_client.py ws://127.0.0.1:8000/ --conns 16

With ``--http2`` each connection is instead HTTP/2 with prior knowledge carrying one
WebSocket (RFC 8441 extended CONNECT), spoken with the ``h2`` library and wsproto's
frame codec (both from the peers' environment, as Hypercorn 0.18 depends on them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import connect


@dataclass
class Window:
    """The timed window and what the connections observed inside it."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mark(event: str) -> None:
    """Tell a following harness that the window opened or closed."""
    sys.stdout.write(event + "\n")
    sys.stdout.flush()


async def clock(window: Window) -> None:
    """Announce the window's start and end, and take CPU readings at both."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    window.cpu_start = cpu_seconds()
    mark("window-start")
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    window.cpu_end = cpu_seconds()
    mark("window-end")


class EchoSocket(Protocol):
    """What a round trip needs of a WebSocket client (websockets' or :class:`H2WebSocket`)."""

    async def send(self, message: str, /) -> None: ...

    async def recv(self) -> Any: ...


async def round_trips(ws: EchoSocket, message: str, window: Window) -> None:
    """Send one message, wait for its echo, again, until the window closes."""
    while True:
        sent = time.perf_counter()
        if sent >= window.end:
            return
        await ws.send(message)
        echo = await ws.recv()
        done = time.perf_counter()
        if echo != message:
            window.errors.append("echo differs from the message sent")
        elif window.start <= done < window.end:
            window.latencies.append(done - sent)


async def connection(url: str, message: str, window: Window) -> None:
    """One connection doing round trips until the window closes."""
    try:
        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            await round_trips(ws, message, window)
    except Exception as exc:  # a broken connection is a result to report, not a crash
        window.errors.append(repr(exc))


class H2WebSocket:
    """One WebSocket over an HTTP/2 connection (RFC 8441), for strict round trips."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.config
        import h2.connection
        from wsproto.frame_protocol import FrameProtocol

        self._reader, self._writer = reader, writer
        self._h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self._frames = FrameProtocol(client=True, extensions=[])
        self._stream_id = 0
        self._status: int | None = None
        self._received: list[Any] = []

    @classmethod
    async def open(cls, url: str) -> H2WebSocket:
        import h2.settings

        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        ws = cls(reader, writer)
        ws._h2.initiate_connection()
        await ws._flush()
        code = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL
        while ws._h2.remote_settings.get(code) != 1:  # the server must offer RFC 8441
            await ws._pump()
        ws._stream_id = ws._h2.get_next_available_stream_id()
        ws._h2.send_headers(
            ws._stream_id,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", parts.path or "/"),
                (":authority", parts.netloc),
                ("sec-websocket-version", "13"),
            ],
        )
        await ws._flush()
        while ws._status is None:
            await ws._pump()
        if ws._status != 200:
            raise RuntimeError(f"extended CONNECT answered {ws._status}")
        return ws

    async def send(self, text: str) -> None:
        self._h2.send_data(self._stream_id, bytes(self._frames.send_data(text, fin=True)))
        await self._flush()

    async def recv(self) -> Any:
        while not self._received:
            await self._pump()
        return self._received.pop(0)

    def close(self) -> None:
        self._writer.close()

    async def _flush(self) -> None:
        self._writer.write(self._h2.data_to_send())
        await self._writer.drain()

    async def _pump(self) -> None:
        import h2.events

        data = await self._reader.read(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self._status = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                self._frames.receive_bytes(event.data)
                self._received += [frame.payload for frame in self._frames.received_frames()]
            elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise ConnectionError(f"the server ended the WebSocket: {event}")
        await self._flush()


async def connection_h2(url: str, message: str, window: Window) -> None:
    """As :func:`connection`, over HTTP/2."""
    try:
        ws = await H2WebSocket.open(url)
        try:
            await round_trips(ws, message, window)
        finally:
            ws.close()
    except Exception as exc:
        window.errors.append(repr(exc))


def percentile_ms(sorted_values: list[float], pct: int) -> float | None:
    """The ``pct`` percentile of sorted seconds, in milliseconds."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, len(sorted_values) * pct // 100)
    return round(sorted_values[index] * 1000, 3)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Drive the connections and return the figures of the timed window."""
    now = time.perf_counter()
    window = Window(start=now + args.warmup, end=now + args.warmup + args.duration)
    message = "x" * args.size
    connect_one = connection_h2 if args.http2 else connection
    jobs: list[Coroutine[Any, Any, None]] = [
        connect_one(args.url, message, window) for _ in range(args.conns)
    ]
    await asyncio.wait_for(
        asyncio.gather(clock(window), *jobs), timeout=args.warmup + args.duration + 30
    )
    latencies = sorted(window.latencies)
    return {
        "rps": round(len(latencies) / args.duration, 1),
        "requests": len(latencies),
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "client_cpu_s": round(window.cpu_end - window.cpu_start, 3),
        "errors": len(window.errors),
        "first_error": window.errors[0] if window.errors else None,
    }


def main() -> None:
    """Parse the command line, run the load, print the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("url", help="ws://host:port/path of an echo endpoint")
    p.add_argument("--conns", type=int, default=16, help="concurrent connections")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of the timed window")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before it")
    p.add_argument("--size", type=int, default=13, help="message length (text characters)")
    p.add_argument(
        "--http2", action="store_true", help="WebSocket over HTTP/2 (RFC 8441, h2c prior knowledge)"
    )
    args = p.parse_args()
    try:
        import uvloop  # optional: a faster client leaves more headroom for fast servers
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
