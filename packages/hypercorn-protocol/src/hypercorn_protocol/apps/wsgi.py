"""WSGI (PEP 3333) serving without IO: the environ, the response rules, body buffering.

Theory of operation. A driver turns a :class:`WSGIWrapper` into an ASGI app:

1. ``lifespan`` scopes return at once; ``websocket`` scopes are closed.
2. The request body is read with a :class:`RequestBodyReader` (whole body in memory,
   capped at ``max_body_size``; over the cap the driver answers
   :func:`empty_response` ``(413)`` and never calls the app).
3. :func:`build_environ` makes the environ; the driver calls :func:`run_wsgi` in a
   worker thread through a :class:`MessageRelay`: every chunk but the last hops to the
   event loop, is sent, and the thread waits for that (the backpressure: a WSGI thread
   cannot produce faster than the client reads); the last chunk, with the held-back
   start when the body is one chunk, is sent by the loop once the thread returns.

:class:`ThreadedWSGIApp` does all three; a driver only says how to cross threads.

:func:`run_wsgi` applies the PEP 3333 rules: ``start_response`` validates and stores the
status and headers but sends nothing; the headers go out with the first non-empty body
chunk (or the first ``write()``), or at the end when the body is empty - then with
``content-length: 0`` unless the app gave a length. ``exc_info`` may replace headers that
were not sent yet and is re-raised once they were. ``close()`` is always called on the
returned iterable. A list or tuple body gets a ``content-length`` computed up front, so
small responses are not chunked.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeAlias

from hypercorn_protocol.typing import (
    ASGIReceive,
    ASGIScope,
    ASGISend,
    Headers,
    Message,
    WSGIEnviron,
    WSGIFramework,
)

SendStart: TypeAlias = Callable[[int, Headers], None]
SendBody: TypeAlias = Callable[[bytes, bool], None]
ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)

#: Default for the WSGI middlewares' ``max_body_size`` (the server uses the config's).
MAX_BODY_SIZE = 2**16

#: Hypercorn 0.18's name (in ``hypercorn.middleware.wsgi``) for a WSGI callable.
WSGICallable: TypeAlias = WSGIFramework

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")
_NO_BODY_STATUSES = frozenset({204, 304})


class WSGIWrapper:
    """A WSGI application and the request-body limit it is served with.

    Attributes:
        app: The ``(environ, start_response) -> iterable`` callable.
        max_body_size: Largest request body buffered for it, in bytes; larger is 413.
    """

    __slots__ = ("app", "max_body_size")

    def __init__(self, app: WSGIFramework, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    def __repr__(self) -> str:
        return f"WSGIWrapper({self.app!r}, max_body_size={self.max_body_size})"


# --------------------------------------------------------------------------- request


class RequestBodyReader:
    """Collects ``http.request`` bodies up to a size limit.

    Feed it every message ``receive()`` returns until :attr:`done`; then exactly one of
    :attr:`complete`, :attr:`too_large` or :attr:`disconnected` is true. A declared
    ``content-length`` over the limit makes it :attr:`too_large` before any read.
    """

    __slots__ = ("_chunks", "_size", "complete", "disconnected", "max_size", "too_large")

    def __init__(self, scope: ASGIScope, max_size: int) -> None:
        """Start reading the body of ``scope``'s request.

        Args:
            scope: The HTTP scope (its ``content-length`` header is checked up front).
            max_size: Largest accepted body, in bytes.
        """
        self.max_size = max_size
        self._chunks: list[bytes] = []
        self._size = 0
        declared = _declared_length(scope)
        self.too_large = declared is not None and declared > max_size
        self.complete = False
        self.disconnected = False

    @property
    def done(self) -> bool:
        """Whether reading is over (complete, too large or disconnected)."""
        return self.complete or self.too_large or self.disconnected

    @property
    def body(self) -> bytes:
        """The body read so far."""
        return b"".join(self._chunks)

    def feed(self, message: Message) -> None:
        """Take one message from ``receive()``.

        Args:
            message: ``http.request`` or ``http.disconnect``.
        """
        if self.done:
            return
        kind = message["type"]
        if kind == "http.request":
            chunk = bytes(message.get("body", b""))
            self._size += len(chunk)
            if self._size > self.max_size:
                self.too_large = True
                self._chunks.clear()
                return
            if chunk:
                self._chunks.append(chunk)
            if not message.get("more_body", False):
                self.complete = True
        elif kind == "http.disconnect":
            self.disconnected = True


def _declared_length(scope: ASGIScope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def empty_response(status: int) -> tuple[Message, Message]:
    """The two ASGI messages of a response with no body (``content-length: 0``).

    Args:
        status: The HTTP status code, e.g. 413.
    """
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-length", b"0")],
    }
    body: Message = {"type": "http.response.body", "body": b"", "more_body": False}
    return start, body


def _wsgi_str(text: str) -> str:
    # PEP 3333 "native strings": the UTF-8 bytes, each byte one latin-1 character.
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _split_root_path(root_path: str, path: str) -> tuple[str, str]:
    """``(SCRIPT_NAME, PATH_INFO)``; a path outside ``root_path`` is taken as relative."""
    root = root_path.rstrip("/")
    if not root:
        return "", path
    if path == root or path.startswith(root + "/"):
        return root, path[len(root) :]
    # A proxy that strips the prefix sends the relative path: keep it whole.
    return root, path


def _server_address(scope: ASGIScope, host_header: str | None) -> tuple[str, str]:
    server = scope.get("server")
    if server is not None and server[1] is not None:
        return str(server[0]), str(server[1])
    default_port = "443" if scope.get("scheme") in ("https", "wss") else "80"
    if not host_header:
        return "localhost", default_port
    if host_header.startswith("["):  # [IPv6]:port
        end = host_header.find("]")
        name, rest = host_header[: end + 1], host_header[end + 1 :]
        return name, rest[1:] if rest.startswith(":") else default_port
    name, sep, port = host_header.partition(":")
    return name, port if sep and port else default_port


def build_environ(scope: ASGIScope, body: bytes) -> WSGIEnviron:
    """Build the PEP 3333 environ for an HTTP scope and its whole body.

    ``SCRIPT_NAME`` is ``root_path`` and ``PATH_INFO`` the rest of ``path`` (as
    "WSGI strings": UTF-8 bytes decoded as latin-1). ``SERVER_PORT`` and ``REMOTE_PORT``
    are strings. Repeated headers are joined with ``,`` (``cookie`` with ``; ``).
    Header names with ``_`` are dropped, since ``X_Forwarded_For`` would otherwise
    overwrite ``X-Forwarded-For`` (``HTTP_X_FORWARDED_FOR``). ``CONTENT_LENGTH`` is the
    buffered body length, so chunked and HTTP/2 bodies are visible to every framework.
    Unix-socket scopes (``client``/``server`` ``None``) get ``REMOTE_ADDR=""`` and the
    server name from the ``host`` header.

    Args:
        scope: An ASGI ``http`` scope.
        body: The complete request body.

    Returns:
        The environ dict, ``wsgi.input`` reading ``body``.
    """
    script_name, path_info = _split_root_path(scope.get("root_path", ""), scope["path"])
    environ: WSGIEnviron = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _wsgi_str(script_name),
        "PATH_INFO": _wsgi_str(path_info),
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    has_length = bool(body)
    host: str | None = None
    for raw_name, raw_value in scope.get("headers", ()):
        if b"_" in raw_name:
            continue
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_LENGTH":
            has_length = True
            continue
        if name == "HOST" and host is None:
            host = value
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{separator}{value}"
        else:
            environ[key] = value
    if has_length:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ["SERVER_NAME"], environ["SERVER_PORT"] = _server_address(scope, host)
    client = scope.get("client")
    if client is None:
        environ["REMOTE_ADDR"] = ""
    else:
        environ["REMOTE_ADDR"] = str(client[0])
        if len(client) > 1 and client[1] is not None:
            environ["REMOTE_PORT"] = str(client[1])
    return environ


# --------------------------------------------------------------------------- response


def _parse_status(status: object) -> int:
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be a str like '200 OK', got {type(status).__name__}")
    code = status[:3]
    if not (code.isascii() and code.isdigit() and (len(status) == 3 or status[3] == " ")):
        raise ValueError(f"WSGI status must look like '200 OK', got {status!r}")
    value = int(code)
    if value < 100:
        raise ValueError(f"WSGI status code must be 100-999, got {status!r}")
    return value


def _encode_headers(headers: object) -> tuple[Headers, int | None]:
    if not isinstance(headers, list | tuple):
        raise TypeError(f"WSGI response headers must be a list, got {type(headers).__name__}")
    encoded: Headers = []
    length: int | None = None
    for item in headers:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise TypeError(f"WSGI response header must be a (name, value) tuple, got {item!r}")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"WSGI response header name and value must be str, got {item!r}")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid WSGI response header name {name!r}")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise ValueError(f"WSGI response header {name!r} has a CR, LF or NUL in its value")
        try:
            raw_value = value.strip().encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"WSGI response header {name!r} value is not latin-1: {value!r}"
            ) from None
        raw_name = name.lower().encode("ascii")
        if raw_name == b"content-length":
            if not raw_value.isdigit():
                raise ValueError(f"invalid Content-Length {value!r} in WSGI response")
            length = int(raw_value)
        encoded.append((raw_name, raw_value))
    return encoded, length


class _Response:
    """One response's PEP 3333 state: ``start_response``, ``write`` and lazy headers."""

    def __init__(self, method: str, send_start: SendStart, send_body: SendBody) -> None:
        self.head = method == "HEAD"
        self._send_start = send_start
        self._send_body = send_body
        self.status: int | None = None
        self.headers: Headers = []
        self.content_length: int | None = None  # declared by the app
        self.length_hint: int | None = None  # computed from a list body
        self.headers_sent = False
        self.ended = False
        self._sent = 0

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None and exc_info[1] is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # break the frame <-> traceback reference cycle
        elif self.status is not None:
            raise RuntimeError("start_response() was called a second time without exc_info")
        code = _parse_status(status)
        self.headers, self.content_length = _encode_headers(headers)
        self.status = code
        return self.write

    def write(self, data: bytes) -> None:
        # The legacy imperative API: sends the headers even for b"".
        if self.status is None:
            raise RuntimeError("write() was called before start_response()")
        self.send(_as_bytes(data), final=False)

    def send(self, data: bytes, *, final: bool) -> None:
        if self.ended:
            return
        if self.content_length is not None:
            remaining = self.content_length - self._sent
            if len(data) >= remaining:
                # Never send past the declared length; the rest of the body is dropped.
                data, final = data[:remaining], True
        if not self.headers_sent:
            self._start()
        self._sent += len(data)
        self.ended = final
        self._send_body(data, not final)

    def finish(self) -> None:
        if not self.headers_sent:
            if self.status is None:
                raise RuntimeError("the WSGI application returned without calling start_response()")
            if self.content_length is None and not self.head:
                self.length_hint = 0
            self.send(b"", final=True)
        elif not self.ended:
            self.ended = True
            self._send_body(b"", False)

    def _start(self) -> None:
        if self.status is None:
            raise RuntimeError(
                "the WSGI application produced body data before calling start_response()"
            )
        status = self.status
        may_have_length = status >= 200 and status not in _NO_BODY_STATUSES
        if self.content_length is None and self.length_hint is not None and may_have_length:
            self.headers.append((b"content-length", str(self.length_hint).encode("ascii")))
            self.content_length = self.length_hint
        self.headers_sent = True
        self._send_start(status, self.headers)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"WSGI body chunks must be bytes, got {type(chunk).__name__}")


