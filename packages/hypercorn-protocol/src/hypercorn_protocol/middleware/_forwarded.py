"""Parsing of proxy headers: RFC 7239 ``Forwarded`` and the ``X-Forwarded-*`` lists.

``Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`` is a comma list of
elements, each a ``;`` list of ``key=value`` pairs whose value is a token or a quoted
string (with ``\\`` escapes). Commas and semicolons inside quotes are data. Keys are
case-insensitive. A malformed header raises ``ValueError``; the caller then trusts none
of it.
"""

from __future__ import annotations

import ipaddress

Node = tuple[str, int]


def _split_unquoted(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` outside quoted strings (quotes are kept)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted or escaped:
        raise ValueError(f"unterminated quoted string in {text!r}")
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        if not value or any(char in value for char in ' "\\'):
            raise ValueError(f"invalid token {value!r}")
        return value
    if len(value) < 2 or not value.endswith('"'):
        raise ValueError(f"invalid quoted string {value!r}")
    out: list[str] = []
    escaped = False
    for char in value[1:-1]:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def parse_forwarded(values: list[str]) -> list[dict[str, str]]:
    """Parse every ``Forwarded`` header value into elements, in order (client first).

    Args:
        values: The header's values, as repeated headers form one list.

    Returns:
        One dict per element, keys lowercased, values unquoted.

    Raises:
        ValueError: The header is malformed.
    """
    elements: list[dict[str, str]] = []
    for element in _split_unquoted(",".join(values), ","):
        if not element.strip():
            continue  # empty list members are allowed by the list syntax
        pairs: dict[str, str] = {}
        for pair in _split_unquoted(element, ";"):
            pair = pair.strip()
            if not pair:
                continue
            key, equals, value = pair.partition("=")
            key = key.strip().lower()
            if not equals or not key:
                raise ValueError(f"invalid forwarded-pair {pair!r}")
            pairs[key] = _unquote(value.strip())
        elements.append(pairs)
    return elements


def split_list(values: list[str]) -> list[str]:
    """Members of a comma-list header such as ``X-Forwarded-For``, across repeats."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _port(text: str) -> int:
    if text.isdigit() and len(text) <= 5 and int(text) <= 65535:
        return int(text)
    if text.startswith("_") and len(text) > 1:
        return 0  # an obfuscated port (RFC 7239 obfport)
    raise ValueError(f"invalid port {text!r}")


def _check_ipv6(text: str) -> None:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"invalid IPv6 address {text!r}") from None


def parse_node(text: str) -> Node:
    """Parse a node (``192.0.2.1``, ``192.0.2.1:80``, ``[2001:db8::1]:4711``, ``unknown``,
    ``_hidden``, or a bare IPv6 address as ``X-Forwarded-For`` carries) into (host, port).

    The port is 0 when absent or obfuscated.

    Raises:
        ValueError: ``text`` is not a node.
    """
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError(f"unterminated IPv6 literal in {text!r}")
        _check_ipv6(address)
        if not rest:
            return address, 0
        if not rest.startswith(":"):
            raise ValueError(f"invalid node {text!r}")
        return address, _port(rest[1:])
    if text.count(":") > 1:
        _check_ipv6(text)  # bare IPv6, as X-Forwarded-For sends it
        return text, 0
    host, colon, port = text.partition(":")
    if not host or any(char in host for char in ' "[]/\\'):
        raise ValueError(f"invalid node {text!r}")
    return host, _port(port) if colon else 0


def split_host(host: str) -> tuple[str, int | None]:
    """Split a ``Host`` value into name (IPv6 without brackets) and port (None if absent)."""
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if bracket and rest[:1] == ":" and rest[1:].isdigit():
            return name, int(rest[1:])
        return (name, None) if bracket and not rest else (host, None)
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name, int(port)
    return host, None
