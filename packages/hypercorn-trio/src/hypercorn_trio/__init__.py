"""hypercorn-trio: the trio driver of the hypercorn protocol core."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import trio
from hypercorn_protocol.apps.loading import wrap_app
from hypercorn_protocol.config import Config
from hypercorn_trio.__about__ import __version__
from hypercorn_trio.run import ReloadTrigger, ShutdownTrigger, worker_serve


async def serve(
    app: Any,
    config: Config,
    *,
    shutdown_trigger: ShutdownTrigger | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    mode: Literal["asgi", "wsgi"] | None = None,
) -> None:
    """Serve an ASGI or WSGI app on the running trio loop.

    ``await nursery.start(serve, app, config)`` returns the bound addresses, e.g.
    ``["http://127.0.0.1:54321"]``, once connections are accepted (the way to learn an
    ephemeral port, ``127.0.0.1:0``).

    Args:
        app: the ASGI 3 or WSGI application.
        config: where and how to serve.
        shutdown_trigger: awaited; when it returns the server shuts down gracefully.
            Without one, SIGINT and SIGTERM do.
        task_status: set by ``nursery.start``; receives the bound addresses.
        mode: ``"asgi"`` or ``"wsgi"`` to skip auto-detection.

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
        await worker_serve(
            wrapper, config, shutdown_trigger=shutdown_trigger, task_status=task_status
        )
        return
    reload = ReloadTrigger(shutdown_trigger)
    await worker_serve(wrapper, config, shutdown_trigger=reload.wait, task_status=task_status)
    if reload.requested:
        from hypercorn_protocol.server.reloading import restart_process

        restart_process()


__all__ = ["__version__", "serve"]
