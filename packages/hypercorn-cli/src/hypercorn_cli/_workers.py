"""Worker classes: find the worker function for ``config.worker_class``.

A worker function has the shape ``worker(config, sockets=None, shutdown_event=None)``:
it loads ``config.application_path`` itself, serves ``sockets`` until
``shutdown_event`` is set (or, in-process, until SIGINT/SIGTERM) and returns.
Optional backends are imported here, lazily, so a missing one is a one-line error
that names the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

WorkerFunction = Callable[..., Any]


class WorkerClassError(Exception):
    """The worker class is unknown or its backend is not installed."""


def _missing(worker_class: str, extra: str) -> WorkerClassError:
    return WorkerClassError(
        f"worker class {worker_class!r} is not installed: pip install 'hypercorn[{extra}]'"
    )


def resolve_worker(worker_class: str) -> WorkerFunction:
    """Return the worker function for ``worker_class`` (``asyncio``, ``uvloop`` or ``trio``).

    Raises:
        WorkerClassError: unknown class, or its backend package is missing.
    """
    if worker_class == "asyncio":
        from hypercorn_asyncio.run import asyncio_worker

        return asyncio_worker
    if worker_class == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ModuleNotFoundError as exc:
            if exc.name != "uvloop":
                raise
            raise _missing("uvloop", "uvloop") from exc
        from hypercorn_asyncio.run import uvloop_worker

        return uvloop_worker
    if worker_class == "trio":
        try:
            import trio  # noqa: F401

            trio_run = importlib.import_module("hypercorn_trio.run")
        except ImportError as exc:
            if exc.name not in ("trio", "hypercorn_trio", "hypercorn_trio.run"):
                raise
            raise _missing("trio", "trio") from exc
        trio_worker: WorkerFunction = trio_run.trio_worker
        return trio_worker
    raise WorkerClassError(f"unknown worker class {worker_class!r}: use asyncio, uvloop or trio")
