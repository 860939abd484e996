"""Filters over the events a sans-IO connection produced."""

from __future__ import annotations

from collections.abc import Iterable

from hypercorn_protocol import events as ev


def starts(events: Iterable[ev.Event]) -> list[ev.StartApp]:
    """The ``StartApp`` events, in order."""
    return [e for e in events if isinstance(e, ev.StartApp)]


def app_messages(events: Iterable[ev.Event], stream_id: int) -> list[dict[str, object]]:
    """The ASGI messages delivered to one stream's app, in order, as plain dicts."""
    return [
        dict(e.message) for e in events if isinstance(e, ev.AppMessage) and e.stream_id == stream_id
    ]
