"""systemd socket activation: listening sockets handed over in ``LISTEN_FDS``.

systemd (or any compatible launcher) passes already-bound sockets as file descriptors
3, 4, ... and sets ``LISTEN_FDS`` to their count and ``LISTEN_PID`` to the pid they are
meant for. When they are meant for this process they become the binds, as ``fd://N``:
stream sockets replace ``bind``, datagram sockets replace ``quic_bind`` (HTTP/3 needs
TLS, as usual). Binds the configuration already gives as ``fd://`` win: the operator
chose the descriptors explicitly.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

from hypercorn_protocol.config import Config

#: The first inherited descriptor (after stdin, stdout and stderr).
LISTEN_FDS_START = 3
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def activated_fds(environ: MutableMapping[str, str] | None = None) -> list[int]:
    """The descriptors passed to this process by socket activation (may be empty).

    The variables are removed from ``environ`` (``os.environ`` by default) once read, so
    that processes started later do not take them for their own.
    """
    environ = os.environ if environ is None else environ
    pid, count = environ.get("LISTEN_PID", ""), environ.get("LISTEN_FDS", "")
    for name in _VARIABLES:
        environ.pop(name, None)
    if not (pid.isdigit() and count.isdigit()) or int(pid) != os.getpid():
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)))


def apply_socket_activation(config: Config, fds: list[int]) -> bool:
    """Use the activated descriptors ``fds`` as binds of ``config``.

    Returns:
        True if the binds were replaced.
    """
    if not fds:
        return False
    if any(bind.startswith("fd://") for bind in (*config.bind, *config.quic_bind)):
        return False
    streams, datagrams = [], []
    for fd in fds:
        kind = _socket_type(fd)
        if kind == socket.SOCK_STREAM:
            streams.append(f"fd://{fd}")
        elif kind == socket.SOCK_DGRAM:
            datagrams.append(f"fd://{fd}")
    if streams:
        config.bind = streams
    if datagrams:
        config.quic_bind = datagrams
    return bool(streams or datagrams)


def _socket_type(fd: int) -> int | None:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None  # not a socket: ignored, as sd_listen_fds users do
    try:
        return int(sock.type)
    finally:
        sock.detach()  # the descriptor stays open for the real bind
