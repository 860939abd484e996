"""HPACK (RFC 7541) header compression for the HTTP/2 connection.

h2 compresses with the ``hpack`` package, whose codec logs every field it touches
and allocates several objects per field; it was a quarter of the cost of a small
HTTP/2 request. These two classes do the same job with the interface h2 uses
(``encode``, ``decode``, ``header_table_size``, ``max_header_list_size``,
``max_allowed_table_size``) and are installed on each h2 connection. The static
table, the Huffman decoder and the exception types still come from ``hpack``.

Encoding policy: every field goes into the dynamic table once, except credentials
(sent "never indexed", RFC 7541 section 7.1.3) and fields too large to be worth a
table slot. Values are sent as plain literals: Huffman coding them in Python costs
more time than the few bytes it saves, and a repeated field is sent as an index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from hpack.exceptions import (
    HPACKDecodingError,
    InvalidTableIndex,
    InvalidTableSizeError,
    OversizedHeaderListError,
)
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

Field = tuple[bytes, bytes]

_STATIC: tuple[Field, ...] = HeaderTable.STATIC_TABLE
_DYNAMIC_BASE = len(_STATIC) + 1  # index of the newest dynamic entry (62)
_STATIC_FIELD: dict[Field, int] = {}
_STATIC_NAME: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(_STATIC, start=1):
    _STATIC_FIELD.setdefault((_name, _value), _index)
    _STATIC_NAME.setdefault(_name, _index)

DEFAULT_TABLE_SIZE = 4096
_ENTRY_OVERHEAD = 32  # RFC 7541 section 4.1
_NEVER_INDEXED = frozenset({b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"})
_MAX_INTEGER_BYTES = 5  # continuation bytes; anything longer is a decoding error


def _encode_integer(out: bytearray, flags: int, prefix_max: int, value: int) -> None:
    """Append ``value`` with an N-bit prefix (``prefix_max`` = 2**N - 1) under ``flags``."""
    if value < prefix_max:
        out.append(flags | value)
        return
    out.append(flags | prefix_max)
    value -= prefix_max
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _encode_string(out: bytearray, data: bytes) -> None:
    _encode_integer(out, 0, 0x7F, len(data))
    out += data


class Encoder:
    """Compresses the header blocks this side sends."""

    def __init__(self) -> None:
        self._max_size = DEFAULT_TABLE_SIZE  # what the peer's decoder allows
        self._size = 0
        self._inserted = 0  # entries ever added; the newest has number _inserted - 1
        self._oldest = 0  # number of the oldest entry still in the table
        self._entries: deque[tuple[Field, int]] = deque()  # oldest first: (field, size)
        self._by_field: dict[Field, int] = {}  # field -> entry number
        self._by_name: dict[bytes, int] = {}  # name -> number of its newest entry
        self._size_updates: list[int] = []  # to signal at the start of the next block

    @property
    def header_table_size(self) -> int:
        return self._max_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        # The peer changed SETTINGS_HEADER_TABLE_SIZE: signal the smallest size it
        # went through and the final one (RFC 7541 section 4.2).
        # A larger table than the default is never used: it would only cost memory.
        value = min(value, DEFAULT_TABLE_SIZE)
        updates = self._size_updates
        if not updates:
            updates.append(value)
        elif value < min(updates):
            updates[:] = [value]
        else:
            updates[1:] = [value]
        self._max_size = value
        self._evict(0)

    def encode(self, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        out = bytearray()
        if self._size_updates:
            for size in self._size_updates:
                _encode_integer(out, 0x20, 0x1F, size)
            self._size_updates.clear()
        by_field = self._by_field
        for field in headers:
            index = _STATIC_FIELD.get(field)
            if index is not None:
                out.append(0x80 | index)  # every static index fits the 7-bit prefix
                continue
            number = by_field.get(field)
            if number is not None and number >= self._oldest:
                _encode_integer(out, 0x80, 0x7F, _DYNAMIC_BASE + self._inserted - 1 - number)
                continue
            name, value = field
            name_index = _STATIC_NAME.get(name)
            if name_index is None:
                number = self._by_name.get(name)
                if number is not None and number >= self._oldest:
                    name_index = _DYNAMIC_BASE + self._inserted - 1 - number
            size = len(name) + len(value) + _ENTRY_OVERHEAD
            if name in _NEVER_INDEXED:
                flags, prefix_max, add = 0x10, 0x0F, False
            elif size <= self._max_size // 2:
                flags, prefix_max, add = 0x40, 0x3F, True
            else:
                flags, prefix_max, add = 0x00, 0x0F, False
            if name_index is None:
                out.append(flags)
                _encode_string(out, name)
            else:
                _encode_integer(out, flags, prefix_max, name_index)
            _encode_string(out, value)
            if add:
                self._add(field, size)
        return bytes(out)

    def _add(self, field: Field, size: int) -> None:
        self._evict(size)
        number = self._inserted
        self._inserted += 1
        self._entries.append((field, size))
        self._size += size
        self._by_field[field] = number
        self._by_name[field[0]] = number

    def _evict(self, room: int) -> None:
        entries = self._entries
        while entries and self._size + room > self._max_size:
            field, size = entries.popleft()
            self._size -= size
            number = self._oldest
            self._oldest += 1
            if self._by_field.get(field) == number:
                del self._by_field[field]
            if self._by_name.get(field[0]) == number:
                del self._by_name[field[0]]


class Decoder:
    """Decompresses the header blocks the peer sends."""

    def __init__(self, max_header_list_size: int = 65536) -> None:
        #: RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE: a bigger block is an HPACK bomb.
        self.max_header_list_size = max_header_list_size
        #: The SETTINGS_HEADER_TABLE_SIZE this side announced (and had acknowledged).
        self.max_allowed_table_size = DEFAULT_TABLE_SIZE
        self._max_size = DEFAULT_TABLE_SIZE
        self._size = 0
        self._table: deque[Field] = deque()  # newest first, as HPACK indexes it

    @property
    def header_table_size(self) -> int:
        return self._max_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._max_size = value
        self._shrink(0)

    def decode(self, data: bytes, raw: bool = True) -> list[Field]:
        """The fields of one complete header block, as raw bytes.

        Raises:
            OversizedHeaderListError: the fields exceed ``max_header_list_size``.
            HPACKDecodingError: the block is not valid HPACK.
        """
        try:
            return self._decode(data)
        except IndexError:
            raise HPACKDecodingError("truncated header block") from None

    def _decode(self, data: bytes) -> list[Field]:
        headers: list[Field] = []
        listed = 0
        limit = self.max_header_list_size
        pos = 0
        end = len(data)
        while pos < end:
            byte = data[pos]
            if byte & 0x80:  # indexed field
                index = byte & 0x7F
                pos += 1
                if index == 0x7F:
                    index, pos = _continue_integer(data, pos, index)
                field = self._lookup(index)
            elif byte & 0x40:  # literal, added to the table
                field, pos = self._literal(data, pos, 0x3F)
                self._add(field)
            elif byte & 0x20:  # dynamic table size update
                if headers:
                    raise HPACKDecodingError("table size update after a field")
                size = byte & 0x1F
                pos += 1
                if size == 0x1F:
                    size, pos = _continue_integer(data, pos, size)
                if size > self.max_allowed_table_size:
                    raise InvalidTableSizeError("table size update above the announced maximum")
                self.header_table_size = size
                continue
            else:  # literal, not indexed or never indexed
                field, pos = self._literal(data, pos, 0x0F)
            headers.append(field)
            listed += len(field[0]) + len(field[1]) + _ENTRY_OVERHEAD
            if listed > limit:
                raise OversizedHeaderListError(f"header list larger than {limit} bytes")
        if self._max_size > self.max_allowed_table_size:
            raise InvalidTableSizeError("peer did not shrink its table to the announced size")
        return headers

    def _literal(self, data: bytes, pos: int, prefix_max: int) -> tuple[Field, int]:
        index = data[pos] & prefix_max
        pos += 1
        if index:
            if index == prefix_max:
                index, pos = _continue_integer(data, pos, index)
            name = self._lookup(index)[0]
        else:
            name, pos = _string(data, pos)
        value, pos = _string(data, pos)
        return (name, value), pos

    def _lookup(self, index: int) -> Field:
        if 0 < index < _DYNAMIC_BASE:
            return _STATIC[index - 1]
        dynamic = index - _DYNAMIC_BASE
        if 0 <= dynamic < len(self._table):
            return self._table[dynamic]
        raise InvalidTableIndex(f"no header table entry {index}")

    def _add(self, field: Field) -> None:
        size = len(field[0]) + len(field[1]) + _ENTRY_OVERHEAD
        if size > self._max_size:  # RFC 7541 section 4.4: empties the table, adds nothing
            self._table.clear()
            self._size = 0
            return
        self._shrink(size)
        self._table.appendleft(field)
        self._size += size

    def _shrink(self, room: int) -> None:
        table = self._table
        while table and self._size + room > self._max_size:
            name, value = table.pop()
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD


def _continue_integer(data: bytes, pos: int, value: int) -> tuple[int, int]:
    """Finish an integer whose prefix was all ones (RFC 7541 section 5.1)."""
    shift = 0
    for _ in range(_MAX_INTEGER_BYTES):
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise HPACKDecodingError("integer representation too long")


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    huffman = data[pos] & 0x80
    length = data[pos] & 0x7F
    pos += 1
    if length == 0x7F:
        length, pos = _continue_integer(data, pos, length)
    end = pos + length
    if end > len(data):
        raise HPACKDecodingError("truncated string literal")
    raw = data[pos:end]
    return (decode_huffman(raw) if huffman else raw), end
