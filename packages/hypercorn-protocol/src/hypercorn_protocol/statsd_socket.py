"""The UDP socket StatsD datagrams go out on (the one core module besides ``binding``
allowed to import ``socket``).

The host is resolved once, when the socket is made (at logger creation, before serving).
The socket is non-blocking and unconnected: ``sendto`` never waits, and a StatsD server
that is down costs nothing but the lost datagram.
"""

from __future__ import annotations

import socket
import weakref

DEFAULT_PORT = 8125


def split_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` / ``[v6]:port`` / ``host`` (port 8125) into host and port.

    Raises:
        ValueError: The port is not a number.
    """
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":") or str(DEFAULT_PORT)
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, str(DEFAULT_PORT)
    if not port.isdigit():
        raise ValueError(f"invalid statsd_host {address!r}: expected HOST:PORT")
    return host, int(port)


class StatsdSocket:
    """A non-blocking UDP socket aimed at one StatsD server.

    Args:
        address: ``host:port`` of the StatsD server.

    Raises:
        ValueError: ``address`` is malformed.
        OSError: The host does not resolve.
    """

    def __init__(self, address: str) -> None:
        host, port = split_address(address)
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address: tuple[object, ...] = sockaddr
        self._socket = socket.socket(family, kind, proto)
        self._socket.setblocking(False)
        # Loggers are dropped without ceremony (a config's logger is replaced or collected).
        self._close = weakref.finalize(self, self._socket.close)

    def send(self, datagram: bytes) -> bool:
        """Send one datagram now; False if the kernel refused it (buffer full, no route)."""
        try:
            self._socket.sendto(datagram, self.address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        self._close()
