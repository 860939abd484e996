"""The PROXY protocol header (versions 1 and 2), parsed sans-IO and within fixed bounds.

Theory of operation: a load balancer that speaks the PROXY protocol (HAProxy's
``proxy-protocol.txt``) writes one header at the very start of each TCP connection,
before TLS or HTTP, naming the client it accepted the connection from. The driver
feeds the first bytes of a connection to a :class:`ProxyHeaderParser` until it returns
something other than None:

* None - the header is not complete yet; read more and call again;
* a :class:`ProxyHeader` - the addresses, and ``trailing_data``: the bytes after the
  header, which belong to TLS / HTTP and must be handed on unchanged;
* a :class:`ProxyHeaderError` (returned, not raised) - close the connection.

The parser is strict, as the spec asks of receivers: the header is required (a
connection that starts with anything else is rejected rather than guessed at), version 1
lines are US-ASCII with single spaces, canonical addresses and ports and at most 107 bytes
including the CRLF; version 2 headers carry a known version, command, family and
transport, address blocks of the right size and well-formed TLVs. Nothing is buffered
beyond the bounds: 107 bytes for version 1, 16 + ``max_v2_length`` for version 2.

A LOCAL command (version 2), the UNKNOWN protocol (version 1) and the UNSPEC family
(version 2) carry no usable address: :meth:`ProxyHeader.endpoints` then keeps the real
peer's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from hypercorn_protocol.errors import LocalProtocolError, RemoteProtocolError

#: The first 12 bytes of every version 2 header.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
#: The longest version 1 line the spec allows, CRLF included.
V1_MAX_LENGTH = 107
#: The default bound on a version 2 header's address block plus TLVs (its length field).
DEFAULT_MAX_V2_LENGTH = 4096

_V1_PREFIX = b"PROXY "
_V2_FIXED = 16  # signature, version/command, family/transport, length
_V1_PORT_DIGITS = frozenset(b"0123456789")

Family = Literal["INET", "INET6", "UNIX", "UNSPEC"]
Transport = Literal["STREAM", "DGRAM", "UNSPEC"]
Command = Literal["PROXY", "LOCAL"]
ErrorKind = Literal["malformed", "too_long", "unsupported", "incomplete"]
HostPort = tuple[str, int]

_UNIX_PATH = 108
# Version 2 family nibble -> (name, size of its address block).
_V2_FAMILIES: dict[int, tuple[Family, int]] = {
    0x0: ("UNSPEC", 0),
    0x1: ("INET", 4 + 4 + 2 + 2),
    0x2: ("INET6", 16 + 16 + 2 + 2),
    0x3: ("UNIX", 2 * _UNIX_PATH),
}
_V2_TRANSPORTS: dict[int, Transport] = {0x0: "UNSPEC", 0x1: "STREAM", 0x2: "DGRAM"}


class ProxyHeaderError(RemoteProtocolError):
    """The connection did not start with a valid PROXY header; close it.

    Returned by :meth:`ProxyHeaderParser.receive_data`, never raised by it.

    Attributes:
        kind: ``"malformed"`` (not a PROXY header, or a broken one), ``"too_long"``
            (beyond the bounds), ``"unsupported"`` (a version, command, family or
            protocol this spec does not define) or ``"incomplete"`` (the peer closed
            before the header ended).
    """

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind

    def __repr__(self) -> str:
        return f"ProxyHeaderError({self.kind!r}, {str(self)!r})"


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A parsed PROXY header.

    Attributes:
        version: 1 (text) or 2 (binary).
        command: ``"PROXY"``, or ``"LOCAL"`` (version 2 health checks from the proxy
            itself: use the real connection's addresses).
        family: ``"INET"``, ``"INET6"``, ``"UNIX"``, or ``"UNSPEC"`` (version 1 UNKNOWN,
            version 2 UNSPEC and every LOCAL header).
        transport: ``"STREAM"`` (TCP; all version 1 headers but UNKNOWN), ``"DGRAM"``
            or ``"UNSPEC"``.
        source: the original client as ``(host, port)``, for INET and INET6; else None.
        destination: the address the client connected to, likewise.
        source_path: for UNIX, the client's socket path (NUL padding removed); else None.
        destination_path: for UNIX, the destination socket path; else None.
        tlvs: version 2 type-length-value extensions as ``(type, value)``, unverified
            and in wire order (``0x01`` ALPN, ``0x02`` authority, ``0x20`` SSL, ...).
        trailing_data: the bytes that followed the header: the start of TLS or HTTP.
    """

    version: Literal[1, 2]
    command: Command
    family: Family
    transport: Transport
    source: HostPort | None = None
    destination: HostPort | None = None
    source_path: bytes | None = None
    destination_path: bytes | None = None
    tlvs: tuple[tuple[int, bytes], ...] = ()
    trailing_data: bytes = b""

    def endpoints(
        self, client: HostPort | None, server: HostPort | None
    ) -> tuple[HostPort | None, HostPort | None]:
        """The ``(client, server)`` a request scope should report.

        Args:
            client: the real peer address of the connection.
            server: the real local address of the connection.

        Returns:
            The proxied addresses for INET and INET6; ``(None, None)`` for UNIX (a unix
            socket has no host and port); the real ones for LOCAL, UNKNOWN and UNSPEC.
        """
        if self.source is not None:
            return self.source, self.destination
        if self.family == "UNIX":
            return None, None
        return client, server


