"""hypercorn_cli: the ``hypercorn`` command and its process supervisor.

``main(args)`` runs the command line; ``hypercorn_cli.run.run(config)`` serves a
``Config`` the way the command does (in-process with ``workers=0``, else with worker
processes). The ``run`` function is deliberately not re-exported here, so that
``hypercorn_cli.run`` always names the module.
"""

from __future__ import annotations

from hypercorn_cli.__about__ import __version__
from hypercorn_cli.__main__ import main

__all__ = ["__version__", "main"]
