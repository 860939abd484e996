"""Socket binding and TLS contexts shared by the drivers and the CLI (the ``socket`` user).

Bind strings (Hypercorn 0.18 syntax):

* ``host:port`` or ``host`` (port 8000): IPv4 TCP (or UDP for ``quic_bind``);
* ``[::]:port``, ``[::1]`` or a bare IPv6 address: IPv6;
* ``unix:/path``: a unix socket; an existing socket file there is replaced;
* ``fd://N``: adopt inherited file descriptor N (its type is checked, it is not re-bound).

QUIC runs over UDP: a ``quic_bind`` must be a host:port, or ``fd://N`` of a UDP socket;
a unix socket there is refused with a ``ConfigError``.

Sockets are bound once (in the supervisor), made non-blocking and inheritable so worker
processes can share them, and stream sockets are already listening.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from hypercorn_protocol.server.config_files import ConfigError, ConfigWarning, reason

if TYPE_CHECKING:
    import ssl

    from hypercorn_protocol.config import Config

DEFAULT_PORT = 8000


class Sockets(NamedTuple):
    """The bound sockets: TLS ones, plain ones and QUIC (UDP) ones."""

    secure_sockets: list[socket.socket]
    insecure_sockets: list[socket.socket]
    quic_sockets: list[socket.socket]


class SocketTypeError(Exception):
    """An ``fd://`` socket has a different type than the bind needs (e.g. TCP for QUIC)."""

    def __init__(self, expected: socket.SocketKind, actual: socket.SocketKind) -> None:
        super().__init__(f"Unexpected socket type, wanted '{expected.name}' got '{actual.name}'")
        self.expected = expected
        self.actual = actual


class BindError(OSError):
    """An address could not be bound. ``str()`` is one line naming the address and reason.

    Args:
        bind: The bind string as configured, e.g. ``127.0.0.1:8000``.
        reason: Why, e.g. ``address already in use``.
        error_number: The ``errno`` value, if the error came from the OS.
    """

    def __init__(self, bind: str, reason: str, error_number: int | None = None) -> None:
        super().__init__(error_number, reason)
        self.bind = bind
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot bind {self.bind}: {self.reason}"

    def __reduce__(self) -> tuple[type[BindError], tuple[str, str, int | None]]:
        return (type(self), (self.bind, self.reason, self.errno))


@dataclass(frozen=True)
class TCPBind:
    """An internet address; ``family`` is ``AF_INET`` or ``AF_INET6``."""

    host: str
    port: int
    family: socket.AddressFamily


@dataclass(frozen=True)
class UnixBind:
    """A unix socket path."""

    path: str


@dataclass(frozen=True)
class FDBind:
    """An inherited file descriptor."""

    fd: int


def parse_bind(bind: str) -> TCPBind | UnixBind | FDBind:
    """Parse a bind string.

    Args:
        bind: ``host:port``, ``host``, ``[v6]:port``, ``[v6]``, ``unix:/path`` or ``fd://N``.

    Returns:
        The parsed address.

    Raises:
        BindError: The string is malformed (bad port, bad fd number, unclosed bracket).
    """
    if bind.startswith("unix:"):
        path = bind[5:]
        if not path:
            raise BindError(bind, "empty unix socket path")
        return UnixBind(path)
    if bind.startswith("fd://"):
        try:
            fd = int(bind[5:])
        except ValueError:
            raise BindError(bind, f"invalid file descriptor {bind[5:]!r}") from None
        if fd < 0:
            raise BindError(bind, f"invalid file descriptor {fd}")
        return FDBind(fd)
    port_text: str | None
    if bind.startswith("["):
        host, bracket, rest = bind[1:].partition("]")
        if not bracket:
            raise BindError(bind, "missing ']' after IPv6 address")
        if rest and not rest.startswith(":"):
            raise BindError(bind, f"unexpected {rest!r} after IPv6 address")
        port_text = rest[1:] if rest else None
    elif bind.count(":") > 1:
        host, port_text = bind, None  # a bare IPv6 address cannot carry a port
    else:
        host, colon, port_text = bind.partition(":")
        if not colon:
            port_text = None
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isdigit() or int(port_text) > 65535:
            raise BindError(bind, f"invalid port {port_text!r}")
        port = int(port_text)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return TCPBind(host, port, family)


