"""Django, configured in code: the same project served as ASGI (``application``, with a
raw-ASGI WebSocket chat beside it, since Django has no WebSockets of its own) and as
WSGI (``wsgi_application``)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import django
from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path

from tests.frameworks.apps._common import (
    RELEASED,
    record,
    released,
    state_dir,
    wait_released_sync,
)

settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],  # no CSRF: the tests post without a session
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    # errors go to the server's stderr, which the tests show when they fail
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,  # the server's own loggers
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
    },
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402  (after settings)
from django.core.handlers.asgi import ASGIRequest  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402


def info(request: HttpRequest) -> JsonResponse:
    if isinstance(request, ASGIRequest):
        framework, version = "django-asgi", request.scope["http_version"]
    else:
        framework, version = "django-wsgi", request.META["SERVER_PROTOCOL"].removeprefix("HTTP/")
    return JsonResponse(
        {
            "framework": framework,
            "http_version": version,
            "scheme": request.scheme,
            "query": request.GET.dict(),
        }
    )


def echo_json(request: HttpRequest) -> JsonResponse:
    payload = json.loads(request.body)
    return JsonResponse({"received": payload, "keys": sorted(payload)})


def form(request: HttpRequest) -> JsonResponse:
    return JsonResponse(request.POST.dict())


def upload(request: HttpRequest) -> JsonResponse:
    file = request.FILES["file"]
    digest = hashlib.sha256()
    size = 0
    for chunk in file.chunks(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse(
        {
            "sha256": digest.hexdigest(),
            "size": size,
            "filename": file.name,
            "note": request.POST["note"],
        }
    )


def release(request: HttpRequest, token: str) -> JsonResponse:
    RELEASED.add(token)
    return JsonResponse({"released": token})


def stream(request: HttpRequest, token: str) -> StreamingHttpResponse:
    # Under ASGI Django buffers a synchronous iterator whole, so each server gets its own
    if isinstance(request, ASGIRequest):

        async def async_chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            started = time.monotonic()
            while (state := released(token, started)) is False:
                await anyio.sleep(0.01)
            yield b"second\n" if state else b"gate timed out\n"
            for number in range(3):
                yield f"chunk {number}\n".encode()

        return StreamingHttpResponse(async_chunks(), content_type="text/plain")

    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        yield b"second\n" if wait_released_sync(token) else b"gate timed out\n"
        for number in range(3):
            yield f"chunk {number}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def events(request: HttpRequest, token: str) -> StreamingHttpResponse:
    async def messages() -> AsyncIterator[str]:
        # Django (5.0+) cancels this when it receives http.disconnect while streaming
        try:
            number = 0
            while number < 1200:
                yield f"id: {number}\ndata: tick {number}\n\n"
                number += 1
                await anyio.sleep(0.05)
        finally:
            record(f"sse-closed-{token}", "client went away")

    return StreamingHttpResponse(messages(), content_type="text/event-stream")


def download(request: HttpRequest) -> FileResponse:
    return FileResponse((state_dir() / "download.bin").open("rb"), filename="download.bin")


urlpatterns = [
    path("info", info),
    path("json", echo_json),
    path("form", form),
    path("upload", upload),
    path("release/<str:token>", release),
    path("stream/<str:token>", stream),
    path("events/<str:token>", events),
    path("file", download),
]

django_asgi = get_asgi_application()
wsgi_application = get_wsgi_application()

ROOMS: dict[str, dict[int, Any]] = {}


async def chat(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket chat room in raw ASGI, next to Django (as Channels would route it)."""
    room = ROOMS.setdefault(scope["path"].rsplit("/", 1)[-1], {})
    query = dict(
        part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
    )
    name = query.get("name", "anonymous")
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    room[id(send)] = send
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode()
            for member in list(room.values()):
                await member({"type": "websocket.send", "text": f"{name}: {text}"})
    finally:
        room.pop(id(send), None)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope["path"].startswith("/chat/"):
        await chat(scope, receive, send)
    else:
        # lifespan too: Django refuses it, and the server carries on without it
        await django_asgi(scope, receive, send)