class ProxyHeaderParser:
    """Incremental parser of one PROXY protocol header (version 1 or 2).

    Args:
        max_v2_length: the largest version 2 length field accepted (address block plus
            TLVs); a longer header is refused as ``"too_long"`` before it is buffered.

    Example:
        >>> parser = ProxyHeaderParser()
        >>> parser.receive_data(b"PROXY TCP4 192.0.2.1 ") is None
        True
        >>> header = parser.receive_data(b"198.51.100.2 56324 443\\r\\nGET / HTTP/1.1\\r\\n")
        >>> header.source, header.trailing_data
        (('192.0.2.1', 56324), b'GET / HTTP/1.1\\r\\n')
    """

    __slots__ = ("_buffer", "_max_v2_length", "_result")

    def __init__(self, *, max_v2_length: int = DEFAULT_MAX_V2_LENGTH) -> None:
        if not 0 <= max_v2_length <= 0xFFFF:
            raise ValueError(f"max_v2_length must be within 0..65535, got {max_v2_length}")
        self._max_v2_length = max_v2_length
        self._buffer = b""
        self._result: ProxyHeader | ProxyHeaderError | None = None

    @property
    def result(self) -> ProxyHeader | ProxyHeaderError | None:
        """The outcome, once there is one; None while the header is incomplete."""
        return self._result

    def receive_data(self, data: bytes) -> ProxyHeader | ProxyHeaderError | None:
        """Feed the next bytes of the connection; ``b""`` means the peer closed.

        Returns:
            None while more bytes are needed, else the header or the error (final).

        Raises:
            LocalProtocolError: called again after the outcome was returned (the bytes
                after the header belong to the HTTP connection).
        """
        if self._result is not None:
            raise LocalProtocolError("the PROXY header was already parsed")
        if not data:
            what = "inside the PROXY header" if self._buffer else "before a PROXY header"
            return self._finish(ProxyHeaderError("incomplete", f"connection closed {what}"))
        self._buffer += data
        buffer = self._buffer
        if buffer[:1] == b"P":
            outcome = self._parse_v1(buffer)
        elif buffer[:1] == b"\r":
            outcome = self._parse_v2(buffer)
        else:
            outcome = ProxyHeaderError("malformed", "the connection does not start with PROXY")
        return None if outcome is None else self._finish(outcome)

    def _finish(self, outcome: ProxyHeader | ProxyHeaderError) -> ProxyHeader | ProxyHeaderError:
        self._result = outcome
        self._buffer = b""
        return outcome

    # -- version 1: "PROXY TCP4 src dst sport dport\r\n" -------------------------------

    def _parse_v1(self, buffer: bytes) -> ProxyHeader | ProxyHeaderError | None:
        if buffer[: len(_V1_PREFIX)] != _V1_PREFIX[: len(buffer)]:
            return ProxyHeaderError("malformed", "the connection does not start with PROXY")
        end = buffer.find(b"\n", 0, V1_MAX_LENGTH)
        if end == -1:
            if len(buffer) >= V1_MAX_LENGTH:
                return ProxyHeaderError("too_long", "PROXY v1 line longer than 107 bytes")
            return None
        if end < len(_V1_PREFIX) or buffer[end - 1] != 0x0D:
            return ProxyHeaderError("malformed", "PROXY v1 line does not end with CRLF")
        line, rest = buffer[len(_V1_PREFIX) : end - 1], buffer[end + 1 :]
        if line == b"UNKNOWN" or line.startswith(b"UNKNOWN "):
            # The spec: whatever follows UNKNOWN up to the CRLF is ignored.
            return ProxyHeader(1, "PROXY", "UNSPEC", "UNSPEC", trailing_data=rest)
        fields = line.split(b" ")
        if not all(0x21 <= byte <= 0x7E for byte in line.replace(b" ", b"")):
            return ProxyHeaderError("malformed", "PROXY v1 line is not printable ASCII")
        if fields[0] not in (b"TCP4", b"TCP6"):
            if len(fields) in (1, 5) and fields[0]:
                return ProxyHeaderError("unsupported", "PROXY v1 protocol is not TCP4/TCP6")
            return ProxyHeaderError("malformed", "PROXY v1 line has the wrong fields")
        if len(fields) != 5:
            return ProxyHeaderError("malformed", "PROXY v1 line needs 5 fields after PROXY")
        family: Family = "INET" if fields[0] == b"TCP4" else "INET6"
        source = _v1_host(fields[1], family)
        destination = _v1_host(fields[2], family)
        source_port, destination_port = _v1_port(fields[3]), _v1_port(fields[4])
        if source is None or destination is None:
            return ProxyHeaderError("malformed", f"PROXY v1 address is not {family}")
        if source_port is None or destination_port is None:
            return ProxyHeaderError("malformed", "PROXY v1 port is not 0..65535")
        return ProxyHeader(
            1,
            "PROXY",
            family,
            "STREAM",
            source=(source, source_port),
            destination=(destination, destination_port),
            trailing_data=rest,
        )

    # -- version 2: signature, ver/cmd, fam/transport, length, addresses, TLVs ----------

    def _parse_v2(self, buffer: bytes) -> ProxyHeader | ProxyHeaderError | None:
        if buffer[:12] != V2_SIGNATURE[: len(buffer)]:
            return ProxyHeaderError("malformed", "not a PROXY v2 signature")
        if len(buffer) > 12 and buffer[12] >> 4 != 0x2:
            return ProxyHeaderError("unsupported", f"PROXY v2 version {buffer[12] >> 4}")
        if len(buffer) > 12 and buffer[12] & 0xF not in (0x0, 0x1):
            return ProxyHeaderError("unsupported", f"PROXY v2 command {buffer[12] & 0xF}")
        if len(buffer) < _V2_FIXED:
            return None
        length = int.from_bytes(buffer[14:16], "big")
        if length > self._max_v2_length:
            return ProxyHeaderError(
                "too_long", f"PROXY v2 length {length} exceeds {self._max_v2_length}"
            )
        if len(buffer) < _V2_FIXED + length:
            return None
        block, rest = buffer[_V2_FIXED : _V2_FIXED + length], buffer[_V2_FIXED + length :]
        if buffer[12] & 0xF == 0x0:
            # LOCAL: the block (family included) is to be skipped, whatever it holds.
            return ProxyHeader(2, "LOCAL", "UNSPEC", "UNSPEC", trailing_data=rest)
        family_entry = _V2_FAMILIES.get(buffer[13] >> 4)
        transport = _V2_TRANSPORTS.get(buffer[13] & 0xF)
        if family_entry is None or transport is None:
            return ProxyHeaderError("unsupported", f"PROXY v2 family/transport {buffer[13]:#04x}")
        family, address_size = family_entry
        if length < address_size:
            return ProxyHeaderError("malformed", f"PROXY v2 {family} block is too short")
        tlvs = _v2_tlvs(block, address_size)
        if tlvs is None:
            return ProxyHeaderError("malformed", "PROXY v2 TLV overruns the header")
        if family == "INET":
            return ProxyHeader(
                2,
                "PROXY",
                family,
                transport,
                source=(str(ipaddress.IPv4Address(block[0:4])), _port(block[8:10])),
                destination=(str(ipaddress.IPv4Address(block[4:8])), _port(block[10:12])),
                tlvs=tlvs,
                trailing_data=rest,
            )
        if family == "INET6":
            return ProxyHeader(
                2,
                "PROXY",
                family,
                transport,
                source=(_format_v6(ipaddress.IPv6Address(block[0:16])), _port(block[32:34])),
                destination=(
                    _format_v6(ipaddress.IPv6Address(block[16:32])),
                    _port(block[34:36]),
                ),
                tlvs=tlvs,
                trailing_data=rest,
            )
        if family == "UNIX":
            return ProxyHeader(
                2,
                "PROXY",
                family,
                transport,
                source_path=block[:_UNIX_PATH].split(b"\0", 1)[0],
                destination_path=block[_UNIX_PATH : 2 * _UNIX_PATH].split(b"\0", 1)[0],
                tlvs=tlvs,
                trailing_data=rest,
            )
        return ProxyHeader(2, "PROXY", "UNSPEC", transport, tlvs=tlvs, trailing_data=rest)


