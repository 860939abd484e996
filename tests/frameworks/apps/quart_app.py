"""Quart: JSON, forms and uploads, streaming, SSE, files, background tasks, lifespan
state and a WebSocket chat room.

Quart runs on asyncio only; on trio the same routes are served by ``quart_trio.QuartTrio``
(``trio_app``). Both are built by one function, so the two serve the same endpoints.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from quart import Quart, Response, request, send_file, websocket
from quart_trio import QuartTrio

from tests.frameworks.apps._common import RELEASED, record, released, state_dir


def build(app_class: type[Quart]) -> Quart:
    app = app_class(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024  # the default; the upload is 10 MiB
    rooms: dict[str, dict[int, Any]] = {}
    background: dict[str, str] = {}
    lifespan: dict[str, str] = {}

    @app.before_serving
    async def startup() -> None:
        lifespan["started"] = f"quart {os.getpid()}"

    @app.after_serving
    async def shutdown() -> None:
        record(f"shutdown-{os.getpid()}", "quart shutdown complete")

    @app.route("/lifespan")
    async def lifespan_state() -> dict[str, Any]:
        return {"started": lifespan.get("started"), "pid": os.getpid()}

    @app.route("/form", methods=["POST"])
    async def form() -> dict[str, str]:
        return dict((await request.form).items())

    @app.route("/file")
    async def download() -> Response:
        return await send_file(state_dir() / "download.bin")

    @app.route("/events/<token>")
    async def events(token: str) -> tuple[AsyncIterator[bytes], int, dict[str, str]]:
        async def messages() -> AsyncIterator[bytes]:
            # endless until the client goes away: Quart cancels this on http.disconnect
            try:
                for number in range(1200):
                    yield f"id: {number}\ndata: tick {number}\n\n".encode()
                    await anyio.sleep(0.05)
            finally:
                record(f"sse-closed-{token}", "client went away")

        return messages(), 200, {"content-type": "text/event-stream"}

    async def finish_background(token: str) -> None:
        await anyio.sleep(0.2)  # runs after the response has been sent
        background[token] = "done"

    @app.route("/background/<token>")
    async def queue_background(token: str) -> dict[str, str]:
        background[token] = "pending"
        app.add_background_task(finish_background, token)
        return {"queued": token}

    @app.route("/background-result/<token>")
    async def background_result(token: str) -> dict[str, str]:
        return {"state": background.get(token, "unknown")}

    @app.route("/info")
    async def info() -> dict[str, Any]:
        return {
            "framework": "quart",
            "http_version": request.scope["http_version"],
            "scheme": request.scheme,
            "query": request.args.to_dict(),
        }

    @app.route("/json", methods=["POST"])
    async def echo_json() -> dict[str, Any]:
        payload = await request.get_json()
        return {"received": payload, "keys": sorted(payload)}

    @app.route("/upload", methods=["POST"])
    async def upload() -> dict[str, Any]:
        files = await request.files
        form = await request.form
        file = files["file"]
        digest = hashlib.sha256()
        size = 0
        while chunk := file.read(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
        return {
            "sha256": digest.hexdigest(),
            "size": size,
            "filename": file.filename,
            "note": form["note"],
        }

    @app.route("/release/<token>")
    async def release(token: str) -> dict[str, str]:
        RELEASED.add(token)
        return {"released": token}

    @app.route("/stream/<token>")
    async def stream(token: str) -> tuple[AsyncIterator[bytes], int, dict[str, str]]:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            started = time.monotonic()
            while (state := released(token, started)) is False:
                await anyio.sleep(0.01)
            yield b"second\n" if state else b"gate timed out\n"
            for number in range(3):
                yield f"chunk {number}\n".encode()

        return chunks(), 200, {"content-type": "text/plain"}

    @app.websocket("/chat/<room>")
    async def chat(room: str) -> None:
        members = rooms.setdefault(room, {})
        name = websocket.args.get("name", "anonymous")
        await websocket.accept()
        # ``websocket`` is a proxy to the current task's connection: keep the real one
        current = websocket._get_current_object()  # type: ignore[attr-defined]
        members[id(current)] = current
        try:
            while True:
                message = await websocket.receive()
                text = message.decode() if isinstance(message, bytes) else message
                for member in list(members.values()):
                    await member.send(f"{name}: {text}")
        finally:
            members.pop(id(current), None)

    return app


app = build(Quart)
trio_app = build(QuartTrio)
