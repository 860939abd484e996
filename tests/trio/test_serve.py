"""``hypercorn_trio.serve`` inside a caller's trio program: real sockets on 127.0.0.1."""

from __future__ import annotations

import functools
import os
import signal
import socket
from typing import Any

import httpx
import pytest

import trio
from hypercorn_protocol.config import Config
from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from hypercorn_trio import serve


def make_config(**values: Any) -> Config:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.errorlog = None
    for key, value in values.items():
        setattr(config, key, value)
    return config


class App:
    """Answers with the path; records lifespan messages and the trio task of each call."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []
        self.in_trio = False

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        self.in_trio = trio.lowlevel.current_task() is not None
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


async def get(url: str) -> httpx.Response:
    def fetch() -> httpx.Response:
        with httpx.Client() as client:
            return client.get(url)

    return await trio.to_thread.run_sync(fetch)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_nursery_start_reports_the_ephemeral_port_and_trigger_stops() -> None:
    app = App()
    seen: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                functools.partial(serve, app, make_config(), shutdown_trigger=stop.wait)
            )
            seen["binds"] = binds
            response = await get(binds[0] + "/hello")
            seen["body"] = response.content
            stop.set()
        seen["refused"] = refused(int(binds[0].rsplit(":", 1)[1]))

    trio.run(main)
    [bind] = seen["binds"]
    assert bind.startswith("http://127.0.0.1:")
    assert int(bind.rsplit(":", 1)[1]) > 0
    assert seen["body"] == b"/hello"
    assert seen["refused"]
    assert app.in_trio
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]


def test_a_trigger_means_no_signal_handlers_are_installed() -> None:
    seen: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        # Inside trio.run: SIGINT belongs to trio's KeyboardInterrupt handler.
        before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(serve, App(), make_config(), shutdown_trigger=stop.wait)
            )
            seen["unchanged"] = all(signal.getsignal(s) is h for s, h in before.items())
            stop.set()

    trio.run(main)
    assert seen["unchanged"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_without_a_trigger_a_signal_shuts_down_gracefully(signum: int) -> None:
    app = App()

    async def main() -> list[str]:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(serve, app, make_config())
            assert (await get(binds[0] + "/before")).status_code == 200
            os.kill(os.getpid(), signum)
        return binds

    binds = trio.run(main)
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    assert refused(int(binds[0].rsplit(":", 1)[1]))


def test_a_failing_trigger_stops_the_server_with_its_error() -> None:
    async def broken_trigger() -> None:
        raise RuntimeError("trigger broke")

    app = App()

    async def main() -> None:
        await serve(app, make_config(), shutdown_trigger=broken_trigger)

    with pytest.raises(RuntimeError, match="trigger broke"):
        trio.run(main)
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]


def test_max_requests_stops_the_worker() -> None:
    app = App()
    statuses: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                functools.partial(
                    serve,
                    app,
                    make_config(max_requests=2, max_requests_jitter=0),
                    shutdown_trigger=trio.sleep_forever,
                )
            )
            for _ in range(2):
                statuses.append((await get(binds[0])).status_code)
        # serve returned by itself: the nursery closed without a cancel.

    trio.run(main)
    assert statuses == [200, 200]
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]


def test_wsgi_mode_runs_the_app_in_a_thread() -> None:
    import threading

    threads: list[str] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        threads.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"wsgi ", environ["PATH_INFO"].encode()]

    result: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                functools.partial(
                    serve, wsgi_app, make_config(), shutdown_trigger=stop.wait, mode="wsgi"
                )
            )
            result["response"] = await get(binds[0] + "/path")
            stop.set()

    trio.run(main)
    assert result["response"].content == b"wsgi /path"
    assert threads and threads[0] != threading.main_thread().name


def test_several_binds_are_all_reported(tmp_path: Any) -> None:
    config = make_config()
    config.bind = ["127.0.0.1:0", f"unix:{tmp_path / 's.sock'}"]
    seen: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            seen["binds"] = await nursery.start(
                functools.partial(serve, App(), config, shutdown_trigger=stop.wait)
            )
            stop.set()

    trio.run(main)
    assert seen["binds"][0].startswith("http://127.0.0.1:")
    assert seen["binds"][1] == f"unix:{tmp_path / 's.sock'}"


def test_a_stalled_tls_handshake_is_dropped_after_ssl_handshake_timeout(tmp_path: Any) -> None:
    import time

    import trustme

    cert = trustme.CA().issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    config = make_config(certfile=str(certfile), keyfile=str(keyfile), ssl_handshake_timeout=0.3)
    seen: dict[str, Any] = {}

    def stall(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            started = time.monotonic()
            seen["data"] = sock.recv(1)  # never sends a ClientHello
            seen["elapsed"] = time.monotonic() - started

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                functools.partial(serve, App(), config, shutdown_trigger=stop.wait)
            )
            await trio.to_thread.run_sync(stall, int(binds[0].rsplit(":", 1)[1]))
            stop.set()

    trio.run(main)
    assert seen["data"] == b""
    assert 0.25 <= seen["elapsed"] < 3
