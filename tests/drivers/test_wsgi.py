"""The WSGI bridges of both drivers, driven as ASGI apps with in-memory receive/send."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import trio
from hypercorn_asyncio.wsgi import AsyncioWSGIApp, AsyncioWSGIMiddleware
from hypercorn_protocol.apps.wsgi import ThreadedWSGIApp, WSGIWrapper
from hypercorn_protocol.typing import ASGIScope, Message, StartResponse, WSGIFramework
from hypercorn_trio.wsgi import TrioWSGIApp, TrioWSGIMiddleware
from tests.helpers.apps.scopes import http_scope

Environ = dict[str, Any]


@dataclass(frozen=True)
class Backend:
    """One driver's bridge classes and how to run a coroutine to completion on it."""

    app: Callable[[WSGIWrapper], ThreadedWSGIApp]
    middleware: Callable[..., ThreadedWSGIApp]
    run: Callable[[Coroutine[Any, Any, None]], None]


async def _await(coroutine: Coroutine[Any, Any, None]) -> None:
    await coroutine


BACKENDS = {
    "asyncio": Backend(AsyncioWSGIApp, AsyncioWSGIMiddleware, asyncio.run),
    "trio": Backend(TrioWSGIApp, TrioWSGIMiddleware, lambda c: trio.run(_await, c)),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


class Recorder:
    """In-memory ASGI receive/send: request chunks in, sent messages out."""

    def __init__(self, chunks: Iterable[bytes] = (b"",)) -> None:
        pending = list(chunks)
        self.incoming: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": index < len(pending) - 1}
            for index, chunk in enumerate(pending)
        ]
        self.receive_calls = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.receive_calls += 1
        if self.incoming:
            return self.incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def serve(
    backend: Backend,
    app: WSGIFramework,
    scope: ASGIScope | None = None,
    chunks: Iterable[bytes] = (b"",),
    max_body_size: int = 2**16,
) -> Recorder:
    recorder = Recorder(chunks)
    asgi_app = backend.app(WSGIWrapper(app, max_body_size))
    backend.run(asgi_app(scope or http_scope(), recorder.receive, recorder.send))
    return recorder


def start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


def body(data: bytes, more_body: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more_body}


def test_hello_world(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello, ", b"world"]

    assert serve(backend, app).sent == [
        start(200, [(b"content-type", b"text/plain"), (b"content-length", b"12")]),
        body(b"Hello, ", True),
        body(b"world", False),
    ]


def test_request_body_and_environ_reach_the_app(backend: Backend) -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["body"] = environ["wsgi.input"].read()
        seen["length"] = environ["CONTENT_LENGTH"]
        seen["path"] = environ["PATH_INFO"]
        seen["thread"] = threading.get_ident()
        start_response("201 Created", [])
        return [b""]

    scope = http_scope(method="POST", path="/upload")
    recorder = serve(backend, app, scope, chunks=[b"ab", b"cd", b""])
    assert seen["body"] == b"abcd"
    assert seen["length"] == "4"
    assert seen["path"] == "/upload"
    # The app runs in a worker thread, not on the event loop's thread.
    assert seen["thread"] != threading.get_ident()
    assert recorder.sent == [start(201, [(b"content-length", b"0")]), body(b"", False)]


def test_empty_iterable_is_200_with_empty_body(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("X-Empty", "yes")])
        return []

    assert serve(backend, app).sent == [
        start(200, [(b"x-empty", b"yes"), (b"content-length", b"0")]),
        body(b"", False),
    ]


