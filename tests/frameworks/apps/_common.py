"""Pieces every framework app uses: the state directory and the streaming gate.

A streaming endpoint sends its first chunk, then waits until the test calls the
release endpoint with the same token; a server that buffered the response would never
deliver the first chunk on its own, so the test would time out instead of passing.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

#: How long a stream waits for its release before giving up (the test fails then).
GATE_SECONDS = 20.0

RELEASED: set[str] = set()


def state_dir() -> Path:
    return Path(os.environ["STATE_DIR"])


def record(name: str, text: str) -> None:
    """Write a file the test reads (written to a temporary name, then renamed)."""
    target = state_dir() / name
    partial = target.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(target)


def released(token: str, started: float) -> bool | None:
    """True once released, None once the gate has timed out, else False."""
    if token in RELEASED:
        return True
    if time.monotonic() - started > GATE_SECONDS:
        return None
    return False


def wait_released_sync(token: str) -> bool:
    started = time.monotonic()
    while (state := released(token, started)) is False:
        time.sleep(0.01)
    return bool(state)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
