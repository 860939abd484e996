"""Starlette: JSON, forms and uploads, streaming, SSE, files, background tasks,
lifespan state and a WebSocket chat room."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.frameworks.apps._common import RELEASED, record, released, state_dir

ROOMS: dict[str, set[WebSocket]] = {}
BACKGROUND: dict[str, str] = {}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    # state handed to every request as request.state
    yield {"started": f"starlette {os.getpid()}"}
    record(f"shutdown-{os.getpid()}", "starlette shutdown complete")


async def info(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "framework": "starlette",
            "http_version": request.scope["http_version"],
            "scheme": request.url.scheme,
            "query": dict(request.query_params),
        }
    )


async def echo_json(request: Request) -> JSONResponse:
    payload = await request.json()
    return JSONResponse({"received": payload, "keys": sorted(payload)})


async def form(request: Request) -> JSONResponse:
    async with request.form() as data:
        return JSONResponse({key: str(value) for key, value in data.items()})


async def upload(request: Request) -> JSONResponse:
    async with request.form(max_part_size=1024 * 1024) as data:
        file = data["file"]
        assert isinstance(file, UploadFile)
        digest = hashlib.sha256()
        size = 0
        while chunk := await file.read(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
        return JSONResponse(
            {
                "sha256": digest.hexdigest(),
                "size": size,
                "filename": file.filename,
                "note": str(data["note"]),
            }
        )


async def release(request: Request) -> JSONResponse:
    RELEASED.add(request.path_params["token"])
    return JSONResponse({"released": request.path_params["token"]})


async def stream(request: Request) -> StreamingResponse:
    token = request.path_params["token"]

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        started = time.monotonic()
        while (state := released(token, started)) is False:
            await anyio.sleep(0.01)
        yield b"second\n" if state else b"gate timed out\n"
        for number in range(3):
            yield f"chunk {number}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def events(request: Request) -> StreamingResponse:
    token = request.path_params["token"]

    async def messages() -> AsyncIterator[str]:
        # endless until the client goes away; Starlette cancels this when it sees
        # http.disconnect, and the file tells the test that it did
        try:
            number = 0
            while number < 1200:
                yield f"id: {number}\ndata: tick {number}\n\n"
                number += 1
                await anyio.sleep(0.05)
        finally:
            record(f"sse-closed-{token}", "client went away")

    return StreamingResponse(messages(), media_type="text/event-stream")


async def download(request: Request) -> FileResponse:
    return FileResponse(state_dir() / "download.bin", filename="download.bin")


def finish_background(token: str) -> None:
    time.sleep(0.2)  # runs after the response has been sent
    BACKGROUND[token] = "done"


async def background(request: Request) -> JSONResponse:
    token = request.path_params["token"]
    BACKGROUND[token] = "pending"
    return JSONResponse({"queued": token}, background=BackgroundTask(finish_background, token))


async def background_result(request: Request) -> JSONResponse:
    return JSONResponse({"state": BACKGROUND.get(request.path_params["token"], "unknown")})


async def lifespan_state(request: Request) -> JSONResponse:
    return JSONResponse({"started": request.state.started, "pid": os.getpid()})


async def chat(websocket: WebSocket) -> None:
    room = ROOMS.setdefault(websocket.path_params["room"], set())
    name = websocket.query_params.get("name", "anonymous")
    await websocket.accept()
    room.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(room):
                await member.send_text(f"{name}: {text}")
    except WebSocketDisconnect:
        pass
    finally:
        room.discard(websocket)


async def not_found(request: Request, exc: Exception) -> Response:
    return Response("no such page", status_code=404)


app = Starlette(
    routes=[
        Route("/info", info),
        Route("/json", echo_json, methods=["POST"]),
        Route("/form", form, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/release/{token}", release),
        Route("/stream/{token}", stream),
        Route("/events/{token}", events),
        Route("/file", download),
        Route("/background/{token}", background),
        Route("/background-result/{token}", background_result),
        Route("/lifespan", lifespan_state),
        WebSocketRoute("/chat/{room}", chat),
    ],
    lifespan=lifespan,
    exception_handlers={404: not_found},
)