def run_wsgi(
    wrapper: WSGIWrapper, environ: WSGIEnviron, send_start: SendStart, send_body: SendBody
) -> None:
    """Call the WSGI app and send its response; runs in a worker thread.

    ``send_start(status, headers)`` is only ever called immediately before a
    ``send_body(data, more_body)``, so a driver may hold the start and carry both in one
    hop to the event loop. Both must block until the message is handed over.

    Args:
        wrapper: The application.
        environ: From :func:`build_environ`.
        send_start: Blocking ``http.response.start`` sender.
        send_body: Blocking ``http.response.body`` sender.

    Raises:
        RuntimeError: The app never called ``start_response``, or called it twice
            without ``exc_info``.
        Exception: Whatever the app raised (the driver's ASGI layer turns it into a
            500, or closes the stream once headers were sent).
    """
    response = _Response(environ["REQUEST_METHOD"], send_start, send_body)
    result: Iterable[bytes] = wrapper.app(environ, response.start_response)
    try:
        if isinstance(result, list | tuple):
            _send_sequence(response, result)
        else:
            for chunk in result:
                data = _as_bytes(chunk)
                if data:
                    response.send(data, final=False)
                    if response.ended:
                        break
        response.finish()
    finally:
        close: Any = getattr(result, "close", None)
        if close is not None:
            close()


