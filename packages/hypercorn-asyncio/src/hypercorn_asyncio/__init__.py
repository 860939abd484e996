"""hypercorn-asyncio: the asyncio (and uvloop) driver of the hypercorn protocol core."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from hypercorn_asyncio.__about__ import __version__
from hypercorn_asyncio.run import BoundCallback, ReloadTrigger, worker_serve
from hypercorn_protocol.apps.loading import wrap_app
from hypercorn_protocol.config import Config


async def serve(
    app: Any,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    mode: Literal["asgi", "wsgi"] | None = None,
    on_bound: BoundCallback | None = None,
) -> None:
    """Serve an ASGI or WSGI app on the running asyncio (or uvloop) loop.

    Args:
        app: the ASGI 3 or WSGI application.
        config: where and how to serve.
        shutdown_trigger: awaited; when it returns the server shuts down gracefully.
            Without one, SIGINT and SIGTERM do.
        mode: ``"asgi"`` or ``"wsgi"`` to skip auto-detection.
        on_bound: called with the bound addresses, e.g. ``["http://127.0.0.1:8000"]``,
            once connections are accepted (use it to learn an ephemeral port).

    With ``config.use_reloader``, an edit to the program's source files that compiles
    and imports (checked in a fresh interpreter) shuts the server down gracefully and
    starts the same command again; a broken edit is logged and the server keeps serving.
    """
    if config.debug:
        warnings.warn("The config `debug` has no effect when using serve", stacklevel=2)
    if config.workers != 1:
        warnings.warn("The config `workers` has no effect when using serve", stacklevel=2)
    wrapper = wrap_app(app, config.wsgi_max_body_size, mode)
    if not config.use_reloader:
        await worker_serve(wrapper, config, shutdown_trigger=shutdown_trigger, on_bound=on_bound)
        return
    reload = ReloadTrigger(shutdown_trigger)
    await worker_serve(wrapper, config, shutdown_trigger=reload.wait, on_bound=on_bound)
    if reload.requested:
        from hypercorn_protocol.server.reloading import restart_process

        restart_process()


__all__ = ["__version__", "serve"]
