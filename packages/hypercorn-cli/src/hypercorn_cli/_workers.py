"""Worker classes: find the driver's worker entry point for ``config.worker_class``.

The one registry of worker classes: the names are ``hypercorn_protocol.config``'s
``WORKER_CLASSES`` (the option table, also the command line's choices), and each maps
to a driver's :class:`~hypercorn_protocol.worker.WorkerFunction`. Both ways of serving
call it: ``-w 0`` in this process, and every spawned worker process
(``_worker_process``). Optional backends are imported here, lazily, so a missing one is
a one-line error that names the extra to install.
"""

from __future__ import annotations

import importlib

from hypercorn_protocol.config import WORKER_CLASSES
from hypercorn_protocol.worker import WorkerFunction


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
    raise WorkerClassError(
        f"unknown worker class {worker_class!r}: use {', '.join(WORKER_CLASSES[:-1])} "
        f"or {WORKER_CLASSES[-1]}"
    )
