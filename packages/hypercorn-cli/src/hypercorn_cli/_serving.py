"""Serving inside a supervised worker, with reports back to the supervisor.

``READY`` once lifespan startup completed and the worker accepts connections (so a
worker it replaces may now stop, and a failure before it is a startup failure),
``(FAILED, exit code, message)`` when the worker cannot start (``_worker_process``),
and ``DRAINING`` as soon as the worker starts shutting down, whoever asked: the
supervisor, a SIGTERM aimed at this worker, or ``max_requests`` (then the supervisor
starts the replacement at once, while this one finishes its requests).

The drivers' ``worker_serve`` does the serving; this module only supplies the stop
trigger (the supervisor's event or a flag, polled every ``POLL_INTERVAL``) and the
readiness hook each driver offers (``on_bound`` for asyncio, ``task_status`` for trio).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from hypercorn_protocol.apps.loading import AppWrapper, load_application
from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets

if TYPE_CHECKING:
    import trio

READY = "ready"
DRAINING = "draining"
FAILED = "failed"
#: How often a worker looks at its stop flag.
POLL_INTERVAL = 0.1

Notify = Callable[[str], None]
StopRequested = Callable[[], bool]
Serve = Callable[[AppWrapper, Config, Sockets, StopRequested, Notify], None]


def prepare_backend(worker_class: str) -> Serve:
    """Import the backend for ``worker_class`` and return its serve function.

    Called before privileges are dropped, so the server's own modules are imported
    while they are surely readable.
    """
    if worker_class == "trio":
        import hypercorn_trio.run  # noqa: F401

        return _serve_trio
    import hypercorn_asyncio.run  # noqa: F401

    if worker_class == "uvloop":
        import uvloop  # noqa: F401

        return functools.partial(_serve_asyncio, use_uvloop=True)
    return functools.partial(_serve_asyncio, use_uvloop=False)


def serve_supervised(
    serve: Serve, config: Config, sockets: Sockets, stop_requested: StopRequested, notify: Notify
) -> None:
    """Load the application and serve it until ``stop_requested()`` turns true."""
    app = load_application(config.application_path, config.wsgi_max_body_size)
    serve(app, config, sockets, stop_requested, notify)


def _serve_asyncio(
    app: AppWrapper,
    config: Config,
    sockets: Sockets,
    stop_requested: StopRequested,
    notify: Notify,
    *,
    use_uvloop: bool,
) -> None:
    import asyncio

    from hypercorn_asyncio.run import run, worker_serve

    ready = _Started(notify)

    async def trigger() -> None:
        try:
            while not stop_requested():
                await asyncio.sleep(POLL_INTERVAL)
        finally:  # also when cancelled: the worker is stopping on its own
            ready.draining()

    async def main() -> None:
        await worker_serve(
            app,
            config,
            sockets=sockets,
            shutdown_trigger=trigger,
            on_bound=ready.started,
        )

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if use_uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    run(main(), debug=config.debug, loop_factory=loop_factory)


class _Started:
    """Reports readiness (as a ``trio.TaskStatus`` or an ``on_bound`` callback), and
    draining only once the worker was ready: a trigger cancelled because startup
    failed is a startup failure, not a worker stopping by itself."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify
        self._ready = False

    def started(self, value: Any = None) -> None:
        self._ready = True
        self._notify(READY)

    def draining(self) -> None:
        if self._ready:
            self._notify(DRAINING)


def _serve_trio(
    app: AppWrapper,
    config: Config,
    sockets: Sockets,
    stop_requested: StopRequested,
    notify: Notify,
) -> None:
    import trio
    from hypercorn_trio.run import worker_serve

    ready = _Started(notify)

    async def trigger() -> None:
        try:
            while not stop_requested():
                await trio.sleep(POLL_INTERVAL)
        finally:
            ready.draining()

    status = cast("trio.TaskStatus[list[str]]", ready)
    trio.run(
        functools.partial(
            worker_serve, app, config, sockets=sockets, shutdown_trigger=trigger, task_status=status
        )
    )
