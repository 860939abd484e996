"""``hypercorn.run``: the process supervisor behind the ``hypercorn`` command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_cli.run import run as run

__all__ = ["run"]

__getattr__, __dir__ = lazy_exports(__name__, {"run": "hypercorn_cli.run"})
