"""Tests for hypercorn_protocol.server.binding with real sockets."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hypercorn_protocol.config import Config, ConfigError, ConfigWarning
from hypercorn_protocol.server.binding import (
    QUIC_NEEDS_UDP,
    BindError,
    FDBind,
    Sockets,
    SocketTypeError,
    TCPBind,
    UnixBind,
    create_sockets,
    describe_bind,
    parse_bind,
)


def ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def close_all(sockets: Sockets) -> None:
    for group in sockets:
        for sock in group:
            sock.close()


@pytest.fixture
def created() -> Iterator[list[Sockets]]:
    """Collects Sockets made by a test and closes them afterwards."""
    made: list[Sockets] = []
    yield made
    for sockets in made:
        close_all(sockets)


def make(config: Config, created: list[Sockets]) -> Sockets:
    sockets = create_sockets(config)
    created.append(sockets)
    return sockets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def config_with(**options: object) -> Config:
    return Config.from_mapping(options)


def assert_serves(sock: socket.socket) -> None:
    """A client can connect to the listening socket and the server can accept it."""
    sock.settimeout(5)
    family = sock.family
    address = sock.getsockname()
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(address)
        client.sendall(b"ping")
        conn, _ = sock.accept()
        with conn:
            assert conn.recv(4) == b"ping"
    sock.setblocking(False)


# -- parse_bind ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8080", TCPBind("127.0.0.1", 8080, socket.AF_INET)),
        ("127.0.0.1", TCPBind("127.0.0.1", 8000, socket.AF_INET)),
        ("0.0.0.0:0", TCPBind("0.0.0.0", 0, socket.AF_INET)),
        ("localhost:443", TCPBind("localhost", 443, socket.AF_INET)),
        ("[::]:8443", TCPBind("::", 8443, socket.AF_INET6)),
        ("[::1]", TCPBind("::1", 8000, socket.AF_INET6)),
        ("::1", TCPBind("::1", 8000, socket.AF_INET6)),
        ("unix:/tmp/app.sock", UnixBind("/tmp/app.sock")),
        ("fd://3", FDBind(3)),
    ],
)
def test_parse_bind(bind: str, expected: object) -> None:
    assert parse_bind(bind) == expected


@pytest.mark.parametrize(
    ("bind", "message"),
    [
        ("127.0.0.1:http", "cannot bind 127.0.0.1:http: invalid port 'http'"),
        ("127.0.0.1:70000", "cannot bind 127.0.0.1:70000: invalid port '70000'"),
        ("[::1", "cannot bind [::1: missing ']' after IPv6 address"),
        ("[::1]8000", "cannot bind [::1]8000: unexpected '8000' after IPv6 address"),
        ("fd://x", "cannot bind fd://x: invalid file descriptor 'x'"),
        ("unix:", "cannot bind unix:: empty unix socket path"),
    ],
)
def test_parse_bind_errors(bind: str, message: str) -> None:
    with pytest.raises(BindError) as info:
        parse_bind(bind)
    assert str(info.value) == message


# -- TCP -------------------------------------------------------------------------------------


def test_ipv4_bind_gives_a_listening_configured_socket(created: list[Sockets]) -> None:
    sockets = make(config_with(bind="127.0.0.1:0"), created)
    assert sockets.secure_sockets == []
    assert sockets.quic_sockets == []
    (sock,) = sockets.insecure_sockets
    assert sock.family == socket.AF_INET
    assert sock.type == socket.SOCK_STREAM
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    assert not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    assert sock.getblocking() is False
    assert sock.get_inheritable() is True
    assert_serves(sock)


def test_explicit_port(created: list[Sockets]) -> None:
    port = free_port()
    (sock,) = make(config_with(bind=f"127.0.0.1:{port}"), created).insecure_sockets
    assert sock.getsockname() == ("127.0.0.1", port)


def test_backlog_is_used(created: list[Sockets]) -> None:
    # A listen() backlog is not readable back; check listening works with a tiny one.
    (sock,) = make(config_with(bind="127.0.0.1:0", backlog=1), created).insecure_sockets
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    assert_serves(sock)


def test_reuseport_only_when_asked(created: list[Sockets]) -> None:
    # By default the workers share one socket; reuse_port gives each its own.
    (shared,) = make(config_with(bind="127.0.0.1:0", workers=2), created).insecure_sockets
    assert not shared.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    config = config_with(bind="127.0.0.1:0", workers=2, reuse_port=True)
    (sock,) = make(config, created).insecure_sockets
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)


@needs_ipv6
def test_ipv6_bind(created: list[Sockets]) -> None:
    (sock,) = make(config_with(bind="[::1]:0"), created).insecure_sockets
    assert sock.family == socket.AF_INET6
    assert sock.getsockname()[0] == "::1"
    assert_serves(sock)
    assert describe_bind(sock, secure=True) == f"https://[::1]:{sock.getsockname()[1]}"


def test_several_binds(created: list[Sockets]) -> None:
    sockets = make(config_with(bind=["127.0.0.1:0", "127.0.0.1:0"]), created)
    first, second = sockets.insecure_sockets
    assert first.getsockname()[1] != second.getsockname()[1]


# -- TLS on / off ------------------------------------------------------------------------------


def test_tls_selects_secure_insecure_and_quic(created: list[Sockets]) -> None:
    config = config_with(
        certfile="cert.pem",
        keyfile="key.pem",
        bind="127.0.0.1:0",
        insecure_bind=["127.0.0.1:0"],
        quic_bind="127.0.0.1:0",
    )
    sockets = make(config, created)
    (secure,) = sockets.secure_sockets
    (insecure,) = sockets.insecure_sockets
    (quic,) = sockets.quic_sockets
    assert secure.type == socket.SOCK_STREAM
    assert insecure.type == socket.SOCK_STREAM
    assert quic.type == socket.SOCK_DGRAM
    assert quic.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    assert quic.getblocking() is False
    assert quic.get_inheritable() is True
    assert describe_bind(secure, secure=True).startswith("https://127.0.0.1:")
    assert describe_bind(insecure, secure=False).startswith("http://127.0.0.1:")


def test_without_tls_insecure_and_quic_binds_are_ignored_with_a_warning(
    created: list[Sockets],
) -> None:
    config = config_with(bind="127.0.0.1:0", insecure_bind="127.0.0.1:0", quic_bind="127.0.0.1:0")
    with pytest.warns(ConfigWarning, match="^insecure_bind and quic_bind ignored: .*TLS"):
        sockets = make(config, created)
    assert len(sockets.insecure_sockets) == 1
    assert sockets.secure_sockets == []
    assert sockets.quic_sockets == []


def test_config_create_sockets_generates_alt_svc(created: list[Sockets]) -> None:
    config = config_with(
        certfile="cert.pem", keyfile="key.pem", bind="127.0.0.1:0", quic_bind="127.0.0.1:0"
    )
    sockets = config.create_sockets()
    created.append(sockets)
    port = sockets.quic_sockets[0].getsockname()[1]
    headers = config.response_headers("h2", now=0)
    assert (b"alt-svc", f'h3=":{port}"; ma=3600'.encode()) in headers
    config.alt_svc_headers = ['h3=":443"']
    assert [v for k, v in config.response_headers("h2", now=0) if k == b"alt-svc"] == [b'h3=":443"']


# -- unix sockets ------------------------------------------------------------------------------


def test_unix_bind(tmp_path: Path, created: list[Sockets]) -> None:
    path = tmp_path / "app.sock"
    (sock,) = make(config_with(bind=f"unix:{path}"), created).insecure_sockets
    assert sock.family == socket.AF_UNIX
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert sock.getblocking() is False
    assert sock.get_inheritable() is True
    assert describe_bind(sock, secure=False) == f"unix:{path}"
    assert_serves(sock)


def test_unix_bind_replaces_a_stale_socket(tmp_path: Path, created: list[Sockets]) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays behind, as after a crash
    (sock,) = make(config_with(bind=f"unix:{path}"), created).insecure_sockets
    assert_serves(sock)


def test_unix_bind_refuses_to_remove_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("keep me")
    with pytest.raises(BindError) as info:
        create_sockets(config_with(bind=f"unix:{path}"))
    assert str(info.value) == (
        f"cannot bind unix:{path}: a file that is not a socket exists at that path"
    )
    assert path.read_text() == "keep me"


def test_unix_bind_umask_and_chown(tmp_path: Path, created: list[Sockets]) -> None:
    path = tmp_path / "masked.sock"
    before = os.umask(0o022)
    os.umask(before)
    config = config_with(bind=f"unix:{path}", umask=0o077, user=os.getuid(), group=os.getgid())
    make(config, created)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid())
    current = os.umask(before)
    assert current == before  # restored after binding


def test_unix_bind_into_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "app.sock"
    with pytest.raises(BindError) as info:
        create_sockets(config_with(bind=f"unix:{path}"))
    assert str(info.value) == f"cannot bind unix:{path}: no such file or directory"
    assert info.value.errno == errno.ENOENT


# -- inherited file descriptors ------------------------------------------------------------------


def test_fd_bind_adopts_a_listening_socket() -> None:
    original = socket.socket()
    original.bind(("127.0.0.1", 0))
    original.listen()
    sockets = create_sockets(config_with(bind=f"fd://{original.fileno()}"))
    (sock,) = sockets.insecure_sockets
    try:
        assert sock.fileno() == original.fileno()
        assert sock.getsockname() == original.getsockname()
        assert sock.getblocking() is False
        assert sock.get_inheritable() is True
        assert_serves(sock)
    finally:
        sock.detach()  # the fd belongs to `original`
        original.close()


def test_fd_bind_checks_the_socket_type() -> None:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    config = config_with(
        certfile="c.pem", keyfile="k.pem", bind=[], quic_bind=f"fd://{tcp.fileno()}"
    )
    try:
        with pytest.raises(SocketTypeError, match="wanted 'SOCK_DGRAM' got 'SOCK_STREAM'"):
            create_sockets(config)
        # The inherited fd is left open for its owner.
        assert tcp.getsockname()[0] == "127.0.0.1"
    finally:
        tcp.close()


def test_quic_bind_to_a_unix_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "quic.sock"
    config = config_with(certfile="c.pem", keyfile="k.pem", quic_bind=f"unix:{path}")
    with pytest.raises(ConfigError) as info:
        create_sockets(config)
    assert str(info.value) == f"quic_bind unix:{path}: {QUIC_NEEDS_UDP}"
    assert not path.exists()


def test_quic_bind_to_an_inherited_unix_datagram_socket_is_refused(tmp_path: Path) -> None:
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(str(tmp_path / "dgram.sock"))
    bind = f"fd://{unix.fileno()}"
    config = config_with(certfile="c.pem", keyfile="k.pem", bind=[], quic_bind=bind)
    try:
        with pytest.raises(ConfigError) as info:
            create_sockets(config)
        assert str(info.value) == f"quic_bind {bind}: {QUIC_NEEDS_UDP}"
        # The inherited fd is left open for its owner.
        assert unix.getsockname() == str(tmp_path / "dgram.sock")
    finally:
        unix.close()


def test_quic_bind_adopts_an_inherited_udp_socket() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    config = config_with(
        certfile="c.pem", keyfile="k.pem", bind=[], quic_bind=f"fd://{udp.fileno()}"
    )
    sockets = create_sockets(config)
    (quic,) = sockets.quic_sockets
    try:
        assert quic.fileno() == udp.fileno()
        assert quic.getsockname() == udp.getsockname()
    finally:
        quic.detach()
        udp.close()


def test_fd_bind_of_a_closed_fd() -> None:
    sock = socket.socket()
    fd = sock.fileno()
    sock.close()
    with pytest.raises(BindError, match=rf"^cannot bind fd://{fd}: bad file descriptor$"):
        create_sockets(config_with(bind=f"fd://{fd}"))


# -- errors --------------------------------------------------------------------------------------


def test_port_in_use_error_message(created: list[Sockets]) -> None:
    (sock,) = make(config_with(bind="127.0.0.1:0"), created).insecure_sockets
    port = sock.getsockname()[1]
    with pytest.raises(BindError) as info:
        create_sockets(config_with(bind=f"127.0.0.1:{port}"))
    error = info.value
    assert str(error) == f"cannot bind 127.0.0.1:{port}: address already in use"
    assert isinstance(error, OSError)
    assert error.errno == errno.EADDRINUSE
    assert error.bind == f"127.0.0.1:{port}"


def test_address_not_available() -> None:
    with pytest.raises(BindError) as info:
        create_sockets(config_with(bind="192.0.2.1:0"))  # TEST-NET-1, not a local address
    assert str(info.value) == "cannot bind 192.0.2.1:0: cannot assign requested address"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may bind privileged ports")
def test_permission_denied() -> None:
    with pytest.raises(BindError, match=r"^cannot bind 127\.0\.0\.1:1: permission denied$"):
        create_sockets(config_with(bind="127.0.0.1:1"))


def test_bind_error_pickles() -> None:
    import pickle

    error = BindError("127.0.0.1:80", "address already in use", errno.EADDRINUSE)
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error)
    assert clone.errno == errno.EADDRINUSE


def test_partial_failure_closes_everything(tmp_path: Path) -> None:
    port = free_port()
    unix_path = tmp_path / "first.sock"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy_port = blocker.getsockname()[1]
    before = open_fds()
    config = config_with(bind=[f"127.0.0.1:{port}", f"unix:{unix_path}", f"127.0.0.1:{busy_port}"])
    try:
        with pytest.raises(BindError, match=f"127.0.0.1:{busy_port}: address already in use"):
            create_sockets(config)
        assert open_fds() == before
        assert not unix_path.exists()
        # The first port is free again: nothing is listening on it.
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    finally:
        blocker.close()


def test_partial_failure_with_tls_closes_secure_sockets() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        before = open_fds()
        config = config_with(
            certfile="c.pem",
            keyfile="k.pem",
            bind="127.0.0.1:0",
            insecure_bind="127.0.0.1:0",
            quic_bind=f"127.0.0.1:{taken.getsockname()[1]}",
        )
        with pytest.raises(BindError):
            create_sockets(config)
        assert open_fds() == before


def test_describe_bind_forms(tmp_path: Path, created: list[Sockets]) -> None:
    sockets = make(config_with(bind=["127.0.0.1:0", f"unix:{tmp_path / 'd.sock'}"]), created)
    tcp, unix = sockets.insecure_sockets
    assert describe_bind(tcp, secure=False) == f"http://127.0.0.1:{tcp.getsockname()[1]}"
    assert describe_bind(tcp, secure=True) == f"https://127.0.0.1:{tcp.getsockname()[1]}"
    assert describe_bind(unix, secure=True) == f"unix:{tmp_path / 'd.sock'}"


def test_port_held_by_another_server_fails_even_with_reuseport() -> None:
    from hypercorn_protocol.config import Config
    from hypercorn_protocol.server.binding import BindError

    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this platform")
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:
        port = other.getsockname()[1]
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.workers = 4  # the sockets get SO_REUSEPORT
        with pytest.raises(BindError, match="address already in use"):
            config.create_sockets()
    finally:
        other.close()
