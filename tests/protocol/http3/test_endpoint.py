"""Tests for hypercorn_protocol.http3.endpoint: the sans-IO QUIC endpoint of a UDP socket.

The peer is aioquic's client ``QuicConnection`` with an ``H3Connection`` on top; datagrams
move through a small in-memory "network" (that can drop, duplicate and reorder them) under
a fake clock. No sockets. The HTTP/3 echo handler below lives here, not in the package:
it only proves that the endpoint carries a real HTTP/3 exchange end to end.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from hypercorn_protocol.config import Config, ConfigError

# aioquic comes with the h3 extra; the protocol-only environment does not install it.
pytest.importorskip("aioquic")

from aioquic.buffer import Buffer  # type: ignore[attr-defined]
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
)
from aioquic.quic.packet import (
    QuicPacketType,
    QuicProtocolVersion,
    encode_quic_version_negotiation,
    pull_quic_header,
)

from hypercorn_protocol.http3.endpoint import (
    MIN_INITIAL_SIZE,
    EndpointConnection,
    QuicEndpoint,
    RetryTokens,
    SessionTicketStore,
)
from hypercorn_protocol.server.quic import build_quic_configuration

SERVER = ("192.0.2.1", 443)
START = 1000.0

Address = tuple[str, int]
Datagrams = list[tuple[bytes, Any]]


# -- the HTTP/3 echo handler (test-only) ------------------------------------------------


class H3Echo:
    """Answers each request with 200, its path and its body, and records what it saw."""

    instances: list[H3Echo] = []  # noqa: RUF012 - reset by a fixture

    def __init__(self, connection: EndpointConnection) -> None:
        self.connection = connection
        self.h3 = H3Connection(connection.quic)
        self.events: list[QuicEvent] = []
        self.requests: dict[int, tuple[dict[bytes, bytes], bytearray]] = {}
        self.answered: set[int] = set()
        self.deadline: float | None = None
        self.timer_calls = 0
        H3Echo.instances.append(self)

    def quic_event(self, event: QuicEvent, now: float) -> None:
        self.events.append(event)
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self.requests[event.stream_id] = (dict(event.headers), bytearray())
        elif isinstance(event, DataReceived):
            self.requests[event.stream_id][1].extend(event.data)
        else:
            return
        # Older aioquic (1.3, what Python 3.10 gets) may report a stream's end twice
        # when a packet is duplicated: answer each request once.
        if event.stream_ended and event.stream_id not in self.answered:
            self.answered.add(event.stream_id)
            headers, body = self.requests[event.stream_id]
            host, port = self.connection.remote_address[:2]
            self.h3.send_headers(
                event.stream_id,
                [
                    (b":status", b"200"),
                    (b"x-path", headers[b":path"]),
                    (b"x-client", f"{host}:{port}".encode()),
                ],
            )
            self.h3.send_data(event.stream_id, bytes(body), end_stream=True)

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.timer_calls += 1
        self.deadline = None


@pytest.fixture(autouse=True)
def _reset_instances() -> Iterator[None]:
    H3Echo.instances.clear()
    yield
    H3Echo.instances.clear()


# -- TLS material -----------------------------------------------------------------------


@dataclass
class TLS:
    ca: trustme.CA
    certfile: str
    keyfile: str

    def config(self, **options: Any) -> Config:
        config = Config()
        config.certfile = self.certfile
        config.keyfile = self.keyfile
        for name, value in options.items():
            setattr(config, name, value)
        return config

    def client_configuration(self, **options: Any) -> QuicConfiguration:
        options.setdefault("alpn_protocols", H3_ALPN)
        configuration = QuicConfiguration(is_client=True, server_name="localhost", **options)
        configuration.load_verify_locations(cadata=self.ca.cert_pem.bytes())
        return configuration


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    directory = tmp_path_factory.mktemp("quic-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return TLS(ca, str(certfile), str(keyfile))


# -- client and network -----------------------------------------------------------------


@dataclass
class Response:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False


class Client:
    def __init__(self, configuration: QuicConfiguration, addr: Address) -> None:
        self.quic = QuicConnection(configuration=configuration)
        self.h3 = H3Connection(self.quic)
        self.addr = addr
        self.responses: dict[int, Response] = {}
        self.quic_events: list[QuicEvent] = []

    def connect(self, now: float) -> None:
        self.quic.connect(SERVER, now)

    def request(self, path: str, body: bytes = b"") -> int:
        stream_id = self.quic.get_next_available_stream_id()
        self.h3.send_headers(
            stream_id,
            [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
                (b":path", path.encode()),
            ],
            end_stream=False,
        )
        self.h3.send_data(stream_id, body, end_stream=True)
        self.responses[stream_id] = Response()
        return stream_id

    def receive(self, data: bytes, now: float) -> None:
        self.quic.receive_datagram(data, SERVER, now)
        self.drain()

    def drain(self) -> None:
        while (event := self.quic.next_event()) is not None:
            self.quic_events.append(event)
            for h3_event in self.h3.handle_event(event):
                if isinstance(h3_event, (HeadersReceived, DataReceived)):
                    response = self.responses[h3_event.stream_id]
                    if isinstance(h3_event, HeadersReceived):
                        response.headers.update(h3_event.headers)
                    else:
                        response.body.extend(h3_event.data)
                    response.ended = response.ended or h3_event.stream_ended

    @property
    def connected(self) -> bool:
        return any(isinstance(e, HandshakeCompleted) for e in self.quic_events)

    def done(self, stream_id: int) -> bool:
        return self.responses[stream_id].ended


Mangle = Callable[[Datagrams], Datagrams]


def _identity(datagrams: Datagrams) -> Datagrams:
    return datagrams


class Network:
    """Moves datagrams between clients and the endpoint; time only moves when idle."""

    def __init__(self, endpoint: QuicEndpoint, *clients: Client) -> None:
        self.endpoint = endpoint
        self.clients = list(clients)
        self.now = START
        self.to_server: Mangle = _identity
        self.to_client: Mangle = _identity
        self.server_sent: Datagrams = []

    def step(self) -> bool:
        moved = False
        for client in self.clients:
            sent = [(data, client.addr) for data, _ in client.quic.datagrams_to_send(self.now)]
            for data, addr in self.to_server(sent):
                moved = True
                self.endpoint.receive_datagram(data, addr, self.now)
        out = self.endpoint.datagrams_to_send(self.now)
        self.server_sent.extend(out)
        by_addr = {client.addr: client for client in self.clients}
        for data, addr in self.to_client(out):
            moved = True
            target = by_addr.get(addr)  # datagrams to an abandoned address are lost
            if target is not None:
                target.receive(data, self.now)
        return moved

    def advance(self) -> bool:
        timers = [t for c in self.clients if (t := c.quic.get_timer()) is not None]
        server_timer = self.endpoint.get_timer()
        if server_timer is not None:
            timers.append(server_timer)
        if not timers:
            return False
        self.now = max(self.now, min(timers))
        self.endpoint.handle_timer(self.now)
        for client in self.clients:
            timer = client.quic.get_timer()
            if timer is not None and timer <= self.now:
                client.quic.handle_timer(self.now)
                client.drain()
        return True

    def run(self, until: Callable[[], bool], max_time: float = 30.0) -> None:
        for _ in range(20000):
            if until():
                return
            if not self.step() and not self.advance():
                break
            if self.now > START + max_time:
                break
        assert until(), "the network went quiet before the condition held"


def make_endpoint(tls: TLS, **options: Any) -> QuicEndpoint:
    config = tls.config(**options)
    return QuicEndpoint(build_quic_configuration(config), H3Echo, config)


def connect(tls: TLS, endpoint: QuicEndpoint, addr: Address = ("198.51.100.7", 5000)) -> Network:
    client = Client(tls.client_configuration(), addr)
    network = Network(endpoint, client)
    client.connect(network.now)
    network.run(lambda: client.connected)
    return network


def first_initial(tls: TLS, **options: Any) -> bytes:
    client = QuicConnection(configuration=tls.client_configuration(**options))
    client.connect(SERVER, START)
    datagrams = client.datagrams_to_send(START)
    return datagrams[0][0]


def header_of(data: bytes) -> Any:
    return pull_quic_header(Buffer(data=data), host_cid_length=8)


# -- handshake and requests -------------------------------------------------------------


def test_handshake_and_request_through_the_echo_handler(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    network = connect(tls, endpoint)
    client = network.clients[0]
    stream_id = client.request("/echo?x=1", b"hello over quic")
    network.run(lambda: client.done(stream_id))

    response = client.responses[stream_id]
    assert response.headers[b":status"] == b"200"
    assert response.headers[b"x-path"] == b"/echo?x=1"
    assert response.headers[b"x-client"] == b"198.51.100.7:5000"
    assert bytes(response.body) == b"hello over quic"
    assert len(endpoint) == 1
    assert endpoint.stats.connections_opened == 1
    (handler,) = H3Echo.instances
    assert any(isinstance(e, HandshakeCompleted) for e in handler.events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lost_duplicated_and_reordered_datagrams(tls: TLS, seed: int) -> None:
    rng = random.Random(seed)

    def lossy(datagrams: Datagrams) -> Datagrams:
        out: Datagrams = []
        for item in datagrams:
            roll = rng.random()
            if roll < 0.2:
                continue  # lost
            out.append(item)
            if roll > 0.85:
                out.append(item)  # duplicated
        rng.shuffle(out)  # reordered
        return out

    endpoint = make_endpoint(tls)
    client = Client(tls.client_configuration(), ("198.51.100.7", 5000))
    network = Network(endpoint, client)
    network.to_server = lossy
    network.to_client = lossy
    client.connect(network.now)
    streams = [client.request(f"/{i}", bytes([i]) * 3000) for i in range(5)]
    network.run(lambda: all(client.done(s) for s in streams), max_time=120.0)

    for i, stream_id in enumerate(streams):
        assert bytes(client.responses[stream_id].body) == bytes([i]) * 3000
    # Duplicated or late Initials never open a second connection.
    assert endpoint.stats.connections_opened == 1
    assert len(endpoint) == 1


def test_migration_keeps_the_connection(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    network = connect(tls, endpoint)
    client = network.clients[0]
    first = client.request("/before", b"1")
    network.run(lambda: client.done(first))

    client.addr = ("203.0.113.9", 6000)  # new address (NAT rebinding / new network)
    client.quic.change_connection_id()  # and a new connection ID
    second = client.request("/after", b"2")
    network.run(lambda: client.done(second))

    assert bytes(client.responses[second].body) == b"2"
    assert client.responses[second].headers[b"x-client"] == b"203.0.113.9:6000"
    assert endpoint.stats.connections_opened == 1
    assert len(endpoint) == 1
    (handler,) = H3Echo.instances
    assert handler.connection.remote_address == ("203.0.113.9", 6000)


def test_each_connection_counts_the_datagram_bytes_it_received_and_sent(tls: TLS) -> None:
    """What metrics report as h3 bytes: the UDP payloads routed to and sent by each one."""
    endpoint = make_endpoint(tls)
    first = Client(tls.client_configuration(), ("198.51.100.7", 5000))
    second = Client(tls.client_configuration(), ("198.51.100.8", 5000))
    network = Network(endpoint, first, second)
    to_server: dict[Address, int] = {first.addr: 0, second.addr: 0}

    def count(datagrams: Datagrams) -> Datagrams:
        for data, addr in datagrams:
            to_server[addr] += len(data)
        return datagrams

    network.to_server = count
    first.connect(network.now)
    second.connect(network.now)
    network.run(lambda: first.connected and second.connected)
    stream_id = first.request("/upload", b"u" * 50_000)
    network.run(lambda: first.done(stream_id))
    # A stray datagram for no connection (unknown version, answered statelessly).
    stray = _with_version(first_initial(tls), 0x1A2A3A4A)
    endpoint.receive_datagram(stray, ("198.51.100.9", 1), network.now)
    network.step()

    by_addr = {echo.connection.remote_address: echo.connection for echo in H3Echo.instances}
    for client in (first, second):
        connection = by_addr[client.addr]
        sent = sum(len(data) for data, addr in network.server_sent if addr == client.addr)
        assert connection.bytes_received == to_server[client.addr]
        assert connection.bytes_sent == sent
    assert by_addr[first.addr].bytes_received > 50_000  # the upload, encrypted and framed
    assert by_addr[first.addr].bytes_sent > 50_000  # the echo
    assert by_addr[second.addr].bytes_sent < 10_000  # only its handshake
    assert any(addr == ("198.51.100.9", 1) for _, addr in network.server_sent)


# -- Retry --------------------------------------------------------------------------------


def test_retry_first_initial_gets_a_retry_then_the_second_succeeds(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_retry=True)
    client = Client(tls.client_configuration(), ("198.51.100.7", 5000))
    network = Network(endpoint, client)
    client.connect(network.now)

    network.step()
    assert len(endpoint) == 0
    (retry,) = network.server_sent
    assert header_of(retry[0]).packet_type is QuicPacketType.RETRY
    assert retry[1] == client.addr
    assert endpoint.stats.retries_sent == 1

    network.run(lambda: client.connected)
    stream_id = client.request("/", b"validated")
    network.run(lambda: client.done(stream_id))
    assert bytes(client.responses[stream_id].body) == b"validated"
    assert endpoint.stats.retries_sent == 1
    assert endpoint.stats.connections_opened == 1


def test_retry_drops_a_forged_token(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_retry=True)
    data = first_initial(tls, token=b"\x01" + b"forged-token" * 4)
    assert len(data) >= MIN_INITIAL_SIZE

    endpoint.receive_datagram(data, ("198.51.100.7", 5000), START)

    assert endpoint.datagrams_to_send(START) == []
    assert len(endpoint) == 0
    assert endpoint.stats.invalid_tokens == 1


def test_retry_token_is_bound_to_address_cid_and_age() -> None:
    tokens = RetryTokens()
    addr = ("198.51.100.7", 5000)
    token = tokens.create(addr, b"original", b"retrycid", now=START)

    assert tokens.validate(addr, b"retrycid", token, now=START + 1) == b"original"
    assert tokens.validate(("198.51.100.8", 5000), b"retrycid", token, now=START) is None
    assert tokens.validate(("198.51.100.7", 5001), b"retrycid", token, now=START) is None
    assert tokens.validate(addr, b"othercid", token, now=START) is None
    assert tokens.validate(addr, b"retrycid", token, now=START + 11) is None
    assert tokens.validate(addr, b"retrycid", token, now=START - 1) is None
    tampered = token[:5] + bytes([token[5] ^ 1]) + token[6:]
    assert tokens.validate(addr, b"retrycid", tampered, now=START) is None
    assert tokens.validate(addr, b"retrycid", token[:-1], now=START) is None
    # Another endpoint's secret does not validate it.
    assert RetryTokens().validate(addr, b"retrycid", token, now=START) is None


# -- Version Negotiation and admission ----------------------------------------------------


def _with_version(data: bytes, version: int) -> bytes:
    return data[:1] + version.to_bytes(4, "big") + data[5:]


def test_unknown_version_gets_version_negotiation(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    initial = first_initial(tls)
    sent = header_of(initial)
    addr = ("198.51.100.7", 5000)

    endpoint.receive_datagram(_with_version(initial, 0x1A2A3A4A), addr, START)

    ((reply, to),) = endpoint.datagrams_to_send(START)
    assert to == addr
    header = header_of(reply)
    assert header.packet_type is QuicPacketType.VERSION_NEGOTIATION
    assert header.supported_versions == [
        QuicProtocolVersion.VERSION_1,
        QuicProtocolVersion.VERSION_2,
    ]
    assert header.destination_cid == sent.source_cid
    assert header.source_cid == sent.destination_cid
    assert len(endpoint) == 0


def test_small_unknown_version_packet_gets_nothing(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    packet = bytes([0xC0]) + (0x1A2A3A4A).to_bytes(4, "big") + b"\x08" + b"d" * 8
    packet += b"\x08" + b"s" * 8 + b"\x00" * 40
    endpoint.receive_datagram(packet, ("198.51.100.7", 5000), START)
    assert endpoint.datagrams_to_send(START) == []


def test_version_negotiation_packet_is_never_answered(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    # A VN packet listing only versions we do not speak, large enough for any reply.
    packet = encode_quic_version_negotiation(
        source_cid=b"s" * 8, destination_cid=b"d" * 8, supported_versions=[0x1A2A3A4A] * 320
    )
    assert len(packet) >= MIN_INITIAL_SIZE

    endpoint.receive_datagram(packet, ("198.51.100.7", 5000), START)

    assert endpoint.datagrams_to_send(START) == []
    assert endpoint.stats.version_negotiations_sent == 0
    assert endpoint.stats.datagrams_dropped == 1


def test_initial_under_1200_bytes_opens_nothing(tls: TLS, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = make_endpoint(tls)
    built: list[bytes] = []
    new_quic = endpoint._new_quic

    def spy(original_cid: bytes, retry_cid: bytes | None) -> QuicConnection:
        built.append(original_cid)
        return new_quic(original_cid, retry_cid)

    monkeypatch.setattr(endpoint, "_new_quic", spy)
    # aioquic pads its first datagram to 1200 bytes after the Initial packet; without the
    # padding the packet is intact (it would decrypt) but the datagram is too small.
    initial = first_initial(tls)
    small = initial[: header_of(initial).packet_length]
    assert len(small) < MIN_INITIAL_SIZE

    endpoint.receive_datagram(small, ("198.51.100.7", 5000), START)

    # Not even a QuicConnection is built for it (aioquic would drop it too, after setup).
    assert built == []
    assert len(endpoint) == 0
    assert endpoint.datagrams_to_send(START) == []
    assert endpoint.stats.datagrams_dropped == 1
    # The same client's full-size Initial is accepted.
    endpoint.receive_datagram(initial, ("198.51.100.7", 5000), START)
    assert len(endpoint) == 1


def test_connection_limit_is_enforced(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_max_connections=2)
    for port in (5000, 5001):
        connect(tls, endpoint, ("198.51.100.7", port))
    assert len(endpoint) == 2

    endpoint.receive_datagram(first_initial(tls), ("198.51.100.7", 5002), START)

    assert len(endpoint) == 2
    assert endpoint.stats.connections_refused == 1
    assert endpoint.datagrams_to_send(START) == []


def test_an_initial_that_does_not_decrypt_takes_no_slot(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_max_connections=1)
    initial = bytearray(first_initial(tls))
    end = header_of(bytes(initial)).packet_length
    initial[end - 40 : end] = bytes(40)  # corrupt the Initial's payload and AEAD tag

    endpoint.receive_datagram(bytes(initial), ("198.51.100.7", 5000), START)

    assert len(endpoint) == 0
    assert endpoint.stats.connections_opened == 0
    assert H3Echo.instances == []
    connect(tls, endpoint)
    assert len(endpoint) == 1


def test_a_clienthello_split_over_two_datagrams_opens_on_the_first(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    # Long ALPN lists make the ClientHello larger than one datagram (as post-quantum key
    # shares do in browsers).
    alpn = [*H3_ALPN, *(f"x{i:03d}" + "y" * 200 for i in range(10))]
    client = Client(tls.client_configuration(alpn_protocols=alpn), ("198.51.100.7", 5000))
    network = Network(endpoint, client)
    client.connect(network.now)
    first, second, *_ = client.quic.datagrams_to_send(network.now)

    endpoint.receive_datagram(first[0], client.addr, network.now)
    assert len(endpoint) == 1  # half a ClientHello: no event yet, but it decrypted
    endpoint.receive_datagram(second[0], client.addr, network.now)
    assert len(endpoint) == 1
    network.run(lambda: client.connected)
    stream_id = client.request("/", b"split")
    network.run(lambda: client.done(stream_id))
    assert bytes(client.responses[stream_id].body) == b"split"


def test_stop_accepting_refuses_new_connections_but_serves_old_ones(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    network = connect(tls, endpoint)
    endpoint.stop_accepting()

    endpoint.receive_datagram(first_initial(tls), ("198.51.100.7", 5009), START)
    assert len(endpoint) == 1

    client = network.clients[0]
    stream_id = client.request("/still", b"served")
    network.run(lambda: client.done(stream_id))
    assert bytes(client.responses[stream_id].body) == b"served"


# -- timers and termination ---------------------------------------------------------------


def test_idle_timeout_closes_and_forgets_the_connection(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_idle_timeout=5.0)
    network = connect(tls, endpoint)
    (handler,) = H3Echo.instances
    # The client falls silent (gone without a word).
    network.clients.clear()
    connected_at = network.now
    while len(endpoint):
        timer = endpoint.get_timer()
        assert timer is not None
        network.now = timer
        endpoint.handle_timer(network.now)
        endpoint.datagrams_to_send(network.now)

    assert 5.0 <= network.now - connected_at <= 6.0
    assert endpoint.get_timer() is None
    assert isinstance(handler.events[-1], ConnectionTerminated)
    assert endpoint.stats.connections_closed == 1
    assert endpoint._by_cid == {}


def test_close_all_terminates_every_connection(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    network = connect(tls, endpoint)
    endpoint.close_all(reason_phrase="shutting down")
    network.run(lambda: len(endpoint) == 0)
    client = network.clients[0]
    assert any(isinstance(e, ConnectionTerminated) for e in client.quic_events)


def test_get_timer_follows_the_earliest_connection_timer(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    now = max(
        connect(tls, endpoint, ("198.51.100.7", 5000)).now,
        connect(tls, endpoint, ("198.51.100.7", 5001)).now,
    )
    first, second = H3Echo.instances

    def earliest_quic_timer() -> float:
        return min(t for h in H3Echo.instances if (t := h.connection.quic.get_timer()) is not None)

    qmin = earliest_quic_timer()
    assert endpoint.get_timer() == qmin

    # A handler deadline earlier than every QUIC timer becomes the endpoint's timer.
    second.deadline = qmin - 0.01
    second.connection.wake()
    endpoint.datagrams_to_send(now)
    assert endpoint.get_timer() == qmin - 0.01
    endpoint.handle_timer(qmin - 0.01)
    assert (first.timer_calls, second.timer_calls) == (0, 1)
    assert endpoint.get_timer() == earliest_quic_timer()

    # A deadline moved later leaves a stale heap entry, skipped rather than fired.
    first.deadline = qmin - 0.008
    first.connection.wake()
    endpoint.datagrams_to_send(now)
    first.deadline = qmin - 0.002
    first.connection.wake()
    endpoint.datagrams_to_send(now)
    assert endpoint.get_timer() == qmin - 0.002
    endpoint.handle_timer(qmin - 0.005)
    assert first.timer_calls == 0
    endpoint.handle_timer(qmin - 0.002)
    assert first.timer_calls == 1


def test_get_timer_is_the_minimum_over_connections_under_random_changes(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    now = max(connect(tls, endpoint, ("198.51.100.7", 5000 + i)).now for i in range(8))
    rng = random.Random(11)

    def brute_force() -> float | None:
        deadlines = []
        for handler in H3Echo.instances:
            for t in (handler.connection.quic.get_timer(), handler.deadline):
                if t is not None:
                    deadlines.append(t)
        return min(deadlines, default=None)

    for _ in range(300):
        handler = rng.choice(H3Echo.instances)
        roll = rng.random()
        if roll < 0.6:
            handler.deadline = now + rng.uniform(-0.5, 2.0)
        elif roll < 0.8:
            handler.deadline = None
        else:
            now += rng.uniform(0, 0.5)
            endpoint.handle_timer(now)
        handler.connection.wake()
        endpoint.datagrams_to_send(now)
        assert endpoint.get_timer() == brute_force()


def test_heap_stays_bounded(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    connect(tls, endpoint)
    (handler,) = H3Echo.instances
    for i in range(1000):
        handler.deadline = START + 100 + i
        handler.connection.wake()
        endpoint.datagrams_to_send(START + 1)
    assert len(endpoint._heap) <= 2 * len(endpoint) + 65


# -- hostile input ------------------------------------------------------------------------


def test_garbage_datagrams_never_raise(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    network = connect(tls, endpoint)
    (handler,) = H3Echo.instances
    cid = handler.connection.quic.host_cid
    rng = random.Random(7)
    initial = first_initial(tls)
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            data = rng.randbytes(rng.randrange(0, 1500))
        elif kind == 1:  # short header aimed at the live connection
            data = bytes([0x40 | rng.randrange(64)]) + cid + rng.randbytes(rng.randrange(60))
        elif kind == 2:  # long header, random type and version
            data = bytes([0xC0 | rng.randrange(64)]) + rng.randbytes(rng.randrange(1, 1300))
        elif kind == 3:  # a real Initial with bytes flipped
            flipped = bytearray(initial)
            for _ in range(8):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            data = bytes(flipped)
        else:
            data = rng.randbytes(rng.randrange(1200, 1400))
        endpoint.receive_datagram(data, ("198.51.100.66", 1000 + i % 7), network.now)
        endpoint.datagrams_to_send(network.now)
        endpoint.get_timer()
    assert endpoint.stats.datagrams_received >= 1000

    # The real connection still works.
    client = network.clients[0]
    stream_id = client.request("/after-garbage", b"ok")
    network.run(lambda: client.done(stream_id))
    assert bytes(client.responses[stream_id].body) == b"ok"


# -- session tickets ----------------------------------------------------------------------


def test_session_resumption_with_a_single_use_ticket(tls: TLS) -> None:
    endpoint = make_endpoint(tls, quic_max_saved_sessions=10)
    tickets: list[Any] = []
    configuration = tls.client_configuration()
    client = Client(configuration, ("198.51.100.7", 5000))
    client.quic = QuicConnection(configuration=configuration, session_ticket_handler=tickets.append)
    client.h3 = H3Connection(client.quic)
    network = Network(endpoint, client)
    client.connect(network.now)
    network.run(lambda: client.connected and bool(tickets))
    assert len(endpoint.session_tickets) == 1

    def resume(port: int) -> HandshakeCompleted:
        resumed = Client(
            tls.client_configuration(session_ticket=tickets[0]), ("198.51.100.7", port)
        )
        network.clients.append(resumed)
        resumed.connect(network.now)
        # Sent before the handshake: 0-RTT data when the ticket is accepted.
        stream_id = resumed.request("/early", b"0-rtt")
        network.run(lambda: resumed.connected and resumed.done(stream_id))
        assert bytes(resumed.responses[stream_id].body) == b"0-rtt"
        (done,) = [e for e in resumed.quic_events if isinstance(e, HandshakeCompleted)]
        return done

    first = resume(5001)
    assert first.session_resumed
    assert first.early_data_accepted
    again = resume(5002)  # the same ticket again: used up, so a full handshake
    assert not again.session_resumed
    assert not again.early_data_accepted


def test_no_session_tickets_by_default(tls: TLS) -> None:
    endpoint = make_endpoint(tls)
    tickets: list[Any] = []
    configuration = tls.client_configuration()
    client = Client(configuration, ("198.51.100.7", 5000))
    client.quic = QuicConnection(configuration=configuration, session_ticket_handler=tickets.append)
    client.h3 = H3Connection(client.quic)
    network = Network(endpoint, client)
    client.connect(network.now)
    stream_id = client.request("/", b"x")
    network.run(lambda: client.done(stream_id))
    assert tickets == []
    assert len(endpoint.session_tickets) == 0


def test_session_ticket_store_is_bounded() -> None:
    store = SessionTicketStore(2)

    @dataclass
    class Ticket:
        ticket: bytes

    for label in (b"a", b"b", b"c"):
        store.add(Ticket(label))  # type: ignore[arg-type]
    assert len(store) == 2
    assert store.pop(b"a") is None
    assert store.pop(b"c") is not None
    assert store.pop(b"c") is None
    assert not SessionTicketStore(0).enabled


# -- TLS configuration --------------------------------------------------------------------


def test_build_quic_configuration(tls: TLS) -> None:
    configuration = build_quic_configuration(tls.config(quic_idle_timeout=12.5))
    assert configuration.is_client is False
    assert configuration.alpn_protocols == ["h3"]
    assert configuration.idle_timeout == 12.5
    assert configuration.certificate is not None
    assert configuration.private_key is not None


def test_build_quic_configuration_errors(tls: TLS, tmp_path: Path) -> None:
    import ssl

    with pytest.raises(ConfigError, match="needs TLS"):
        build_quic_configuration(Config())
    with pytest.raises(ConfigError, match="CERT_REQUIRED"):
        build_quic_configuration(tls.config(verify_mode=ssl.CERT_REQUIRED))
    with pytest.raises(ConfigError, match="cannot load"):
        build_quic_configuration(tls.config(certfile=str(tmp_path / "missing.pem")))


def test_missing_aioquic_names_the_extra(tls: TLS, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "aioquic", None)  # what an uninstalled package gives
    with pytest.raises(ImportError, match=r"pip install 'hypercorn\[h3\]'"):
        build_quic_configuration(tls.config())
