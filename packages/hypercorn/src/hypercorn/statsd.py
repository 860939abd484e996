"""``hypercorn.statsd``: the StatsD / DogStatsD logger (implemented in ``hypercorn_protocol``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

if TYPE_CHECKING:
    from hypercorn_protocol.server.statsd import StatsdLogger as StatsdLogger

__all__ = ["StatsdLogger"]

__getattr__, __dir__ = lazy_exports(__name__, {"StatsdLogger": "hypercorn_protocol.server.statsd"})
