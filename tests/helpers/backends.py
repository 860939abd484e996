"""The event-loop backends every driver-level test runs on."""

from __future__ import annotations

#: ``-k`` / worker class names: asyncio and uvloop (``hypercorn_asyncio``), trio.
BACKENDS = ("asyncio", "uvloop", "trio")
#: The backends of ``hypercorn_asyncio`` (what needs an asyncio loop, e.g. Django).
ASYNCIO_BACKENDS = ("asyncio", "uvloop")
