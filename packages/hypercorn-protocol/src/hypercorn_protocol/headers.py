"""Header helpers shared by the HTTP versions: lookup, Date caching, Server/Alt-Svc,
validation of what an app sends."""

from __future__ import annotations

import re
from collections.abc import Iterable
from time import gmtime
from typing import Any

from hypercorn_protocol.errors import InvalidMessageError
from hypercorn_protocol.settings import ProtocolSettings
from hypercorn_protocol.typing import Headers

# RFC 9110 token and field-value rules: anything else would let an app inject
# extra headers or split the response.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*|")


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: float) -> bytes:
    """RFC 9110 IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) of a POSIX time.

    Written out by hand: ``email.utils`` would pull ``socket`` into the sans-IO core.
    """
    t = gmtime(seconds)
    return b"%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAYS[t.tm_wday].encode(),
        t.tm_mday,
        _MONTHS[t.tm_mon - 1].encode(),
        t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
    )


class DateCache:
    """Formats the Date header at most once per second of ``now``."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self, now: float) -> bytes:
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = http_date(second)
        return self._value


class DefaultHeaders:
    """The headers the server adds to every response of one protocol."""

    __slots__ = ("_date", "_dates", "_lines", "_list", "_static", "include_date")

    def __init__(self, settings: ProtocolSettings, protocol: str, dates: DateCache) -> None:
        static: Headers = []
        if settings.include_server_header:
            static.append((b"server", b"hypercorn-" + protocol.encode("ascii")))
        # the configured values, else those of the QUIC sockets (a Config's quic_alt_svc;
        # other settings objects need not have it)
        alt_svc: Iterable[str] = settings.alt_svc_headers
        if not alt_svc and protocol != "h3":  # on HTTP/3 already: nothing to advertise
            alt_svc = getattr(settings, "quic_alt_svc", ())
        for value in alt_svc:
            static.append((b"alt-svc", value.encode("latin-1")))
        self._static = static
        self._dates = dates
        self.include_date = settings.include_date_header
        self._date: bytes | None = None  # the Date value _list and _lines hold
        self._list: Headers = []
        self._lines = b""

    def get(self, now: float) -> Headers:
        if self.include_date:
            return [(b"date", self._dates.get(now)), *self._static]
        return list(self._static)

    def rendered(self, now: float) -> tuple[Headers, bytes]:
        """The headers, and the same rendered as HTTP/1.1 field lines; both shared
        (made once per second of ``now``): do not change the list."""
        date = self._dates.get(now) if self.include_date else b""
        if date is not self._date:
            self._date = date
            self._list = self.get(now)
            self._lines = b"".join([b"%s: %s\r\n" % pair for pair in self._list])
        return self._list, self._lines


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The value of the first ``name`` field (give ``name`` as the headers spell it), or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def tokens(value: bytes) -> list[bytes]:
    """The comma-separated tokens of a field value, lower-cased (``Connection``, ``Upgrade``)."""
    return [token.strip() for token in value.lower().split(b",")]


#: App header fields already validated, as sent: ``(name, value)`` -> the checked pair.
#: Shared by every connection of the process (the check depends on the field alone),
#: bounded: past the limit new fields are checked every time.
_VALID_FIELDS: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
_VALID_FIELDS_LIMIT = 4096


def normalise_app_headers(raw: Iterable[Any]) -> Headers:
    """Validate the headers an app sent; names keep the app's casing, values are stripped.

    Raises:
        TypeError: a header that is not a pair of bytes-like objects.
        InvalidMessageError: (a ValueError) a name or value the RFC 9110 grammar refuses.
    """
    headers: Headers = []
    known = _VALID_FIELDS
    for item in raw:
        try:
            field = known.get(item)
        except TypeError:  # a list pair, or a bytearray: checked every time
            field = None
        if field is None:
            field = _check_field(item)
        headers.append(field)
    return headers


def _check_field(item: Any) -> tuple[bytes, bytes]:
    name, value = item
    name = bytes(name)
    value = bytes(value).strip()
    if _TOKEN.fullmatch(name) is None:
        raise InvalidMessageError(f"Invalid header name {name!r}")
    if _FIELD_VALUE.fullmatch(value) is None:
        raise InvalidMessageError(f"Invalid header value {value!r} for {name!r}")
    field = (name, value)
    if type(item) is tuple and len(_VALID_FIELDS) < _VALID_FIELDS_LIMIT:
        try:
            _VALID_FIELDS[item] = field
        except TypeError:
            pass  # a part that is not hashable
    return field


def body_allowed(method: bytes, status: int) -> bool:
    """Whether a response may carry a body (RFC 9110: not HEAD, 1xx, 204, 304)."""
    return not (method == b"HEAD" or status < 200 or status == 204 or status == 304)
