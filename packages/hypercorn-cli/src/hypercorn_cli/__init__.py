"""hypercorn_cli: the ``hypercorn`` command and its process supervisor.

``main(args)`` runs the command line; ``run(config)`` serves a ``Config`` the way the
command does (in-process with ``workers=0``, else with worker processes).
"""

from __future__ import annotations

from hypercorn_cli.__about__ import __version__
from hypercorn_cli.__main__ import main
from hypercorn_cli.run import run

__all__ = ["__version__", "main", "run"]