def _v1_host(text: bytes, family: Family) -> str | None:
    # ipaddress is strict where the spec is: no leading zeros in IPv4 octets, no
    # IPv4 text for TCP6; scope ids ("%eth0") are not addresses on the wire.
    if b"%" in text:
        return None
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address
        if family == "INET":
            address = ipaddress.IPv4Address(text.decode("ascii"))
        else:
            address = ipaddress.IPv6Address(text.decode("ascii"))
    except ValueError:
        return None
    return str(address) if isinstance(address, ipaddress.IPv4Address) else _format_v6(address)


def _format_v6(address: ipaddress.IPv6Address) -> str:
    # Python 3.13 changed how str() spells IPv4-mapped addresses; keep one spelling.
    mapped = address.ipv4_mapped
    return str(address) if mapped is None else f"::ffff:{mapped}"


def _v1_port(text: bytes) -> int | None:
    # Decimal 0..65535 without sign, spaces or leading zeros.
    if not 1 <= len(text) <= 5 or not _V1_PORT_DIGITS.issuperset(text):
        return None
    if len(text) > 1 and text[0] == 0x30:
        return None
    port = int(text)
    return port if port <= 0xFFFF else None


def _port(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _v2_tlvs(block: bytes, start: int) -> tuple[tuple[int, bytes], ...] | None:
    # Each TLV: type (1 byte), length (2 bytes, big-endian), value; the block's length
    # field already bounds how many there can be.
    tlvs: list[tuple[int, bytes]] = []
    index = start
    while index < len(block):
        if index + 3 > len(block):
            return None
        size = int.from_bytes(block[index + 1 : index + 3], "big")
        if index + 3 + size > len(block):
            return None
        tlvs.append((block[index], block[index + 3 : index + 3 + size]))
        index += 3 + size
    return tuple(tlvs)


__all__ = [
    "DEFAULT_MAX_V2_LENGTH",
    "V1_MAX_LENGTH",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyHeaderError",
    "ProxyHeaderParser",
]