#: Why a ``quic_bind`` cannot be a unix socket (the CLI says it too, naming the flag).
QUIC_NEEDS_UDP = "HTTP/3 runs over UDP and needs a host:port, not a unix socket"


def create_sockets(config: Config) -> Sockets:
    """Bind every address of ``config`` (see ``Config.create_sockets``).

    With TLS enabled, ``bind`` gives TLS sockets, ``insecure_bind`` plain ones and
    ``quic_bind`` UDP ones; without TLS only ``bind`` is used (plain), and a warning says
    that ``insecure_bind`` / ``quic_bind`` are ignored.

    Raises:
        BindError: An address could not be bound; sockets made so far are closed.
        SocketTypeError: An ``fd://`` socket has the wrong type.
        ConfigError: A ``quic_bind`` is a unix socket (``unix:/path``, or ``fd://N`` of
            a unix datagram socket).
    """
    created: list[socket.socket] = []
    adopted: set[int] = set()
    try:
        if config.ssl_enabled:
            secure = _bind_all(config, config.bind, socket.SOCK_STREAM, created, adopted)
            insecure = _bind_all(config, config.insecure_bind, socket.SOCK_STREAM, created, adopted)
            quic = _bind_all(config, config.quic_bind, socket.SOCK_DGRAM, created, adopted)
            for sock in quic:
                _enlarge_udp_buffers(sock)
        else:
            ignored = [name for name in ("insecure_bind", "quic_bind") if getattr(config, name)]
            if ignored:
                warnings.warn(
                    f"{' and '.join(ignored)} ignored: they are only used when TLS is enabled "
                    "(certfile and keyfile)",
                    ConfigWarning,
                    stacklevel=3,
                )
            secure, quic = [], []
            insecure = _bind_all(config, config.bind, socket.SOCK_STREAM, created, adopted)
    except BaseException:
        for sock in created:
            if id(sock) in adopted:
                sock.detach()  # an inherited fd stays open: it was not ours to close
            else:
                _close_and_unlink(sock)
        raise
    return Sockets(secure, insecure, quic)


#: The socket buffers asked for a QUIC socket: a connection sends bursts of a congestion
#: window, and the kernel's default (about 200 KiB) drops them, which QUIC takes as loss.
UDP_BUFFER_SIZE = 4 * 1024 * 1024


def _enlarge_udp_buffers(sock: socket.socket) -> None:
    # Once, where the socket is made: every worker then shares the larger buffers.
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            if sock.getsockopt(socket.SOL_SOCKET, option) < UDP_BUFFER_SIZE:
                sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER_SIZE)
        except OSError:
            pass  # not permitted: the default buffers still work, only slower


def _close_and_unlink(sock: socket.socket) -> None:
    """Close a socket we made; remove its unix socket file if it got bound."""
    path = None
    if sock.family == socket.AF_UNIX:
        try:
            path = sock.getsockname()
        except OSError:
            path = None
    sock.close()
    if isinstance(path, str) and path:
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass


