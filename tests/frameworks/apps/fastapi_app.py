"""FastAPI: the same endpoints as the Starlette app, written the FastAPI way (pydantic
models, ``Form``/``UploadFile`` parameters, ``BackgroundTasks``, a lifespan)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import BackgroundTasks, FastAPI, Form, Request, UploadFile, WebSocket
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.websockets import WebSocketDisconnect
from pydantic import BaseModel

from tests.frameworks.apps._common import RELEASED, record, released, state_dir

ROOMS: dict[str, set[WebSocket]] = {}
BACKGROUND: dict[str, str] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.started = f"fastapi {os.getpid()}"
    yield
    record(f"shutdown-{os.getpid()}", "fastapi shutdown complete")


app = FastAPI(lifespan=lifespan)


class Nested(BaseModel):
    ok: bool


class Item(BaseModel):
    name: str
    items: list[int]
    nested: Nested


@app.get("/info")
async def info(request: Request) -> dict[str, Any]:
    return {
        "framework": "fastapi",
        "http_version": request.scope["http_version"],
        "scheme": request.url.scheme,
        "query": dict(request.query_params),
    }


@app.post("/json")
async def echo_json(item: Item) -> dict[str, Any]:
    received = item.model_dump()
    return {"received": received, "keys": sorted(received)}


@app.post("/form")
async def form(name: Annotated[str, Form()], count: Annotated[str, Form()]) -> dict[str, str]:
    return {"name": name, "count": count}


@app.post("/upload")
async def upload(file: UploadFile, note: Annotated[str, Form()]) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size, "filename": file.filename, "note": note}


@app.get("/release/{token}")
async def release(token: str) -> dict[str, str]:
    RELEASED.add(token)
    return {"released": token}


@app.get("/stream/{token}")
async def stream(token: str) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        started = time.monotonic()
        while (state := released(token, started)) is False:
            await anyio.sleep(0.01)
        yield b"second\n" if state else b"gate timed out\n"
        for number in range(3):
            yield f"chunk {number}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/events/{token}")
async def events(token: str) -> StreamingResponse:
    async def messages() -> AsyncIterator[str]:
        try:
            number = 0
            while number < 1200:
                yield f"id: {number}\ndata: tick {number}\n\n"
                number += 1
                await anyio.sleep(0.05)
        finally:
            record(f"sse-closed-{token}", "client went away")

    return StreamingResponse(messages(), media_type="text/event-stream")


@app.get("/file")
async def download() -> FileResponse:
    return FileResponse(state_dir() / "download.bin", filename="download.bin")


def finish_background(token: str) -> None:
    time.sleep(0.2)
    BACKGROUND[token] = "done"


@app.get("/background/{token}")
async def background(token: str, tasks: BackgroundTasks) -> dict[str, str]:
    BACKGROUND[token] = "pending"
    tasks.add_task(finish_background, token)
    return {"queued": token}


@app.get("/background-result/{token}")
async def background_result(token: str) -> dict[str, str]:
    return {"state": BACKGROUND.get(token, "unknown")}


@app.get("/lifespan")
async def lifespan_state(request: Request) -> dict[str, Any]:
    return {"started": request.app.state.started, "pid": os.getpid()}


@app.websocket("/chat/{room}")
async def chat(websocket: WebSocket, room: str, name: str = "anonymous") -> None:
    members = ROOMS.setdefault(room, set())
    await websocket.accept()
    members.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(members):
                await member.send_text(f"{name}: {text}")
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)
