"""WSGI hello world (for a future ``wsgi`` benchmark): 13-byte ``text/plain`` body."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]

BODY = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer every request with the canned body."""
    start_response("200 OK", HEADERS)
    return [BODY]