def _bind_all(
    config: Config,
    binds: list[str],
    kind: socket.SocketKind,
    created: list[socket.socket],
    adopted: set[int],
) -> list[socket.socket]:
    sockets = []
    for bind in binds:
        address = parse_bind(bind)
        if kind == socket.SOCK_DGRAM and isinstance(address, UnixBind):
            raise ConfigError(f"quic_bind {bind}: {QUIC_NEEDS_UDP}")
        if isinstance(address, FDBind):
            sock = _adopt_fd(address.fd, kind, bind)
            adopted.add(id(sock))
            created.append(sock)
            if kind == socket.SOCK_DGRAM and sock.family not in (socket.AF_INET, socket.AF_INET6):
                raise ConfigError(f"quic_bind {bind}: {QUIC_NEEDS_UDP}")
        else:
            sock = _new_socket(address, kind, bind)
            created.append(sock)
            _configure(sock, config, kind)
            if isinstance(address, UnixBind):
                _bind_unix(sock, address.path, config, bind)
            else:
                _bind_inet(sock, address, bind)
        sock.setblocking(False)
        sock.set_inheritable(True)
        if kind == socket.SOCK_STREAM:
            try:
                sock.listen(config.backlog)
            except OSError as exc:
                raise _bind_error(bind, exc) from None
        sockets.append(sock)
    return sockets


def _new_socket(address: TCPBind | UnixBind, kind: socket.SocketKind, bind: str) -> socket.socket:
    family = address.family if isinstance(address, TCPBind) else socket.AF_UNIX
    try:
        return socket.socket(family, kind)
    except OSError as exc:
        raise _bind_error(bind, exc) from None


def _adopt_fd(fd: int, kind: socket.SocketKind, bind: str) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise _bind_error(bind, exc) from None
    if sock.type != kind:
        actual = sock.type
        sock.detach()
        raise SocketTypeError(kind, actual)
    return sock


def _configure(sock: socket.socket, config: Config, kind: socket.SocketKind) -> None:
    if sock.family == socket.AF_UNIX:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if kind == socket.SOCK_STREAM:
        # Small writes must not wait for delayed ACKs (Nagle): latency on keep-alive.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Only when asked: with SO_REUSEPORT the kernel hashes connections to a worker's own
    # socket even while that worker is blocked (see the CLI's ``_reuseport``).
    if config.reuse_port and hasattr(socket, "SO_REUSEPORT"):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        except OSError:
            pass  # some kernels define the constant but reject the option


def _bind_inet(sock: socket.socket, address: TCPBind, bind: str) -> None:
    if address.port != 0 and _reuses_port(sock):
        _probe_free(address, sock.type, bind)
    try:
        sock.bind((address.host, address.port))
    except OSError as exc:
        raise _bind_error(bind, exc) from None


def _reuses_port(sock: socket.socket) -> bool:
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    except OSError:
        return False


