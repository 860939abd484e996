"""Mount several ASGI apps under path prefixes.

Theory of operation. HTTP and WebSocket scopes go to the first mount (in the order
given) whose prefix is a whole-segment prefix of ``scope["path"]``; the prefix is
appended to ``root_path`` and ``path`` stays as it is (the server's convention). No match
is a 404 with an empty body.

Lifespan is fanned out: every mounted app runs its own lifespan call at the same time,
each reading from its own queue. Each ``lifespan.startup`` / ``lifespan.shutdown`` the
server sends is copied to every app still running, and one answer goes back to the
server once all of them answered: ``*.complete`` if they all completed, ``*.failed``
(their messages joined with ``"; "``) if any failed, after which the dispatcher
returns and the apps still running are cancelled. An app that returns counts as
done for every later phase. An app that raises before it answered anything does not
speak lifespan (as the server itself decides for a single app): it is logged and left
out - unless every app raised, in which case the first error propagates, so the server
sees an app without lifespan support. An app sending a message that is not a lifespan
answer gets :class:`UnexpectedMessageError`, which also reaches the server.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from hypercorn_protocol.errors import UnexpectedMessageError
from hypercorn_protocol.middleware._concurrency import (
    Backend,
    Queue,
    TrioBackend,
    current_backend,
)
from hypercorn_protocol.typing import ASGIApp, ASGIReceive, ASGIScope, ASGISend, Message

_LOGGER = logging.getLogger("hypercorn.error")

# Each app's lifespan queue; only two messages (startup, shutdown) are ever sent.
MAX_QUEUE_SIZE = 10
_ANSWERS = frozenset(
    f"lifespan.{phase}.{outcome}"
    for phase in ("startup", "shutdown")
    for outcome in ("complete", "failed")
)


def _matches(path: str, prefix: str) -> bool:
    # "/api" serves "/api" and "/api/x" but not "/apiary".
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


class _Dispatcher:
    """The routing and the lifespan fan-out; the public classes only choose the loop."""

    def __init__(self, mounts: Mapping[str, ASGIApp], *, backend: Backend | None = None) -> None:
        self.mounts = {prefix.rstrip("/"): app for prefix, app in mounts.items()}
        self.backend = backend

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        for prefix, app in self.mounts.items():
            if _matches(path, prefix):
                scope = dict(scope)
                scope["root_path"] = scope.get("root_path", "") + prefix
                await app(scope, receive, send)
                return
        await _not_found(scope, send)

    async def _lifespan(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        backend = self.backend or current_backend()
        fan_out = _LifespanFanOut(list(self.mounts.values()), backend)
        await fan_out.run(scope, receive, send)


class AsyncioDispatcherMiddleware(_Dispatcher):
    """Route requests to apps mounted on path prefixes, and fan lifespan out to all of them.

    Also available as :data:`DispatcherMiddleware` - the same class, as in Hypercorn 0.18.
    Unlike 0.18's, its lifespan fan-out runs on whichever loop is running (asyncio,
    uvloop or trio) unless ``backend`` pins one, so the old name works under trio too.

    Args:
        mounts: Path prefix (``"/api"``) -> ASGI app. The first matching mount, in the
            mapping's order, wins; ``""`` or ``"/"`` matches every path.
        backend: How lifespan runs the apps concurrently. None picks the running event
            loop at each lifespan call.

    Example:
        >>> app = DispatcherMiddleware({"/api": api_app, "/": site_app})  # doctest: +SKIP
    """


#: Hypercorn 0.18's name for :class:`AsyncioDispatcherMiddleware` (the very same class).
DispatcherMiddleware = AsyncioDispatcherMiddleware


class TrioDispatcherMiddleware(_Dispatcher):
    """The dispatcher with its lifespan fan-out pinned to trio."""

    def __init__(self, mounts: Mapping[str, ASGIApp]) -> None:
        super().__init__(mounts, backend=TrioBackend())


async def _not_found(scope: ASGIScope, send: ASGISend) -> None:
    if scope["type"] == "http":
        await send(
            {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})
    elif scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 404,
                    "headers": [(b"content-length", b"0")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b""})
        else:
            await send({"type": "websocket.close", "code": 1000})


class _LifespanFanOut:
    """One lifespan call of the dispatcher: the apps' calls and their answers."""

    def __init__(self, apps: list[ASGIApp], backend: Backend) -> None:
        self.apps = apps
        self.backend = backend
        self.inboxes: list[Queue] = [backend.queue(MAX_QUEUE_SIZE) for _ in apps]
        # (app index, message sent by the app, or None when the app's call ended)
        self.answers: Queue = backend.queue(math.inf)
        self.finished: set[int] = set()
        self.answered: set[int] = set()
        self.errors: list[BaseException] = []
        self.fatal: UnexpectedMessageError | None = None

    async def run(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        calls = [self._caller(index, app, scope) for index, app in enumerate(self.apps)]

        async def main() -> None:
            await self._relay(receive, send)

        await self.backend.run_alongside(main, calls)

    def _caller(self, index: int, app: ASGIApp, scope: ASGIScope) -> Any:
        inbox = self.inboxes[index]

        async def app_send(message: Message) -> None:
            if message.get("type") not in _ANSWERS:
                raise UnexpectedMessageError("lifespan", message.get("type"))
            self.answered.add(index)
            await self.answers.put((index, message))

        async def call() -> None:
            try:
                await app(dict(scope), inbox.get, app_send)
            except UnexpectedMessageError as error:
                # A broken app, not a lifespan-unaware one: the server must see it.
                self.fatal = self.fatal or error
            except Exception as error:
                if index in self.answered:
                    _LOGGER.exception("ASGI lifespan: the app mounted as #%d raised", index)
                else:
                    self.errors.append(error)
                    _LOGGER.warning(
                        "ASGI app mounted as #%d does not support lifespan (%s: %s)",
                        index,
                        type(error).__name__,
                        error,
                    )
            await self.answers.put((index, None))

        return call

    async def _relay(self, receive: ASGIReceive, send: ASGISend) -> None:
        while True:
            message = await receive()
            phase = message["type"].removeprefix("lifespan.")
            waiting = set(range(len(self.apps))) - self.finished
            for index in waiting:
                await self.inboxes[index].put(message)
            failures: list[str] = []
            while waiting:
                index, answer = await self.answers.get()
                if answer is None:
                    self.finished.add(index)
                    waiting.discard(index)
                elif answer["type"] == f"lifespan.{phase}.complete":
                    waiting.discard(index)
                elif answer["type"] == f"lifespan.{phase}.failed":
                    waiting.discard(index)
                    failures.append(str(answer.get("message", "")))
            if self.fatal is not None:
                raise self.fatal
            if len(self.errors) == len(self.apps) and self.errors:
                raise self.errors[0]
            if failures:
                await send({"type": f"lifespan.{phase}.failed", "message": "; ".join(failures)})
                return  # the server stops here; the apps still running are cancelled
            await send({"type": f"lifespan.{phase}.complete"})
            if phase != "startup":
                # Let the apps return by themselves after answering (the server bounds
                # this wait with shutdown_timeout and cancels what lingers).
                while len(self.finished) < len(self.apps):
                    index, answer = await self.answers.get()
                    if answer is None:
                        self.finished.add(index)
                return


__all__ = [
    "MAX_QUEUE_SIZE",
    "AsyncioDispatcherMiddleware",
    "DispatcherMiddleware",
    "TrioDispatcherMiddleware",
]