def test_empty_generator_keeps_the_apps_content_length(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Length", "0")])
        yield from ()

    assert serve(backend, app).sent == [start(200, [(b"content-length", b"0")]), body(b"", False)]


def test_no_content_gets_no_content_length(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("204 No Content", [])
        return []

    assert serve(backend, app).sent == [start(204, []), body(b"", False)]


def test_write_callable(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [])
        write(b"one")
        write(b"two")
        return [b"three"]

    assert serve(backend, app).sent == [
        start(200, []),
        body(b"one", True),
        body(b"two", True),
        body(b"three", False),  # the last item of a list ends the body
    ]


def test_write_sends_headers_even_when_empty(backend: Backend) -> None:
    order: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [])
        write(b"")
        order.append("after write")
        yield b"x"

    recorder = Recorder()
    asgi_app = backend.app(WSGIWrapper(app, 100))

    async def send(message: Message) -> None:
        order.append(message["type"])
        await recorder.send(message)

    backend.run(asgi_app(http_scope(), recorder.receive, send))
    assert order[:3] == ["http.response.start", "http.response.body", "after write"]


class ClosingBody:
    """A response iterable that records close() and can fail mid-way."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_after:
                raise RuntimeError("boom in iteration")
            yield chunk

    def close(self) -> None:
        self.closed = True


def test_close_is_called_on_success(backend: Backend) -> None:
    response = ClosingBody([b"a", b"b"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return response

    recorder = serve(backend, app)
    assert response.closed
    assert recorder.sent[-1] == body(b"", False)


def test_close_is_called_when_iteration_fails(backend: Backend) -> None:
    response = ClosingBody([b"a", b"b"], fail_after=1)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return response

    recorder = Recorder()
    asgi_app = backend.app(WSGIWrapper(app, 100))
    with pytest.raises(RuntimeError, match="boom in iteration"):
        backend.run(asgi_app(http_scope(), recorder.receive, recorder.send))
    assert response.closed
    # Headers and the first chunk went out; the ASGI layer above closes the stream.
    assert recorder.sent == [start(200, []), body(b"a", True)]


def test_a_failing_close_after_the_last_chunk_still_delivers_the_response(
    backend: Backend,
) -> None:
    class FailingClose(ClosingBody):
        def close(self) -> None:
            super().close()
            raise RuntimeError("boom in close")

    response = FailingClose([b"whole"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "5")])
        return response

    recorder = Recorder()
    asgi_app = backend.app(WSGIWrapper(app, 100))
    with pytest.raises(RuntimeError, match="boom in close"):
        backend.run(asgi_app(http_scope(), recorder.receive, recorder.send))
    # The response had ended in the thread; the error is the app's, reported after it.
    assert recorder.sent == [start(200, [(b"content-length", b"5")]), body(b"whole", False)]


def test_the_last_chunk_is_sent_after_the_thread_returns(backend: Backend) -> None:
    # No round trip from the worker thread for the last chunk: by the time it is sent,
    # the app has returned and its iterable is closed.
    response = ClosingBody([b"one", b"two"])
    closed_when_sent: list[bool] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return response

    recorder = Recorder()

    async def send(message: Message) -> None:
        closed_when_sent.append(response.closed)
        await recorder.send(message)

    backend.run(backend.app(WSGIWrapper(app, 100))(http_scope(), recorder.receive, send))
    assert recorder.sent == [
        start(200, []),
        body(b"one", True),
        body(b"two", True),
        body(b"", False),
    ]
    assert closed_when_sent == [False, False, False, True]


def test_close_is_called_when_start_response_was_missing(backend: Backend) -> None:
    response = ClosingBody([b"data"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return response

    recorder = Recorder()
    asgi_app = backend.app(WSGIWrapper(app, 100))
    with pytest.raises(RuntimeError, match="before calling start_response"):
        backend.run(asgi_app(http_scope(), recorder.receive, recorder.send))
    assert response.closed
    assert recorder.sent == []


def test_app_that_never_calls_start_response(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return []

    with pytest.raises(RuntimeError, match="returned without calling start_response"):
        serve(backend, app)


def test_start_response_twice_without_exc_info(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        start_response("404 Not Found", [])
        return []

    with pytest.raises(RuntimeError, match="second time without exc_info"):
        serve(backend, app)


def test_exc_info_replaces_headers_not_yet_sent(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        try:
            raise ValueError("template error")
        except ValueError:
            start_response("500 Internal Server Error", [("X-Error", "1")], sys.exc_info())
        return [b"oops"]

    assert serve(backend, app).sent == [
        start(500, [(b"x-error", b"1"), (b"content-length", b"4")]),
        body(b"oops", False),
    ]


def test_exc_info_after_headers_were_sent_reraises(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise KeyError("late failure")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    recorder = Recorder()
    asgi_app = backend.app(WSGIWrapper(app, 100))
    with pytest.raises(KeyError, match="late failure"):
        backend.run(asgi_app(http_scope(), recorder.receive, recorder.send))
    assert recorder.sent == [start(200, []), body(b"partial", True)]


def test_generator_streams_chunk_by_chunk(backend: Backend) -> None:
    events: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for name in ("one", "two", "three"):
            events.append(f"produce {name}")
            yield name.encode()

    recorder = Recorder()

    async def send(message: Message) -> None:
        events.append(f"send {message.get('body', b'start').decode() or 'end'}")
        await recorder.send(message)

    backend.run(backend.app(WSGIWrapper(app, 100))(http_scope(), recorder.receive, send))
    # Each chunk is sent before the next is produced: the thread waits for the loop.
    assert events == [
        "produce one",
        "send start",
        "send one",
        "produce two",
        "send two",
        "produce three",
        "send three",
        "send end",
    ]


def test_start_response_may_be_called_during_iteration(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        yield b""
        start_response("202 Accepted", [])
        yield b"late"

    assert serve(backend, app).sent == [start(202, []), body(b"late", True), body(b"", False)]


def test_declared_content_length_is_never_exceeded(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Length", "5")])
        yield b"abc"
        yield b"defgh"
        yield b"ignored"

    assert serve(backend, app).sent == [
        start(200, [(b"content-length", b"5")]),
        body(b"abc", True),
        body(b"de", False),
    ]


def test_head_request_with_empty_body_gets_no_invented_length(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return []

    assert serve(backend, app, http_scope(method="HEAD")).sent == [start(200, []), body(b"", False)]


@pytest.mark.parametrize(
    ("status", "headers", "error", "match"),
    [
        (200, [], TypeError, "status must be a str"),
        ("OK", [], ValueError, "must look like '200 OK'"),
        ("200 OK", {"a": "b"}, TypeError, "headers must be a list"),
        ("200 OK", [("X-A", b"bytes")], TypeError, "must be str"),
        ("200 OK", [("X A", "v")], ValueError, "invalid WSGI response header name"),
        ("200 OK", [("X-A", "a\r\nSet-Cookie: x")], ValueError, "CR, LF or NUL"),
        ("200 OK", [("X-A", "\u20ac")], ValueError, "not latin-1"),
        ("200 OK", [("Content-Length", "ten")], ValueError, "invalid Content-Length"),
    ],
)
def test_start_response_validation(
    backend: Backend, status: object, headers: object, error: type[Exception], match: str
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, headers)
        return []

    with pytest.raises(error, match=match):
        serve(backend, app)


def test_str_body_chunk_is_a_type_error(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return ["text"]  # type: ignore[list-item]

    with pytest.raises(TypeError, match="must be bytes, got str"):
        serve(backend, app)


def test_body_over_the_limit_is_413_and_the_app_is_not_called(backend: Backend) -> None:
    called = False

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        nonlocal called
        called = True
        start_response("200 OK", [])
        return []

    recorder = serve(
        backend, app, http_scope(method="POST"), chunks=[b"abc", b"def", b""], max_body_size=5
    )
    assert not called
    assert recorder.sent == [start(413, [(b"content-length", b"0")]), body(b"", False)]


def test_declared_length_over_the_limit_is_413_before_reading(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise AssertionError("not called")

    scope = http_scope(method="POST", headers=[(b"content-length", b"100")])
    recorder = serve(backend, app, scope, chunks=[b"x" * 100], max_body_size=99)
    assert recorder.receive_calls == 0
    assert recorder.sent == [start(413, [(b"content-length", b"0")]), body(b"", False)]


def test_body_exactly_at_the_limit_is_accepted(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    recorder = serve(backend, app, http_scope(method="POST"), chunks=[b"12345"], max_body_size=5)
    assert recorder.sent[-1] == body(b"12345", False)


def test_disconnect_while_reading_the_body_skips_the_app(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise AssertionError("not called")

    recorder = Recorder([b"partial", b"rest"])
    recorder.incoming = recorder.incoming[:1]  # the client goes away after one chunk
    backend.run(backend.app(WSGIWrapper(app, 100))(http_scope(), recorder.receive, recorder.send))
    assert recorder.sent == []


def test_websocket_scope_is_closed(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise AssertionError("not called")

    scope = http_scope(type="websocket", scheme="ws", subprotocols=[])
    assert serve(backend, app, scope).sent == [{"type": "websocket.close"}]


def test_lifespan_scope_returns_at_once(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise AssertionError("not called")

    recorder = serve(backend, app, {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}})
    assert recorder.sent == []
    assert recorder.receive_calls == 0


def test_middleware_defaults_and_attributes(backend: Backend) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    middleware = backend.middleware(app)
    assert middleware.wsgi_app is app
    assert middleware.max_body_size == 2**16
    recorder = Recorder()
    backend.run(middleware(http_scope(), recorder.receive, recorder.send))
    assert recorder.sent[-1] == body(b"ok", False)
    assert backend.middleware(app, max_body_size=10).max_body_size == 10
