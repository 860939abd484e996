"""``user`` / ``group``: who owns unix sockets, and whom workers run as when started as root."""

from __future__ import annotations

import os
import socket

from hypercorn_protocol.config import Config
from hypercorn_protocol.server.binding import Sockets


def chown_unix_sockets(config: Config, sockets: Sockets) -> None:
    """Give unix socket files to ``config.user`` / ``config.group``.

    The bind step already does this when both are set; this covers one of them alone
    (the other is left unchanged).
    """
    if (config.user is None) == (config.group is None):
        return
    uid = -1 if config.user is None else config.user
    gid = -1 if config.group is None else config.group
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
        if sock.family != getattr(socket, "AF_UNIX", None):
            continue
        path = sock.getsockname()
        if isinstance(path, str) and path and not path.startswith("\0"):
            os.chown(path, uid, gid)


def drop_privileges(user: int | None, group: int | None) -> None:
    """Switch this process to ``user`` / ``group`` if it runs as root.

    Supplementary groups become the user's (or none), then the group id changes, then
    the user id, which cannot be undone. Without root this does nothing: ``user`` and
    ``group`` then only decide who owns unix sockets, as in Hypercorn.
    """
    if os.name != "posix" or (user is None and group is None) or os.geteuid() != 0:
        return
    import pwd

    name = None
    gid = group
    if user is not None:
        try:
            entry = pwd.getpwuid(user)
        except KeyError:
            pass
        else:
            name = entry.pw_name
            gid = entry.pw_gid if gid is None else gid
    if gid is not None:
        if name is not None:
            os.initgroups(name, gid)
        else:
            os.setgroups([gid])
        os.setgid(gid)
    if user is not None:
        os.setuid(user)
