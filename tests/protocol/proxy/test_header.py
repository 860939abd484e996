"""The PROXY protocol header parser (HAProxy's proxy-protocol.txt, v1 and v2) and the
``proxy_allow_ips`` trust decision.

The encoder below exists only in the tests, so the round-trip properties check the parser
against an independent writing of the spec.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from collections.abc import Sequence

import pytest
from hypothesis import given, strategies as st

from hypercorn_protocol.errors import LocalProtocolError, RemoteProtocolError
from hypercorn_protocol.proxy import (
    DEFAULT_MAX_V2_LENGTH,
    DEFAULT_PROXY_ALLOW_IPS,
    V1_MAX_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    ProxyHeaderParser,
    TrustedProxies,
    is_trusted_proxy,
)
from tests.fuzz._settings import fuzz_settings

Outcome = ProxyHeader | ProxyHeaderError | None

# -- a test-only encoder ---------------------------------------------------------------------

_FAMILY = {"UNSPEC": 0x0, "INET": 0x1, "INET6": 0x2, "UNIX": 0x3}
_TRANSPORT = {"UNSPEC": 0x0, "STREAM": 0x1, "DGRAM": 0x2}


def v1(protocol: str, src: str, dst: str, sport: int, dport: int) -> bytes:
    return f"PROXY {protocol} {src} {dst} {sport} {dport}\r\n".encode("ascii")


def v2(
    *,
    command: int = 0x1,
    family: str = "INET",
    transport: str = "STREAM",
    src: str = "192.0.2.1",
    dst: str = "198.51.100.2",
    sport: int = 56324,
    dport: int = 443,
    paths: tuple[bytes, bytes] = (b"/run/client.sock", b"/run/server.sock"),
    tlvs: Sequence[tuple[int, bytes]] = (),
    version: int = 0x2,
    raw_block: bytes | None = None,
    length: int | None = None,
) -> bytes:
    if raw_block is not None:
        block = raw_block
    elif family == "INET":
        block = (
            ipaddress.IPv4Address(src).packed
            + ipaddress.IPv4Address(dst).packed
            + struct.pack("!HH", sport, dport)
        )
    elif family == "INET6":
        block = (
            ipaddress.IPv6Address(src).packed
            + ipaddress.IPv6Address(dst).packed
            + struct.pack("!HH", sport, dport)
        )
    elif family == "UNIX":
        block = paths[0].ljust(108, b"\0") + paths[1].ljust(108, b"\0")
    else:
        block = b""
    block += b"".join(struct.pack("!BH", kind, len(value)) + value for kind, value in tlvs)
    head = bytes([(version << 4) | command, (_FAMILY[family] << 4) | _TRANSPORT[transport]])
    size = len(block) if length is None else length
    return V2_SIGNATURE + head + struct.pack("!H", size) + block


def feed_counted(
    data: bytes,
    cuts: Sequence[int] = (),
    *,
    eof: bool = False,
    max_v2_length: int = DEFAULT_MAX_V2_LENGTH,
) -> tuple[Outcome, int]:
    """Feed ``data`` split at ``cuts``; stop at the first outcome (as a driver would).

    Returns the outcome and how many bytes were fed.
    """
    parser = ProxyHeaderParser(max_v2_length=max_v2_length)
    bounds = [0, *sorted(cut for cut in cuts if 0 < cut < len(data)), len(data)]
    for start, end in itertools.pairwise(bounds):
        if start == end:
            continue
        outcome = parser.receive_data(data[start:end])
        if outcome is not None:
            return outcome, end
    return (parser.receive_data(b"") if eof else None), len(data)


def feed(
    data: bytes,
    cuts: Sequence[int] = (),
    *,
    eof: bool = False,
    max_v2_length: int = DEFAULT_MAX_V2_LENGTH,
) -> Outcome:
    return feed_counted(data, cuts, eof=eof, max_v2_length=max_v2_length)[0]


def header_length(data: bytes, fed: int, parsed: ProxyHeader) -> int:
    """Where the header ended: the trailing data is exactly what was fed after it."""
    end = fed - len(parsed.trailing_data)
    assert data[end:fed] == parsed.trailing_data
    return end


def byte_by_byte(data: bytes, max_v2_length: int = DEFAULT_MAX_V2_LENGTH) -> Outcome:
    return feed(data, range(1, len(data)), max_v2_length=max_v2_length)


def header(outcome: Outcome) -> ProxyHeader:
    assert isinstance(outcome, ProxyHeader), outcome
    return outcome


def error(outcome: Outcome, kind: str) -> ProxyHeaderError:
    assert isinstance(outcome, ProxyHeaderError), outcome
    assert outcome.kind == kind, outcome
    return outcome


# -- version 1 ---------------------------------------------------------------------------

V1_VALID = [
    (
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
        ("INET", ("192.0.2.1", 56324), ("198.51.100.2", 443)),
    ),
    (
        b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
        ("INET", ("0.0.0.0", 0), ("255.255.255.255", 65535)),
    ),
    (
        b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
        ("INET6", ("2001:db8::1", 1), ("2001:db8::2", 2)),
    ),
    (
        b"PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::1 80 8080\r\n",
        ("INET6", ("2001:db8::1", 80), ("::1", 8080)),
    ),
    (
        b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c633:6402 5 6\r\n",
        ("INET6", ("::ffff:192.0.2.1", 5), ("::ffff:198.51.100.2", 6)),
    ),
    (b"PROXY UNKNOWN\r\n", ("UNSPEC", None, None)),
    (b"PROXY UNKNOWN 192.0.2.1 198.51.100.2 1 2\r\n", ("UNSPEC", None, None)),
    # Whatever follows UNKNOWN is to be ignored, even what would be invalid elsewhere.
    (b"PROXY UNKNOWN \xff\x00garbage  \r\n", ("UNSPEC", None, None)),
    # The longest line the spec allows: 107 bytes including the CRLF.
    (
        b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
        b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        ("UNSPEC", None, None),
    ),
    (
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
        b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n",
        (
            "INET6",
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535),
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), V1_VALID)
@pytest.mark.parametrize("chunking", ["whole", "byte_by_byte"])
def test_v1_valid_forms(
    line: bytes,
    expected: tuple[str, tuple[str, int] | None, tuple[str, int] | None],
    chunking: str,
) -> None:
    assert len(line) <= V1_MAX_LENGTH
    data = line + b"GET / HTTP/1.1\r\n\r\n"
    outcome = feed(data) if chunking == "whole" else byte_by_byte(data)

    parsed = header(outcome)
    family, source, destination = expected
    assert (parsed.version, parsed.command, parsed.family) == (1, "PROXY", family)
    assert (parsed.source, parsed.destination) == (source, destination)
    assert parsed.transport == ("UNSPEC" if family == "UNSPEC" else "STREAM")
    assert parsed.tlvs == ()
    # Byte by byte, the header completes on its LF: nothing after it was consumed.
    rest = b"GET / HTTP/1.1\r\n\r\n" if chunking == "whole" else b""
    assert parsed.trailing_data == rest


def test_v1_longest_lines() -> None:
    # The spec's worst cases: UNKNOWN with two full IPv6 addresses, and TCP6 (104).
    assert len(V1_VALID[-2][0]) == V1_MAX_LENGTH
    assert len(V1_VALID[-1][0]) == 104


def test_v1_line_of_108_bytes_is_too_long_and_refused_at_107() -> None:
    line = b"PROXY UNKNOWN " + b"x" * (108 - 16) + b"\r\n"
    assert len(line) == 108
    parser = ProxyHeaderParser()
    for byte in range(V1_MAX_LENGTH - 1):
        assert parser.receive_data(line[byte : byte + 1]) is None
    # The 107th byte is not an LF: no header can end within the limit, so no more is read.
    error(parser.receive_data(line[106:107]), "too_long")


def test_v1_header_alone_leaves_no_trailing_data() -> None:
    assert header(feed(b"PROXY UNKNOWN\r\n")).trailing_data == b""


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "malformed"),  # no header at all: not guessed at
        (b"proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", "malformed"),
        (b"PROXY TCP4\r\n", "malformed"),
        (b"PROXY \r\n", "malformed"),
        (b"PROXY\tTCP4 192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY UNKNOWNX\r\n", "unsupported"),
        (b"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n", "unsupported"),
        (b"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", "unsupported"),
        (b"PROXY TCP5\r\n", "unsupported"),
        # addresses
        (b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1/32 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 localhost 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "malformed"),
        (b"PROXY TCP6 [::1] ::1 1 2\r\n", "malformed"),
        (b"PROXY TCP6 2001:db8:::1 ::1 1 2\r\n", "malformed"),
        # ports
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 99999\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 0x2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2_0\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 000001 2\r\n", "malformed"),
        # not ASCII, control bytes
        (
            "PROXY TCP4 192.0.2.1 198.51.100.2 \uff18\uff10 2\r\n".encode(),
            "malformed",
        ),  # fullwidth 80
        (b"PROXY TCP4 192.0.2.\xc31 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1\x00 198.51.100.2 1 2\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r 2\r\n", "malformed"),
        # line endings
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", "malformed"),
        (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n\r\n", "malformed"),
        (b"PROXY UNKNOWN\n", "malformed"),
    ],
)
def test_v1_malformations(data: bytes, kind: str) -> None:
    error(feed(data), kind)
    error(byte_by_byte(data), kind)


@pytest.mark.parametrize(
    "data",
    [
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2",  # no CRLF before EOF
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r",
        b"PROX",
        b"",
    ],
)
def test_v1_eof_before_the_crlf_is_incomplete(data: bytes) -> None:
    assert feed(data) is None
    error(feed(data, eof=True), "incomplete")


def test_missing_crlf_is_too_long_once_107_bytes_are_in() -> None:
    data = b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2" + b"GET / HTTP/1.1 " * 10
    parser = ProxyHeaderParser()
    assert parser.receive_data(data[:106]) is None
    error(parser.receive_data(data[106:]), "too_long")


def test_not_a_header_is_refused_on_its_first_wrong_byte() -> None:
    parser = ProxyHeaderParser()
    assert parser.receive_data(b"PROX") is None
    error(parser.receive_data(b"X"), "malformed")
    error(ProxyHeaderParser().receive_data(b"G"), "malformed")
    error(ProxyHeaderParser().receive_data(b"\x16\x03\x01"), "malformed")  # a TLS hello


# -- version 2 ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunking", ["whole", "byte_by_byte"])
def test_v2_inet(chunking: str) -> None:
    data = v2() + b"\x16\x03\x01 tls"
    parsed = header(feed(data) if chunking == "whole" else byte_by_byte(data))
    assert (parsed.version, parsed.command, parsed.family, parsed.transport) == (
        2,
        "PROXY",
        "INET",
        "STREAM",
    )
    assert parsed.source == ("192.0.2.1", 56324)
    assert parsed.destination == ("198.51.100.2", 443)
    assert parsed.trailing_data == (b"\x16\x03\x01 tls" if chunking == "whole" else b"")


@pytest.mark.parametrize("chunking", ["whole", "byte_by_byte"])
def test_v2_inet6(chunking: str) -> None:
    data = v2(family="INET6", src="2001:db8::1", dst="::ffff:198.51.100.2", sport=1, dport=0)
    parsed = header(feed(data) if chunking == "whole" else byte_by_byte(data))
    assert parsed.family == "INET6"
    assert parsed.source == ("2001:db8::1", 1)
    assert parsed.destination == ("::ffff:198.51.100.2", 0)


@pytest.mark.parametrize("chunking", ["whole", "byte_by_byte"])
def test_v2_unix(chunking: str) -> None:
    full = b"/" + b"p" * 107  # a path filling all 108 bytes has no NUL terminator
    data = v2(family="UNIX", paths=(b"/run/haproxy/client.sock", full)) + b"GET"
    parsed = header(feed(data) if chunking == "whole" else byte_by_byte(data))
    assert parsed.family == "UNIX"
    assert (parsed.source, parsed.destination) == (None, None)
    assert parsed.source_path == b"/run/haproxy/client.sock"
    assert parsed.destination_path == full
    assert parsed.endpoints(("10.0.0.1", 1), ("10.0.0.2", 2)) == (None, None)


@pytest.mark.parametrize(
    "data",
    [
        v2(command=0x0, family="UNSPEC", transport="UNSPEC"),
        # Receivers must skip whatever block a LOCAL header carries, family ignored.
        v2(command=0x0),
        v2(command=0x0, family="UNIX", tlvs=[(0x01, b"h2")]),
        V2_SIGNATURE + b"\x20\xff\x00\x03abc",
        V2_SIGNATURE + b"\x20\x11\x00\x02\x00\x00",  # even a block too short for its family
    ],
    ids=["empty", "inet-block", "unix-tlvs", "unknown-family", "short-block"],
)
def test_v2_local_uses_the_real_endpoints(data: bytes) -> None:
    for outcome in (feed(data + b"rest"), byte_by_byte(data + b"rest")):
        parsed = header(outcome)
        assert (parsed.command, parsed.family, parsed.source, parsed.tlvs) == (
            "LOCAL",
            "UNSPEC",
            None,
            (),
        )
    assert header(feed(data + b"rest")).trailing_data == b"rest"
    real = (("10.0.0.1", 1), ("10.0.0.2", 2))
    assert header(feed(data)).endpoints(*real) == real


def test_v2_unspec_family_has_no_addresses() -> None:
    parsed = header(feed(v2(family="UNSPEC", transport="UNSPEC", tlvs=[(0x04, b"")])))
    assert (parsed.command, parsed.family, parsed.source, parsed.destination) == (
        "PROXY",
        "UNSPEC",
        None,
        None,
    )
    assert parsed.tlvs == ((0x04, b""),)
    assert parsed.endpoints(("10.0.0.1", 1), None) == (("10.0.0.1", 1), None)


def test_v2_dgram_is_reported() -> None:
    assert header(feed(v2(transport="DGRAM"))).transport == "DGRAM"


def test_v2_tlvs_are_returned_in_order() -> None:
    tlvs = [(0x01, b"h2"), (0x02, b"example.com"), (0x04, b""), (0x20, b"\x01" + b"\0" * 4)]
    data = v2(family="INET6", src="::1", dst="::2", tlvs=tlvs) + b"PRI *"
    for outcome in (feed(data), byte_by_byte(data)):
        assert header(outcome).tlvs == tuple(tlvs)
    assert header(feed(data)).trailing_data == b"PRI *"


def test_v2_length_up_to_the_bound_is_accepted() -> None:
    block_and_tlvs = DEFAULT_MAX_V2_LENGTH - 12
    data = v2(tlvs=[(0x04, b"\0" * (block_and_tlvs - 3))])
    assert len(data) == 16 + DEFAULT_MAX_V2_LENGTH
    assert header(feed(data)).tlvs[0][0] == 0x04


def test_v2_length_beyond_the_bound_is_refused_before_it_is_buffered() -> None:
    data = v2(tlvs=[(0x04, b"\0" * (DEFAULT_MAX_V2_LENGTH - 12 - 2))])
    assert len(data) == 16 + DEFAULT_MAX_V2_LENGTH + 1
    parser = ProxyHeaderParser()
    assert parser.receive_data(data[:15]) is None
    error(parser.receive_data(data[15:16]), "too_long")


def test_v2_bound_is_configurable() -> None:
    error(feed(v2(), max_v2_length=11), "too_long")
    assert header(feed(v2(), max_v2_length=12)).family == "INET"
    assert header(feed(v2(command=0x0, family="UNSPEC"), max_v2_length=0)).command == "LOCAL"
    error(feed(v2(family="UNIX"), max_v2_length=215), "too_long")
    # Within the bound, a long header is simply waited for.
    assert feed(V2_SIGNATURE + b"\x21\x11\xff\xff" + b"\0" * 1000, max_v2_length=65535) is None


@pytest.mark.parametrize("bound", [-1, 65536])
def test_v2_bound_must_fit_the_length_field(bound: int) -> None:
    with pytest.raises(ValueError, match="max_v2_length"):
        ProxyHeaderParser(max_v2_length=bound)


@pytest.mark.parametrize("position", range(12))
def test_v2_bad_signature(position: int) -> None:
    data = bytearray(v2())
    data[position] ^= 0x20
    error(feed(bytes(data)), "malformed")
    parser = ProxyHeaderParser()
    # Refused on the first byte that differs, whatever follows.
    for index in range(position):
        assert parser.receive_data(bytes(data[index : index + 1])) is None
    error(parser.receive_data(bytes(data[position : position + 1])), "malformed")


@pytest.mark.parametrize("version", [0x0, 0x1, 0x3, 0xF])
def test_v2_bad_version_is_unsupported_at_the_13th_byte(version: int) -> None:
    data = v2(version=version)
    error(feed(data), "unsupported")
    error(feed(data[:13]), "unsupported")


@pytest.mark.parametrize("command", range(0x2, 0x10))
def test_v2_unassigned_command_is_unsupported(command: int) -> None:
    error(feed(v2(command=command)), "unsupported")
    error(feed(v2(command=command)[:13]), "unsupported")


@pytest.mark.parametrize("family", range(0x4, 0x10))
def test_v2_unassigned_family_is_unsupported(family: int) -> None:
    data = bytearray(v2())
    data[13] = (family << 4) | 0x1
    error(feed(bytes(data)), "unsupported")


@pytest.mark.parametrize("transport", range(0x3, 0x10))
def test_v2_unassigned_transport_is_unsupported(transport: int) -> None:
    data = bytearray(v2())
    data[13] = 0x10 | transport
    error(feed(bytes(data)), "unsupported")


@pytest.mark.parametrize(
    ("family", "length"), [("INET", 11), ("INET6", 35), ("UNIX", 215), ("INET", 0)]
)
def test_v2_length_shorter_than_the_address_block(family: str, length: int) -> None:
    data = v2(family=family, raw_block=b"\0" * length)
    error(feed(data), "malformed")


@pytest.mark.parametrize(
    "tlv_bytes",
    [
        b"\x01",  # type only
        b"\x01\x00",  # type and half a length
        b"\x01\x00\x03ab",  # value shorter than its length
        b"\x01\x00\x00\x02\xff\xff",  # the second one overruns
    ],
)
def test_v2_tlv_overrun_is_malformed(tlv_bytes: bytes) -> None:
    block = ipaddress.IPv4Address("192.0.2.1").packed * 2 + b"\0\1\0\2" + tlv_bytes
    error(feed(v2(raw_block=block)), "malformed")


def test_v2_length_field_counts_only_what_it_says() -> None:
    # A length shorter than the data present: the rest is the connection's, not the header's.
    data = v2()
    parsed = header(feed(data + b"\x01\x00\x02h2"))
    assert parsed.tlvs == ()
    assert parsed.trailing_data == b"\x01\x00\x02h2"


@pytest.mark.parametrize("cut", [1, 12, 13, 15, 16, 20, 27])
def test_v2_eof_inside_the_header_is_incomplete(cut: int) -> None:
    data = v2()
    assert feed(data[:cut]) is None
    error(feed(data[:cut], eof=True), "incomplete")


# -- the parser's contract ---------------------------------------------------------------


def test_errors_are_remote_protocol_errors_with_a_kind() -> None:
    outcome = error(feed(b"GET /"), "malformed")
    assert isinstance(outcome, RemoteProtocolError)
    assert "malformed" in repr(outcome)
    assert str(outcome)


def test_feeding_after_the_outcome_is_a_local_error() -> None:
    parser = ProxyHeaderParser()
    result = parser.receive_data(b"PROXY UNKNOWN\r\nGET")
    assert parser.result is result
    with pytest.raises(LocalProtocolError):
        parser.receive_data(b"more")
    errored = ProxyHeaderParser()
    errored.receive_data(b"nope")
    with pytest.raises(LocalProtocolError):
        errored.receive_data(b"")


def test_result_is_none_until_complete() -> None:
    parser = ProxyHeaderParser()
    assert parser.result is None
    parser.receive_data(b"PROXY UNK")
    assert parser.result is None


def test_endpoints() -> None:
    real = (("10.0.0.1", 1000), ("10.0.0.2", 443))
    assert header(feed(v1("TCP4", "192.0.2.1", "198.51.100.2", 1, 2))).endpoints(*real) == (
        ("192.0.2.1", 1),
        ("198.51.100.2", 2),
    )
    assert header(feed(b"PROXY UNKNOWN\r\n")).endpoints(*real) == real


# -- trust ---------------------------------------------------------------------------------


def test_default_allow_list_is_loopback() -> None:
    assert list(DEFAULT_PROXY_ALLOW_IPS) == ["127.0.0.1", "::1"]
    trusted = TrustedProxies(DEFAULT_PROXY_ALLOW_IPS)
    assert trusted.is_trusted(("127.0.0.1", 50000))
    assert trusted.is_trusted(("::1", 50000))
    assert trusted.is_trusted(("::ffff:127.0.0.1", 50000))  # a dual-stack socket's view
    assert not trusted.is_trusted(("127.0.0.2", 50000))
    assert not trusted.is_trusted(("10.0.0.1", 50000))
    assert not trusted.is_trusted(("::2", 50000))
    assert not trusted.is_trusted(("::ffff:10.0.0.1", 50000))


@pytest.mark.parametrize(
    ("entries", "peer", "trusted"),
    [
        (["10.0.0.0/8"], ("10.200.3.4", 1), True),
        (["10.0.0.0/8"], ("11.0.0.1", 1), False),
        (["10.0.0.0/8"], ("::ffff:10.1.1.1", 1), True),
        (["fd00::/8"], ("fd12::1", 1), True),
        (["fd00::/8"], ("fe80::1", 1), False),
        (["fe80::/10"], ("fe80::1%eth0", 1), True),
        (["::ffff:10.0.0.0/104"], ("10.9.9.9", 1), True),
        (["192.0.2.7"], "192.0.2.7", True),
        (["192.0.2.7"], ("192.0.2.8", 1), False),
        ([" 192.0.2.7 "], ("192.0.2.7", 1), True),
        (["*"], ("203.0.113.9", 1), True),
        (["*"], ("::", 1), True),
        ([], ("127.0.0.1", 1), False),
        ([], None, True),  # a unix socket
        (["127.0.0.1"], ("localhost", 1), False),  # names are never resolved
        (["127.0.0.1"], ("", 1), False),
        (["127.0.0.1"], ("127.0.0.1.evil", 1), False),
    ],
)
def test_trust(entries: list[str], peer: tuple[str, int] | str | None, trusted: bool) -> None:
    assert TrustedProxies(entries).is_trusted(peer) is trusted
    assert is_trusted_proxy(peer, entries) is trusted


@pytest.mark.parametrize(
    ("entry", "detail"),
    [
        ("10.0.0.1/8", "host bits set"),
        ("example.com", "not an IP"),
        ("", "not an IP"),
        ("10.0.0.0/33", "not an IP"),
        ("127.0.0.01", "not an IP"),
    ],
)
def test_bad_allow_list_entry_is_named(entry: str, detail: str) -> None:
    with pytest.raises(ValueError, match=detail) as info:
        TrustedProxies(["127.0.0.1", entry])
    assert repr(entry) in str(info.value)


# -- properties ----------------------------------------------------------------------------

chunk_cuts = st.lists(st.integers(min_value=1, max_value=400), max_size=12)
SHORT = fuzz_settings(max_examples=500)  # 20,000 under --hypothesis-profile=long


def check_declared(outcome: Outcome, fed: int, *, eof: bool, max_v2_length: int) -> None:
    """Only the declared outcomes, and never more buffered than the bounds."""
    assert outcome is None or isinstance(outcome, ProxyHeader | ProxyHeaderError)
    if outcome is None:
        assert not eof
        assert fed < max(V1_MAX_LENGTH, 16 + max_v2_length)
    if isinstance(outcome, ProxyHeaderError):
        assert outcome.kind in {"malformed", "too_long", "unsupported", "incomplete"}


@SHORT
@given(
    prefix=st.sampled_from([b"", b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", V2_SIGNATURE]),
    data=st.binary(max_size=600),
    cuts=chunk_cuts,
    eof=st.booleans(),
    max_v2_length=st.sampled_from([0, 12, 300, DEFAULT_MAX_V2_LENGTH]),
)
def test_random_bytes_give_only_declared_outcomes(
    prefix: bytes, data: bytes, cuts: list[int], eof: bool, max_v2_length: int
) -> None:
    payload = prefix + data
    outcome, fed = feed_counted(payload, cuts, eof=eof, max_v2_length=max_v2_length)
    check_declared(outcome, fed, eof=eof, max_v2_length=max_v2_length)
    if isinstance(outcome, ProxyHeader):
        # What it did not consume is handed on, unchanged and in order.
        check_header_end(payload, fed, outcome)


def check_header_end(data: bytes, fed: int, parsed: ProxyHeader) -> None:
    end = header_length(data, fed, parsed)
    if parsed.version == 1:
        assert data[:end].endswith(b"\r\n")
        assert end <= V1_MAX_LENGTH
    else:
        assert end == 16 + int.from_bytes(data[14:16], "big")


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ports = st.integers(min_value=0, max_value=65535)
tlv = st.tuples(st.integers(0, 255), st.binary(max_size=40))


def same_address(parsed: tuple[str, int] | None, host: str, port: int) -> bool:
    assert parsed is not None
    return ipaddress.ip_address(parsed[0]) == ipaddress.ip_address(host) and parsed[1] == port


@SHORT
@given(
    v6=st.booleans(),
    data=st.data(),
    sport=ports,
    dport=ports,
    trailing=st.binary(max_size=50),
    cuts=chunk_cuts,
)
def test_v1_round_trip(
    v6: bool, data: st.DataObject, sport: int, dport: int, trailing: bytes, cuts: list[int]
) -> None:
    src, dst = data.draw(ipv6 if v6 else ipv4), data.draw(ipv6 if v6 else ipv4)
    line = v1("TCP6" if v6 else "TCP4", src, dst, sport, dport)
    outcome, fed = feed_counted(line + trailing, cuts)
    parsed = header(outcome)
    assert parsed.family == ("INET6" if v6 else "INET")
    assert same_address(parsed.source, src, sport)
    assert same_address(parsed.destination, dst, dport)
    assert header_length(line + trailing, fed, parsed) == len(line)


@SHORT
@given(
    family=st.sampled_from(["INET", "INET6", "UNIX", "UNSPEC"]),
    transport=st.sampled_from(["STREAM", "DGRAM", "UNSPEC"]),
    local=st.booleans(),
    data=st.data(),
    sport=ports,
    dport=ports,
    paths=st.tuples(st.binary(max_size=108), st.binary(max_size=108)),
    tlvs=st.lists(tlv, max_size=6),
    trailing=st.binary(max_size=50),
    cuts=chunk_cuts,
)
def test_v2_round_trip(
    family: str,
    transport: str,
    local: bool,
    data: st.DataObject,
    sport: int,
    dport: int,
    paths: tuple[bytes, bytes],
    tlvs: list[tuple[int, bytes]],
    trailing: bytes,
    cuts: list[int],
) -> None:
    hosts = ipv6 if family == "INET6" else ipv4
    src, dst = data.draw(hosts), data.draw(hosts)
    encoded = v2(
        command=0x0 if local else 0x1,
        family=family,
        transport=transport,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        paths=paths,
        tlvs=tlvs,
    )
    outcome, fed = feed_counted(encoded + trailing, cuts)
    parsed = header(outcome)
    assert parsed.version == 2
    assert header_length(encoded + trailing, fed, parsed) == len(encoded)
    if local:
        assert (parsed.command, parsed.family, parsed.source, parsed.tlvs) == (
            "LOCAL",
            "UNSPEC",
            None,
            (),
        )
        return
    assert (parsed.command, parsed.family, parsed.transport) == ("PROXY", family, transport)
    assert parsed.tlvs == tuple(tlvs)
    if family in ("INET", "INET6"):
        assert same_address(parsed.source, src, sport)
        assert same_address(parsed.destination, dst, dport)
    elif family == "UNIX":
        assert parsed.source_path == paths[0].split(b"\0", 1)[0]
        assert parsed.destination_path == paths[1].split(b"\0", 1)[0]
    else:
        assert (parsed.source, parsed.destination) == (None, None)


@st.composite
def mutated_headers(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        v6 = draw(st.booleans())
        hosts = ipv6 if v6 else ipv4
        base = v1("TCP6" if v6 else "TCP4", draw(hosts), draw(hosts), draw(ports), draw(ports))
    else:
        family = draw(st.sampled_from(["INET", "INET6", "UNIX"]))
        hosts = ipv6 if family == "INET6" else ipv4
        base = v2(
            family=family,
            src=draw(hosts),
            dst=draw(hosts),
            tlvs=draw(st.lists(tlv, max_size=3)),
        )
    data = bytearray(base + b"GET / HTTP/1.1\r\n\r\n")
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and position < len(data):
            data[position] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@SHORT
@given(data=mutated_headers(), cuts=chunk_cuts, eof=st.booleans())
def test_mutated_headers_give_only_declared_outcomes(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    outcome, fed = feed_counted(data, cuts, eof=eof)
    check_declared(outcome, fed, eof=eof, max_v2_length=DEFAULT_MAX_V2_LENGTH)
    if isinstance(outcome, ProxyHeader):
        check_header_end(data, fed, outcome)
        if outcome.source is not None:
            ipaddress.ip_address(outcome.source[0])  # always a real address
            assert 0 <= outcome.source[1] <= 65535
