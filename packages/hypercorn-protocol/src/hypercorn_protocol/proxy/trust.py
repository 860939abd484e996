"""Which peers may send a PROXY header: the ``proxy_allow_ips`` decision.

A PROXY header lets the peer choose the client address every log line and every app
sees, so only the load balancers listed in ``proxy_allow_ips`` may send one; a
connection from anywhere else is closed. Entries are IP addresses or CIDR networks
(``"10.0.0.0/8"``, ``"fd00::/8"``), or ``"*"`` for any peer. An IPv4-mapped IPv6 peer
(``::ffff:127.0.0.1``, what a dual-stack socket reports) matches its IPv4 entries, and
the other way round.
A unix-socket peer (no address) is always trusted: whoever can open the socket file is
already local, and the file's permissions are the access control.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The default ``proxy_allow_ips``: loopback only.
DEFAULT_PROXY_ALLOW_IPS = ("127.0.0.1", "::1")


class TrustedProxies:
    """A parsed ``proxy_allow_ips`` list.

    Args:
        entries: IP addresses, CIDR networks (host bits must be zero) or ``"*"``.

    Raises:
        ValueError: an entry is neither (the message names it).

    Example:
        >>> trusted = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
        >>> trusted.is_trusted(("10.1.2.3", 40000)), trusted.is_trusted(("192.0.2.1", 1))
        (True, False)
    """

    __slots__ = ("_any", "_networks")

    def __init__(self, entries: Iterable[str]) -> None:
        networks: list[Network] = []
        self._any = False
        for entry in entries:
            text = entry.strip()
            if text == "*":
                self._any = True
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=True))
            except ValueError as exc:
                detail = "host bits set" if "host bits" in str(exc) else "not an IP or network"
                raise ValueError(
                    f"invalid proxy_allow_ips entry {entry!r} ({detail}): expected an IP "
                    "address, a CIDR network such as 10.0.0.0/8, or *"
                ) from None
        self._networks = tuple(networks)

    def is_trusted(self, peer: tuple[str, int] | str | None) -> bool:
        """Whether ``peer`` (the real connection's ``(host, port)``, or a host) may
        send a PROXY header. None (a unix socket) is trusted; an unparsable host is not.
        """
        if peer is None:
            return True
        if self._any:
            return True
        host = peer if isinstance(peer, str) else peer[0]
        # A link-local peer may come with its zone ("fe80::1%eth0"); entries have none.
        host = host.partition("%")[0]
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                candidates.append(address.ipv4_mapped)
        else:  # an entry may be written in the mapped form
            candidates.append(ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed))
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self._networks
        )


def is_trusted_proxy(peer: tuple[str, int] | str | None, allow_ips: Iterable[str]) -> bool:
    """One-off form of :meth:`TrustedProxies.is_trusted` (parse the list once instead
    when deciding for many connections).

    Raises:
        ValueError: an entry of ``allow_ips`` is not an IP, a CIDR network or ``"*"``.
    """
    return TrustedProxies(allow_ips).is_trusted(peer)


__all__ = ["DEFAULT_PROXY_ALLOW_IPS", "TrustedProxies", "is_trusted_proxy"]
