"""Building ASGI scopes from a parsed request head."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from hypercorn_protocol.typing import ASGIScope, Headers

HTTP_ASGI = {"version": "3.0", "spec_version": "2.3"}
Address = tuple[str, int] | None


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into (raw_path, query_string).

    Absolute-form targets (``http://host/path``) are reduced to their path.
    """
    if target[:1] != b"/" and target != b"*":
        scheme_end = target.find(b"://")
        if scheme_end != -1:
            path_start = target.find(b"/", scheme_end + 3)
            target = b"/" if path_start == -1 else target[path_start:]
    raw_path, _, query = target.partition(b"?")
    return raw_path, query


def decode_path(raw_path: bytes) -> str:
    # The bytes are ASCII on the wire (h11 and h2 enforce it); percent-escapes may
    # hold UTF-8, and invalid sequences are replaced rather than failing the request.
    return unquote(raw_path.decode("latin-1"))


def http_scope(
    *,
    http_version: str,
    method: str,
    scheme: str,
    raw_path: bytes,
    query_string: bytes,
    root_path: str,
    headers: Headers,
    client: Address,
    server: Address,
    state: dict[str, Any] | None,
    extensions: dict[str, Any],
) -> ASGIScope:
    scope: ASGIScope = {
        "type": "http",
        "asgi": dict(HTTP_ASGI),
        "http_version": http_version,
        "method": method,
        "scheme": scheme,
        "path": decode_path(raw_path),
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
        "extensions": extensions,
    }
    if state is not None:
        scope["state"] = dict(state)
    return scope


def host_header(headers: Headers) -> bytes | None:
    for name, value in headers:
        if name == b"host":
            return value
    return None
