"""Flask (WSGI): JSON, forms and uploads, a streamed response and a file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request, send_file, stream_with_context

from tests.frameworks.apps._common import RELEASED, state_dir, wait_released_sync

app = Flask(__name__)


@app.get("/info")
def info() -> dict[str, Any]:
    return {
        "framework": "flask",
        "http_version": request.environ["SERVER_PROTOCOL"].removeprefix("HTTP/"),
        "scheme": request.scheme,
        "query": request.args.to_dict(),
    }


@app.post("/json")
def echo_json() -> dict[str, Any]:
    payload = request.get_json()
    return {"received": payload, "keys": sorted(payload)}


@app.post("/form")
def form() -> dict[str, str]:
    return request.form.to_dict()


@app.post("/upload")
def upload() -> dict[str, Any]:
    file = request.files["file"]
    digest = hashlib.sha256()
    size = 0
    while chunk := file.stream.read(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return {
        "sha256": digest.hexdigest(),
        "size": size,
        "filename": file.filename,
        "note": request.form["note"],
    }


@app.get("/release/<token>")
def release(token: str) -> dict[str, str]:
    RELEASED.add(token)
    return {"released": token}


@app.get("/stream/<token>")
def stream(token: str) -> Response:
    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        yield b"second\n" if wait_released_sync(token) else b"gate timed out\n"
        for number in range(3):
            yield f"chunk {number}\n".encode()

    return Response(stream_with_context(chunks()), mimetype="text/plain")


@app.get("/file")
def download() -> Response:
    return send_file(state_dir() / "download.bin", download_name="download.bin")