def _send_sequence(response: _Response, chunks: Sequence[object]) -> None:
    # The whole body is known: send a content-length and end with the last chunk.
    data = [_as_bytes(chunk) for chunk in chunks]
    total = sum(len(chunk) for chunk in data)
    # An empty body for HEAD says nothing about the length of the GET response.
    if not response.headers_sent and (total or not response.head):
        response.length_hint = total
    last = max((index for index, chunk in enumerate(data) if chunk), default=-1)
    for index in range(last + 1):
        if data[index]:
            response.send(data[index], final=index == last)


class MessageRelay:
    """Carries :func:`run_wsgi`'s output to the ASGI ``send`` in as few thread hops as possible.

    The start message is held back and sent together with the first body message, and the
    last body message is not sent from the worker thread at all: it is kept in
    :attr:`final` for the event loop to send once the thread returns. A response that fits
    in one chunk (the usual case) therefore costs no hop beyond the thread call itself;
    each earlier chunk costs one blocking hop, so a slow client still slows the app down
    instead of filling memory.

    Args:
        send_messages: Blocking; sends the messages in order through the ASGI ``send``.
    """

    __slots__ = ("_pending", "_send_messages", "final")

    def __init__(self, send_messages: Callable[[list[Message]], None]) -> None:
        self._send_messages = send_messages
        self._pending: list[Message] = []
        self.final: list[Message] = []

    def send_start(self, status: int, headers: Headers) -> None:
        """Hold ``http.response.start`` until the first body message."""
        self._pending.append({"type": "http.response.start", "status": status, "headers": headers})

    def send_body(self, data: bytes, more_body: bool) -> None:
        """Send a body chunk now, or keep the last one for the loop."""
        messages = self._pending
        self._pending = []
        messages.append({"type": "http.response.body", "body": data, "more_body": more_body})
        if more_body:
            self._send_messages(messages)
        else:
            self.final = messages


