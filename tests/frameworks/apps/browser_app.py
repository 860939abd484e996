"""What the browser test loads: a page that reports its protocol, talks over a
WebSocket and uploads with a streaming ``fetch`` (Starlette)."""

from __future__ import annotations

import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

#: ``scope["http_version"]`` of every WebSocket the app accepted
WEBSOCKET_VERSIONS: list[str] = []

UPLOAD_SIZE = 3 * 1024 * 1024 + 5

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>hypercorn in a browser</title></head>
<body><h1>hypercorn in a browser</h1><pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    ws.onmessage = (event) => resolve(event.data);
    ws.onerror = () => reject(new Error("websocket error"));
  });
}
async function run() {
  const results = {};
  results.protocol = performance.getEntries()[0].nextHopProtocol;
  log("page over " + results.protocol);

  const ws = new WebSocket(`wss://${location.host}/ws`);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  results.ws = [];
  for (const text of ["hello", "wörld"]) {
    ws.send(text);
    results.ws.push(await nextMessage(ws));
  }
  ws.close();
  log("websocket: " + results.ws.join(" | "));

  // byte i is i % 251, sent in 64 KiB pieces from a ReadableStream: a streaming upload
  const size = SIZE;
  const all = new Uint8Array(size);
  for (let i = 0; i < size; i++) all[i] = i % 251;
  let offset = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (offset >= size) { controller.close(); return; }
      const end = Math.min(offset + 65536, size);
      controller.enqueue(all.slice(offset, end));
      offset = end;
    },
  });
  const response = await fetch("/upload", {method: "POST", body, duplex: "half"});
  results.upload = await response.json();
  const digest = await crypto.subtle.digest("SHA-256", all);
  results.expected_sha256 = Array.from(new Uint8Array(digest))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  log("upload: " + JSON.stringify(results.upload));
  return results;
}
run().then((results) => { window.results = results; },
           (error) => { log("error: " + error); window.results = {error: String(error)}; });
</script></body></html>
""".replace("SIZE", str(UPLOAD_SIZE))


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def upload(request: Request) -> JSONResponse:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse(
        {"sha256": digest.hexdigest(), "size": size, "http_version": request.scope["http_version"]}
    )


async def echo(websocket: WebSocket) -> None:
    WEBSOCKET_VERSIONS.append(websocket.scope["http_version"])
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{text} over HTTP/{websocket.scope['http_version']}")
    except WebSocketDisconnect:
        pass


async def versions(request: Request) -> JSONResponse:
    return JSONResponse(WEBSOCKET_VERSIONS)


app = Starlette(
    routes=[
        Route("/", page),
        Route("/upload", upload, methods=["POST"]),
        Route("/websocket-versions", versions),
        WebSocketRoute("/ws", echo),
    ]
)
