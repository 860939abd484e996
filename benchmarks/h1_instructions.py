"""Instructions per HTTP/1.1 request on the sans-IO core and the shared driver, by callgrind.

Wall-clock benchmarks move with whatever else the machine runs; the number of
instructions a request costs does not. This script serves ``--requests`` hello requests
(``GET /`` as wrk sends it, the 13-byte answer of ``apps/hello.py``) with no event loop
and no socket, in one of two ways:

* ``core``: a :class:`~hypercorn_protocol.ServerConnection` alone, the app's two
  messages given straight to ``app_send`` (what a custom server on the core costs);
* ``driver``: the same through :class:`~hypercorn_protocol.driving.ConnectionDriver`
  with a fake I/O whose ``start_app`` steps the app coroutine by hand (the part of a
  request every driver shares: the event dispatch, the stream's receive and send).

``--close`` sends ``Connection: close`` and makes a new connection per request;
otherwise all requests share one keep-alive connection. ``--callgrind`` runs the script
twice under ``valgrind --tool=callgrind`` (``--requests`` and five times as many) and
prints the difference per request, which leaves interpreter start-up and imports out::

    PY=$(python3 -m hatch env find)/bin/python
    $PY benchmarks/h1_instructions.py --callgrind --mode driver --parser httptools
    $PY benchmarks/h1_instructions.py --callgrind --mode core --parser h11 --close

Without ``--callgrind`` it just serves the requests and prints the CPU time per request
(a quick check, as noisy as the machine). ``--profile`` prints a cProfile of the run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from typing import Any

from hypercorn_protocol import ServerConnection
from hypercorn_protocol.config import Config
from hypercorn_protocol.driving import ConnectionDriver, StreamBase
from hypercorn_protocol.events import StartApp
from hypercorn_protocol.headers import DateCache
from hypercorn_protocol.typing import ASGIScope, Message

NOW = 1_000_000.0
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n\r\n"
START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
END: Message = {"type": "http.response.body", "body": b"Hello, world!"}
EXPECTED = b"HTTP/1.1 200 OK\r\n"


def _config(parser: str) -> Config:
    config = Config()
    config.http_parser = parser
    config.keep_alive_max_requests = 0  # one connection serves them all
    config.accesslog = None
    return config


# ----------------------------------------------------------------- core only
def run_core(config: Config, requests: int, close: bool) -> int:
    dates = DateCache()
    sent = 0
    conn = None
    for _ in range(requests):
        if conn is None or close:
            conn = ServerConnection(
                config,
                client=("127.0.0.1", 40000),
                server=("127.0.0.1", 8000),
                scheme="http",
                now=NOW,
                state={},
                dates=dates,
            )
        conn.receive_data(CLOSE_REQUEST if close else REQUEST, NOW)
        stream_id = 0
        while (event := conn.next_event()) is not None:
            if type(event) is StartApp:
                stream_id = event.stream_id
        conn.app_send(stream_id, START, NOW)
        conn.app_send(stream_id, END, NOW)
        while (event := conn.next_event()) is not None:
            pass
        conn.app_finished(stream_id, None, NOW)
        while (event := conn.next_event()) is not None:
            pass
        data = conn.data_to_send()
        sent += data.startswith(EXPECTED)
        conn.get_timer()
    return sent


# ----------------------------------------------------- core + shared driver
async def hello(scope: ASGIScope, receive: Any, send: Any) -> None:
    await send(START)
    await send(END)


class _Log:
    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(message)


class _Worker:
    def __init__(self, config: Config) -> None:
        self.app = hello
        self.config = config
        self.lifespan_state: dict[str, Any] = {}
        self.dates = DateCache()
        self.metrics = None


class _Stream(StreamBase):
    __slots__ = ()

    def push(self, message: Message) -> None:
        self.queue.append(message)

    def wake_writer(self) -> None:
        pass

    async def send(self, message: Message) -> None:
        self._driver.app_send(self.stream_id, message, NOW)


class _IO:
    """A ConnectionIO that keeps what is written and runs each app to its end at once."""

    def __init__(self) -> None:
        self.driver: ConnectionDriver[_Stream]
        self.written = 0
        self.closed = False
        self.ready: list[Coroutine[Any, Any, None]] = []

    def write(self, data: bytes) -> None:
        self.written += data.startswith(EXPECTED)

    def close(self, discard: bool = False, linger: bool = False) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def start_app(self, stream_id: int, scope: ASGIScope) -> _Stream:
        stream = _Stream(self.driver, stream_id)
        self.ready.append(self.driver.run_app(stream_id, scope, stream.receive, stream.send))
        return stream

    def arm_timer(self, deadline: float) -> None:
        pass

    def schedule_flush(self) -> None:
        pass

    def request_completed(self, event: Any) -> None:
        pass

    def request_refused(self, event: Any) -> None:
        pass

    def run_ready(self) -> None:
        while self.ready:
            coroutine = self.ready.pop()
            try:
                coroutine.send(None)
            except StopIteration:
                pass
            else:
                raise AssertionError("the hello app does not wait")


def run_driver(config: Config, requests: int, close: bool) -> int:
    worker = _Worker(config)
    io = _IO()
    driver = None
    written = 0
    for _ in range(requests):
        if driver is None or close:
            if driver is not None:
                written += io.written
            io = _IO()
            driver = ConnectionDriver(
                io,
                worker,  # type: ignore[arg-type]
                secure=False,
                client=("127.0.0.1", 40000),
                server=("127.0.0.1", 8000),
                alpn=None,
                clock=lambda: NOW,
            )
            io.driver = driver
            driver.pump()
        driver.bytes_received += len(REQUEST)
        driver.conn.receive_data(CLOSE_REQUEST if close else REQUEST, NOW)
        driver.pump()
        io.run_ready()
    return written + io.written


MODES = {"core": run_core, "driver": run_driver}


def _callgrind(args: argparse.Namespace) -> None:
    counts = []
    for requests in (args.requests, args.requests * 5):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "callgrind.out")
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                os.path.abspath(__file__),
                "--mode",
                args.mode,
                "--parser",
                args.parser,
                "--requests",
                str(requests),
            ] + (["--close"] if args.close else [])
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            match = re.search(r"Collected : (\d+)", result.stderr)
            if match is None:
                raise SystemExit(result.stderr)
            counts.append(int(match.group(1)))
            if args.keep:
                kept = f"callgrind.{args.mode}.{args.parser}.{requests}.out"
                os.replace(out, kept)
                print(f"kept {kept}")
    per_request = (counts[1] - counts[0]) / (args.requests * 4)
    shape = "close" if args.close else "keep-alive"
    print(f"{args.mode} {args.parser} {shape}: {per_request / 1000:.1f}k instructions per request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="driver")
    parser.add_argument("--parser", choices=("h11", "httptools"), default="httptools")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--close", action="store_true", help="a connection per request")
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    parser.add_argument("--keep", action="store_true", help="keep callgrind's output files")
    parser.add_argument("--profile", action="store_true", help="print a cProfile")
    args = parser.parse_args()
    if args.callgrind:
        _callgrind(args)
        return
    run = MODES[args.mode]
    config = _config(args.parser)
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        served = run(config, args.requests, args.close)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    else:
        start = time.process_time()
        served = run(config, args.requests, args.close)
        elapsed = time.process_time() - start
        print(f"{elapsed / args.requests * 1e6:.1f} us CPU per request")
    if served != args.requests:
        raise SystemExit(f"only {served} of {args.requests} responses were right")


if __name__ == "__main__":
    main()