# --------------------------------------------------------------------------- bridge


class ThreadedWSGIApp:
    """An ASGI app that serves a :class:`WSGIWrapper`, steps 1-3 above.

    A driver subclasses it with its two ways of crossing threads: :meth:`blocking_sender`
    (used in the worker thread to hand messages to the loop and wait until they are
    sent) and :meth:`run_in_thread`.
    """

    def __init__(self, wrapper: WSGIWrapper) -> None:
        """Wrap ``wrapper`` for serving.

        Args:
            wrapper: The WSGI app and its body limit.
        """
        self.wrapper = wrapper

    @property
    def wsgi_app(self) -> WSGIFramework:
        """The wrapped WSGI callable."""
        return self.wrapper.app

    @property
    def max_body_size(self) -> int:
        """Largest request body buffered, in bytes."""
        return self.wrapper.max_body_size

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        """Handle one ASGI connection scope."""
        kind = scope["type"]
        if kind == "http":
            await self._handle_http(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close"})

    async def _handle_http(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        reader = RequestBodyReader(scope, self.wrapper.max_body_size)
        while not reader.done:
            reader.feed(await receive())
        if reader.disconnected:
            return
        if reader.too_large:
            for message in empty_response(413):
                await send(message)
            return

        async def send_all(messages: list[Message]) -> None:
            for message in messages:
                await send(message)

        relay = MessageRelay(self.blocking_sender(send_all))
        environ = build_environ(scope, reader.body)
        try:
            await self.run_in_thread(
                run_wsgi, self.wrapper, environ, relay.send_start, relay.send_body
            )
        except Exception:
            # A response that ended before the app's close() raised still goes out whole.
            await send_all(relay.final)
            raise
        # The last message is sent from here, saving the thread a round trip.
        await send_all(relay.final)

    def blocking_sender(
        self, send_all: Callable[[list[Message]], Coroutine[Any, Any, None]]
    ) -> Callable[[list[Message]], None]:
        """A callable for the worker thread that runs ``send_all`` on the loop and waits."""
        raise NotImplementedError

    async def run_in_thread(self, call: Callable[..., None], *args: Any) -> None:
        """Run ``call(*args)`` in a worker thread and wait for it."""
        raise NotImplementedError


__all__ = [
    "MAX_BODY_SIZE",
    "ExcInfo",
    "MessageRelay",
    "RequestBodyReader",
    "SendBody",
    "SendStart",
    "ThreadedWSGIApp",
    "WSGICallable",
    "WSGIWrapper",
    "build_environ",
    "empty_response",
    "run_wsgi",
]
