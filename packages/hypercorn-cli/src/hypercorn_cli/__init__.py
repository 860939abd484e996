"""hypercorn_cli: the ``hypercorn`` command and its process supervisor.

``main(args)`` runs the command line; ``hypercorn_cli.run.run(config)`` serves a
``Config`` the way the command does (in-process with ``workers=0``, else with worker
processes). The ``run`` function is deliberately not re-exported here, so that
``hypercorn_cli.run`` always names the module.

``main`` is imported on first use: a worker process starts from
``hypercorn_cli._spawn`` and never needs the command line or the supervisor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypercorn_cli.__about__ import __version__

if TYPE_CHECKING:
    from hypercorn_cli.__main__ import main

__all__ = ["__version__", "main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from hypercorn_cli.__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
