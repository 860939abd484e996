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
import importlib.util
import sys
from typing import TYPE_CHECKING

from hypercorn_protocol.config import WORKER_CLASSES

if TYPE_CHECKING:
    from hypercorn_protocol.worker import WorkerFunction


class WorkerClassError(Exception):
    """The worker class is unknown or its backend is not installed."""


def _missing(worker_class: str, extra: str) -> WorkerClassError:
    return WorkerClassError(
        f"worker class {worker_class!r} is not installed: pip install 'hypercorn[{extra}]'"
    )


# What each worker class imports, for check_worker: (module, the extra that installs it).
_REQUIRED_MODULES = {
    "asyncio": (("hypercorn_asyncio", "asyncio"),),
    "uvloop": (("uvloop", "uvloop"), ("hypercorn_asyncio", "uvloop")),
    "trio": (("trio", "trio"), ("hypercorn_trio", "trio")),
}


def check_worker(worker_class: str) -> None:
    """Fail as :func:`resolve_worker` would, without importing the backend.

    The supervisor calls this: it never runs the event loop itself, so importing trio
    or the drivers there would only cost start-up time and memory.

    Raises:
        WorkerClassError: unknown class, or its backend package is missing.
    """
    required = _REQUIRED_MODULES.get(worker_class)
    if required is None:
        raise _unknown(worker_class)
    for module, extra in required:
        if not _installed(module):
            raise _missing(worker_class, extra)


def _installed(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked, as an import would fail
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _unknown(worker_class: str) -> WorkerClassError:
    return WorkerClassError(
        f"unknown worker class {worker_class!r}: use {', '.join(WORKER_CLASSES[:-1])} "
        f"or {WORKER_CLASSES[-1]}"
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
    raise _unknown(worker_class)
