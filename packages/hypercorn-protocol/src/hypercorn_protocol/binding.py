"""``hypercorn_protocol.binding``: the documented path of socket binding and TLS contexts.

The implementation lives in ``hypercorn_protocol.server.binding``;
this module only re-exports its names.
"""

from hypercorn_protocol.server.binding import (
    DEFAULT_PORT as DEFAULT_PORT,
    BindError as BindError,
    FDBind as FDBind,
    Sockets as Sockets,
    SocketTypeError as SocketTypeError,
    TCPBind as TCPBind,
    UnixBind as UnixBind,
    create_sockets as create_sockets,
    create_ssl_context as create_ssl_context,
    describe_bind as describe_bind,
    parse_bind as parse_bind,
)

__all__ = [
    "BindError",
    "DEFAULT_PORT",
    "FDBind",
    "SocketTypeError",
    "Sockets",
    "TCPBind",
    "UnixBind",
    "create_sockets",
    "create_ssl_context",
    "describe_bind",
    "parse_bind",
]
