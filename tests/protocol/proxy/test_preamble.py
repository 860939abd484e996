"""ProxyPreamble: the header phase through peeks, without sockets."""

from __future__ import annotations

from hypothesis import given, strategies as st

from hypercorn_protocol.proxy import (
    ProxyAccepted,
    ProxyPreamble,
    ProxyRefused,
    TrustedProxies,
)

TRUSTED = TrustedProxies(["127.0.0.1"])
PEER = ("127.0.0.1", 5000)
LOCAL = ("127.0.0.1", 8000)
HEADER = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"
V2 = (
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
    + bytes([192, 0, 2, 1, 198, 51, 100, 2])
    + (56324).to_bytes(2, "big")
    + (443).to_bytes(2, "big")
)


def run(preamble: ProxyPreamble, arrivals: list[bytes]) -> bytes:
    """Feed ``arrivals`` as a socket would show them to peeks; return what is left unread."""
    buffered = b""
    for chunk in [*(a for a in arrivals if a), b""]:  # a peek sees b"" only at EOF
        buffered += chunk
        if preamble.outcome is None:
            consume = preamble.peeked(buffered[: preamble.peek_size])
            assert 0 <= consume <= len(buffered)
            buffered = buffered[consume:]
    return buffered


def test_untrusted_peer_is_refused_before_reading() -> None:
    preamble = ProxyPreamble(TRUSTED, ("192.0.2.9", 1), LOCAL)
    assert isinstance(preamble.outcome, ProxyRefused)
    assert preamble.outcome.reason == "untrusted"
    assert "192.0.2.9:1" in preamble.outcome.message
    assert preamble.peeked(HEADER) == 0


def test_header_then_request_consumes_only_the_header() -> None:
    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL)
    assert run(preamble, [HEADER + b"GET / HTTP/1.1\r\n"]) == b"GET / HTTP/1.1\r\n"
    assert isinstance(preamble.outcome, ProxyAccepted)
    assert preamble.outcome.client == ("192.0.2.1", 56324)
    assert preamble.outcome.server == ("198.51.100.2", 443)


def test_unix_socket_peer_is_trusted() -> None:
    preamble = ProxyPreamble(TRUSTED, None, None)
    run(preamble, [V2])
    assert isinstance(preamble.outcome, ProxyAccepted)
    assert preamble.outcome.client == ("192.0.2.1", 56324)


def test_eof_mid_header_and_garbage_and_timeout() -> None:
    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL)
    run(preamble, [HEADER[:10]])
    assert isinstance(preamble.outcome, ProxyRefused)
    assert preamble.outcome.reason == "incomplete"

    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL)
    assert preamble.peeked(b"GET / HTTP/1.1\r\n") == 0
    assert isinstance(preamble.outcome, ProxyRefused)
    assert preamble.outcome.reason == "malformed"

    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL)
    preamble.peeked(HEADER[:5])
    preamble.timed_out()
    assert isinstance(preamble.outcome, ProxyRefused)
    assert preamble.outcome.reason == "timeout"


def test_peek_size_never_passes_the_largest_header() -> None:
    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL, max_v2_length=100)
    assert preamble.peek_size == 116
    preamble.peeked(V2[:16])
    assert preamble.peek_size == 100


@given(
    header=st.sampled_from([HEADER, V2]),
    rest=st.binary(max_size=64),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_any_split_leaves_exactly_what_follows_the_header(
    header: bytes, rest: bytes, cuts: list[int]
) -> None:
    data = header + rest
    points = sorted({min(cut, len(data)) for cut in cuts})
    arrivals = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    preamble = ProxyPreamble(TRUSTED, PEER, LOCAL)
    assert run(preamble, arrivals) == rest
    assert isinstance(preamble.outcome, ProxyAccepted)
