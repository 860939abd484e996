"""The PROXY header phase of one accepted connection, before TLS and HTTP.

Theory of operation. With ``proxy_protocol`` on, a driver makes one
:class:`ProxyPreamble` per accepted socket, from the worker's :class:`TrustedProxies`
and the socket's real addresses. An untrusted peer is refused at once (``outcome`` is
set before anything is read). Otherwise the driver loops, until ``outcome`` is set or
the phase's deadline passes (then :meth:`ProxyPreamble.timed_out`):

1. peek at most :attr:`ProxyPreamble.peek_size` bytes (``recv(n, MSG_PEEK)``, after
   waiting until the socket is readable; ``b""`` at EOF);
2. give them to :meth:`ProxyPreamble.peeked`, and consume (plain ``recv``) exactly the
   number of bytes it returns.

While the header is incomplete every byte that arrived belongs to it, so all of them
are consumed and the next peek waits for new ones (no busy loop); once it is complete
only the header's own bytes are consumed. The socket is then left at the first byte
of TLS or HTTP, so the TLS layer reads its ClientHello itself and a plain connection
needs nothing replayed: plain, TLS, HTTP/1.1, HTTP/2 and WebSocket connections all
go on exactly as without a header, with the header's addresses as the scope's
``client`` and ``server``.

Sans-IO: no socket, no clock; the driver owns both.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypercorn_protocol.proxy.header import (
    DEFAULT_MAX_V2_LENGTH,
    ProxyHeader,
    ProxyHeaderError,
    ProxyHeaderParser,
)
from hypercorn_protocol.proxy.trust import TrustedProxies

HostPort = tuple[str, int]

#: The metrics' refusal reason of each ProxyRefused.reason (the header's own kinds:
#: "proxy_header").
PROXY_REFUSALS = {"untrusted": "proxy_untrusted", "timeout": "proxy_timeout"}

_V2_FIXED = 16  # signature, version/command, family/transport, length


@dataclass(frozen=True, slots=True)
class ProxyAccepted:
    """A valid header from a trusted peer: serve the connection with these addresses."""

    header: ProxyHeader
    client: HostPort | None
    server: HostPort | None


@dataclass(frozen=True, slots=True)
class ProxyRefused:
    """Close the connection without writing anything.

    Attributes:
        reason: ``"untrusted"``, ``"timeout"``, or the header error's kind
            (``"malformed"``, ``"too_long"``, ``"unsupported"``, ``"incomplete"``).
        message: one line for the debug log, naming the peer.
    """

    reason: str
    message: str


class ProxyPreamble:
    """Reads one connection's PROXY header through peeks (see the module docstring).

    Args:
        trusted: the worker's parsed ``proxy_allow_ips``.
        client: the connection's real peer address (None on a unix socket).
        server: the connection's real local address.
        max_v2_length: the largest version 2 length field accepted.

    Attributes:
        outcome: None while reading, then a :class:`ProxyAccepted` or :class:`ProxyRefused`.
    """

    __slots__ = ("_client", "_consumed", "_limit", "_max_v2_length", "_server", "outcome")

    def __init__(
        self,
        trusted: TrustedProxies,
        client: HostPort | None,
        server: HostPort | None,
        *,
        max_v2_length: int = DEFAULT_MAX_V2_LENGTH,
    ) -> None:
        self._client = client
        self._server = server
        self._max_v2_length = max_v2_length
        self._limit = _V2_FIXED + max_v2_length  # a version 1 line (107 bytes) is shorter
        self._consumed = b""
        self.outcome: ProxyAccepted | ProxyRefused | None = None
        if not trusted.is_trusted(client):
            self.outcome = ProxyRefused(
                "untrusted", f"PROXY header refused from {_peer(client)}: untrusted peer"
            )

    @property
    def peek_size(self) -> int:
        """The most bytes the next peek should look at (never past the largest header)."""
        return max(self._limit - len(self._consumed), 1)

    def peeked(self, data: bytes) -> int:
        """What a peek saw (``b""``: the peer closed); returns how many bytes to consume."""
        if self.outcome is not None:
            return 0
        # A fresh parser over everything so far: the peeked bytes are not ours until
        # consumed, and the incremental parser cannot take bytes back.
        parser = ProxyHeaderParser(max_v2_length=self._max_v2_length)
        result = parser.receive_data(self._consumed + data) if self._consumed or data else None
        if result is None and not data:
            result = parser.receive_data(b"")
        if result is None:
            self._consumed += data
            return len(data)
        if isinstance(result, ProxyHeaderError):
            self.outcome = ProxyRefused(
                result.kind, f"PROXY header refused from {_peer(self._client)}: {result}"
            )
            return 0
        client, server = result.endpoints(self._client, self._server)
        self.outcome = ProxyAccepted(result, client, server)
        return len(data) - len(result.trailing_data)

    def timed_out(self) -> None:
        """The phase's deadline passed before a complete header arrived."""
        if self.outcome is None:
            self.outcome = ProxyRefused(
                "timeout", f"PROXY header refused from {_peer(self._client)}: none in time"
            )


def _peer(client: HostPort | None) -> str:
    if client is None:
        return "a unix socket"
    host, port = client
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["PROXY_REFUSALS", "ProxyAccepted", "ProxyPreamble", "ProxyRefused"]
