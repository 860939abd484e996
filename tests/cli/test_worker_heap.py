"""A worker's heap as it stands once it serves is out of the cyclic collector's reach.

The app, its imports and what its lifespan startup built live as long as the worker;
``gc.freeze`` once the worker accepts connections keeps the collections that request
garbage triggers from walking all of it again (a uvloop worker paused up to 9 ms in a
full collection without it, which is where its p99 latency went).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._support import StartServer, fetch, free_port

#: Builds 20,000 dicts at startup; answers "<frozen at startup> <frozen now>".
HEAP_APP = """
import gc

CACHE = []
FROZEN_AT_STARTUP = []

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                CACHE.extend({"entry": n} for n in range(20_000))
                FROZEN_AT_STARTUP.append(gc.get_freeze_count())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = f"{FROZEN_AT_STARTUP[0]} {gc.get_freeze_count()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""


@pytest.mark.parametrize("worker_class", ["asyncio", "uvloop", "trio"])
@pytest.mark.parametrize("workers", ["0", "1"])
def test_what_startup_built_is_frozen_once_the_worker_serves(
    start_server: StartServer, app_dir: Path, worker_class: str, workers: str
) -> None:
    (app_dir / "heap.py").write_text(HEAP_APP)
    port = free_port()
    server = start_server("heap:app", "-k", worker_class, "-w", workers, "-b", f"127.0.0.1:{port}")
    server.wait_for("Running on")

    at_startup, now = map(int, fetch(port).split())

    assert at_startup == 0  # the app's own startup ran before the freeze
    assert now >= 20_000
    assert server.stop() == 0
