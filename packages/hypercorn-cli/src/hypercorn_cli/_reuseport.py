"""Per-worker listening sockets, so that the kernel spreads connections evenly.

When several processes ``accept()`` on one shared socket, the kernel wakes whichever
is waiting, and busy workers keep winning: the load is uneven. On Linux, sockets bound
to the same address with ``SO_REUSEPORT`` form a group, and the kernel hashes each new
connection to one socket of the group. So the supervisor binds one more socket per
worker slot (still in the parent, before spawning) and gives each worker its own.

A slot's socket lives as long as the slot, not as long as its worker: a replacement
worker takes over the very same socket, so connections queued in it are never lost
while workers are recycled. Unix sockets, ``fd://`` sockets and QUIC sockets stay
shared by all workers.
"""

from __future__ import annotations

import socket
import sys

from hypercorn_protocol.server.binding import Sockets


def reuseport_supported() -> bool:
    """Whether per-worker sockets balance connections here (Linux ``SO_REUSEPORT``)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def slot_sockets(primary: Sockets, backlog: int) -> tuple[Sockets, list[socket.socket]]:
    """The sockets for one more worker slot, and the ones made for it (to close later).

    Each TCP socket of ``primary`` that has ``SO_REUSEPORT`` gets a twin bound to the
    same address; every other socket is shared as is.
    """
    made: list[socket.socket] = []

    def twins(sockets: list[socket.socket]) -> list[socket.socket]:
        result = []
        for sock in sockets:
            twin = _twin(sock, backlog)
            if twin is None:
                result.append(sock)
            else:
                made.append(twin)
                result.append(twin)
        return result

    try:
        slot = Sockets(
            twins(primary.secure_sockets),
            twins(primary.insecure_sockets),
            list(primary.quic_sockets),
        )
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return slot, made


def _twin(sock: socket.socket, backlog: int) -> socket.socket | None:
    if not reuseport_supported() or sock.type != socket.SOCK_STREAM:
        return None
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        return None
    twin = socket.socket(sock.family, socket.SOCK_STREAM)
    try:
        twin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        twin.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        twin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if sock.family == socket.AF_INET6:
            v6only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
            twin.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        twin.bind(sock.getsockname())
        twin.listen(backlog)
        twin.setblocking(False)
        twin.set_inheritable(True)
    except OSError:
        twin.close()
        return None  # e.g. another user's socket took the port: share instead
    return twin