def _probe_free(address: TCPBind, kind: socket.SocketKind, bind: str) -> None:
    """Fail if another server holds the port: SO_REUSEPORT would silently share it."""
    with socket.socket(address.family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            raise _bind_error(bind, exc) from None


def _bind_unix(sock: socket.socket, path: str, config: Config, bind: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _bind_error(bind, exc) from None
    else:
        if not stat.S_ISSOCK(mode):
            raise BindError(bind, "a file that is not a socket exists at that path", errno.EEXIST)
        try:
            os.unlink(path)  # a stale socket from an earlier run
        except OSError as exc:
            raise _bind_error(bind, exc) from None
    try:
        with _umask(config.umask):
            sock.bind(path)
        if config.user is not None and config.group is not None:
            os.chown(path, config.user, config.group)
    except OSError as exc:
        raise _bind_error(bind, exc) from None


@contextmanager
def _umask(mask: int | None) -> Iterator[None]:
    if mask is None:
        yield
        return
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _bind_error(bind: str, exc: OSError) -> BindError:
    if isinstance(exc, socket.gaierror):
        reason = f"cannot resolve host ({exc.strerror or exc})"
    else:
        reason = exc.strerror or str(exc)
    reason = " ".join(reason.split())
    if reason[:1].isupper() and not reason[:2].isupper():
        reason = reason[0].lower() + reason[1:]
    return BindError(bind, reason, exc.errno)


def describe_bind(sock: socket.socket, secure: bool) -> str:
    """Describe a bound socket for startup logs.

    Args:
        sock: A bound socket.
        secure: Whether TLS is served on it.

    Returns:
        E.g. ``http://127.0.0.1:8000``, ``https://[::1]:8443`` or ``unix:/tmp/x.sock``.
    """
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "backslashreplace")
        return f"unix:{name}"
    scheme = "https" if secure else "http"
    host, port = name[0], name[1]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def address_tuple(value: Any) -> tuple[str, int] | None:
    """A ``getpeername()``/``getsockname()`` result as the ASGI ``(host, port)``.

    IPv6 gives 4-tuples (cut to two); unix sockets give a path or "" (None).
    """
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return None


def reset_on_close(sock: Any) -> None:
    """Make closing ``sock`` send a TCP reset, dropping what the kernel still queues.

    For a peer that stopped reading (``response_write_timeout``): a plain close would
    leave the unsent bytes, and the FIN behind them, queued in the kernel for as long
    as the peer keeps its window shut, so the peer would never see the close.
    """
    if sock is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        # struct linger {l_onoff = 1, l_linger = 0}: close() resets
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already closed


# ---------------------------------------------------------------------- TLS


def create_ssl_context(config: Config) -> ssl.SSLContext | None:
    """Build the server TLS context, or return None when TLS is not enabled.

    Raises:
        ConfigError: A certificate, key or CA file is missing or invalid, the key
            password is wrong, or the cipher string selects nothing.
    """
    if not config.ssl_enabled:
        return None
    import ssl  # here: it maps OpenSSL (about 5 MiB of RSS) into a process without TLS

    certfile, keyfile = config.certfile, config.keyfile
    assert certfile is not None  # ssl_enabled checked both
    assert keyfile is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.set_ciphers(config.ciphers)
    except ssl.SSLError as exc:
        raise ConfigError(f"invalid ciphers {config.ciphers!r}: {reason(exc)}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Keep the stdlib's safe defaults and add no-compression (CRIME).
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(config.alpn_protocols)
    for path, what in ((certfile, "certificate"), (keyfile, "key")):
        if not os.path.isfile(path):
            raise ConfigError(f"cannot load TLS {what} file {path}: file not found")
    password = config.keyfile_password
    try:
        # Without a password, answer OpenSSL's prompt with "" rather than block on a tty.
        context.load_cert_chain(
            certfile, keyfile, password if password is not None else _no_password
        )
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(_cert_chain_problem(certfile, keyfile, exc)) from None
    if config.ca_certs is not None:
        try:
            context.load_verify_locations(config.ca_certs)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load TLS CA file {config.ca_certs}: {reason(exc)}") from None
    if config.verify_mode is not None:
        context.verify_mode = ssl.VerifyMode(config.verify_mode)
    if config.verify_flags is not None:
        context.verify_flags = ssl.VerifyFlags(config.verify_flags)
    return context


def _cert_chain_problem(certfile: str, keyfile: str, exc: BaseException) -> str:
    """Say which file made ``load_cert_chain`` fail (OpenSSL only says "PEM lib")."""
    try:
        with open(certfile, "rb") as file:
            cert_pem = file.read()
        with open(keyfile, "rb") as file:
            key_pem = file.read()
    except OSError as read_error:
        return f"cannot load TLS certificate file {certfile}: {reason(read_error)}"
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        return f"cannot load TLS certificate file {certfile}: no PEM certificate found"
    if b"PRIVATE KEY-----" not in key_pem:
        return f"cannot load TLS key file {keyfile}: no PEM private key found"
    if b"ENCRYPTED" in key_pem:
        return f"cannot load TLS key file {keyfile}: wrong or missing keyfile_password"
    return f"cannot load TLS certificate file {certfile} with key file {keyfile}: {reason(exc)}"


def _no_password() -> str:
    return ""


__all__ = [
    "reset_on_close",
    "DEFAULT_PORT",
    "QUIC_NEEDS_UDP",
    "BindError",
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
