"""The QUIC endpoint of one UDP socket: routing, admission, timers (sans-IO, on aioquic).

Theory of operation
-------------------

A driver owns a UDP socket and one :class:`QuicEndpoint`. It feeds every datagram in with
``receive_datagram(data, addr, now)``, sends whatever ``datagrams_to_send(now)`` returns,
and arms a single timer at ``get_timer()``, calling ``handle_timer(now)`` when it fires.
After a batch of ``receive_datagram`` / ``handle_timer`` calls (and after anything the
layer above did on a connection from outside a callback) the driver calls
``datagrams_to_send`` and then re-reads ``get_timer()``: sending moves aioquic's timers
(loss detection, ACK delay), so the flush re-arms the connections it sent on. The
endpoint never reads a clock, opens a socket or spawns a task.

Routing. Only the packet header is parsed here (``pull_quic_header``); the first packet of
a datagram decides where the whole datagram goes (coalesced packets share a connection).
The destination connection ID (CID) is looked up in one dict that maps every live CID to
its connection: the CID the client chose for its first Initial, the server's first CID,
and every CID the connection later issues (``ConnectionIdIssued``) until the peer retires
it (``ConnectionIdRetired``). The source address plays no part in routing, so a client
that changes address or CID (migration, NAT rebinding) stays on its connection; aioquic
validates the new path itself.

Admission. A datagram whose CID is unknown may only open a connection when it is an
Initial of at least 1200 bytes (RFC 9000 section 14.1) with a client-chosen CID of at
least 8 bytes, while the endpoint is accepting and holds fewer than
``quic_max_connections`` connections, and only if aioquic could decrypt something in it
(a forged Initial must not hold a slot until its idle timeout); anything else is dropped
and counted in :class:`EndpointStats`. An
unsupported version in a large enough long-header packet gets a Version Negotiation
packet, but a Version Negotiation packet is never answered (answering one lets two
servers, or a spoofed address, keep a reflection loop going). With ``quic_retry`` on, an
Initial without a token gets a stateless Retry carrying a :class:`RetryTokens` token; only
an Initial with a valid token (same client address, bound to the Retry's CID, younger than
``RETRY_TOKEN_LIFETIME``) opens a connection, other tokens are dropped.

Connections. Each connection is an aioquic ``QuicConnection`` plus a handler made by the
``handler_factory`` (the HTTP/3 layer; see :class:`QuicConnectionHandler`). After every
datagram or timer the endpoint drains the connection's QUIC events, keeps the CID map in
step, passes each event to the handler, and on ``ConnectionTerminated`` forgets the
connection entirely. Connections touched since the last flush are kept in an ordered
"dirty" set; ``datagrams_to_send`` only visits those, so a flush costs O(touched), not
O(connections). A handler that queues data from outside a callback (an app message
arriving later) calls :meth:`EndpointConnection.wake`.

Timer. Each connection's deadline is the earlier of aioquic's ``get_timer()`` and its
handler's ``get_timer()``. Deadlines live in one min-heap of ``(deadline, seq,
connection)``; a connection is pushed again only when its deadline changes and stale
entries are skipped when they reach the top, and the heap is rebuilt once stale entries
outnumber live ones, so it stays O(connections). ``get_timer()`` is the top of the heap;
``handle_timer(now)`` pops every due connection once and runs its timers.

Bounds. Connections: ``quic_max_connections``. CIDs per connection: aioquic's active CID limit
(8) plus the client's original CID. Stateless replies (Version Negotiation, Retry) waiting
to be sent: ``MAX_PENDING_REPLIES``, extra ones dropped. Session tickets:
``quic_max_saved_sessions`` (0: none issued), oldest evicted, each used at most once.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.events import QuicEvent
    from aioquic.tls import SessionTicket

__all__ = [
    "EndpointConnection",
    "EndpointSettings",
    "EndpointStats",
    "HandlerFactory",
    "NetworkAddress",
    "QuicConnectionHandler",
    "QuicEndpoint",
    "RetryTokens",
    "SessionTicketStore",
]

#: A UDP address as the socket layer reports it: ``(host, port)`` or IPv6's 4-tuple.
NetworkAddress = Any

#: Smallest datagram that may carry a client's first Initial (RFC 9000 section 14.1).
MIN_INITIAL_SIZE = 1200
#: Shortest CID a client may choose for its first Initial (RFC 9000 section 7.2).
MIN_INITIAL_CID_LENGTH = 8
#: Retry tokens come straight back from the client, so they only need to live briefly.
RETRY_TOKEN_LIFETIME = 10.0
#: Stateless replies queued between two flushes; beyond it they are dropped (a flood).
MAX_PENDING_REPLIES = 256

# How soon after a new connection's first datagram a timer other than the idle timeout fires.
_PROGRESS_WINDOW = 1.0
_TOKEN_VERSION = b"\x01"
_TOKEN_MAC_SIZE = 16


def _import_aioquic() -> None:
    try:
        import aioquic  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "HTTP/3 needs aioquic: pip install 'hypercorn[h3]' (or 'hypercorn-protocol[h3]')"
        ) from exc


class QuicConnectionHandler(Protocol):
    """What the layer above (HTTP/3) implements for each QUIC connection.

    The endpoint creates one handler per connection with the ``handler_factory``, passing
    the :class:`EndpointConnection`; the handler keeps it and works on
    ``connection.quic`` (an aioquic ``QuicConnection``: ``send_stream_data``,
    ``reset_stream``, ``stop_stream``, ``close``; typically wrapped in an ``H3Connection``).
    The handler never sends datagrams itself and never reads a clock: whatever it queues
    on ``connection.quic`` is sent by the endpoint's next ``datagrams_to_send``.
    """

    def quic_event(self, event: QuicEvent, now: float) -> None:
        """Handle one QUIC event of this connection, in order.

        Every ``aioquic.quic.events`` event is passed on, including ``HandshakeCompleted``,
        ``StreamDataReceived``, ``StreamReset``, ``StopSendingReceived`` and the CID events
        (already applied to routing). ``ConnectionTerminated`` is the last one: after it
        the endpoint has forgotten the connection and calls the handler no more.
        """

    def get_timer(self) -> float | None:
        """The handler's own next deadline (keep-alive, stalls), or None."""

    def handle_timer(self, now: float) -> None:
        """Called once the handler's deadline has passed; it must move or clear it."""


#: Creates the handler of a new connection.
HandlerFactory = Callable[["EndpointConnection"], QuicConnectionHandler]


class EndpointSettings(Protocol):
    """The options the endpoint reads; :class:`~hypercorn_protocol.config.Config` has them."""

    @property
    def quic_max_connections(self) -> int: ...
    @property
    def quic_max_saved_sessions(self) -> int: ...
    @property
    def quic_retry(self) -> bool: ...


@dataclass
class EndpointStats:
    """Counters of what the endpoint did with datagrams (for logs, metrics and tests)."""

    datagrams_received: int = 0
    #: Unparseable, unroutable, too small, or sent while not accepting.
    datagrams_dropped: int = 0
    connections_opened: int = 0
    connections_closed: int = 0
    #: Initials dropped because ``max_connections`` connections were open.
    connections_refused: int = 0
    version_negotiations_sent: int = 0
    retries_sent: int = 0
    invalid_tokens: int = 0
    replies_dropped: int = 0


class EndpointConnection:
    """One connection of the endpoint, as its handler sees it."""

    __slots__ = (
        "_endpoint",
        "_first_address",
        "bytes_received",
        "bytes_sent",
        "cids",
        "closed",
        "handler",
        "quic",
        "timer_at",
    )

    def __init__(
        self, endpoint: QuicEndpoint, quic: QuicConnection, address: NetworkAddress
    ) -> None:
        self._endpoint = endpoint
        self._first_address = address
        #: The aioquic connection; the handler drives it.
        self.quic = quic
        #: Set by the endpoint right after the factory returns.
        self.handler: QuicConnectionHandler | None = None
        #: Every CID routed to this connection (endpoint-owned).
        self.cids: set[bytes] = set()
        #: True once the endpoint has forgotten the connection.
        self.closed = False
        #: The deadline this connection has in the endpoint's heap (endpoint-owned).
        self.timer_at: float | None = None
        #: UDP payload bytes of the datagrams routed to this connection (the Initial that
        #: opened it included) and of those it sent: its QUIC packets, TLS and all.
        self.bytes_received = 0
        self.bytes_sent = 0

    @property
    def remote_address(self) -> NetworkAddress:
        """The client's address on the connection's active path (it changes on migration)."""
        # aioquic keeps the active path first; it has no public accessor for it.
        paths = getattr(self.quic, "_network_paths", None)
        if paths:
            return paths[0].addr
        return self._first_address

    def wake(self) -> None:
        """Say that the handler queued data or changed its timer outside a callback.

        The driver's next ``datagrams_to_send`` then sends it and re-arms the timer.
        """
        if not self.closed:
            self._endpoint._dirty[self] = None


class RetryTokens:
    """Stateless Retry tokens: an HMAC over the client address, CIDs and issue time.

    A token is ``version | issued_at_ms (8) | len(odcid) (1) | odcid | mac (16)``; the MAC
    (HMAC-SHA256 with a random per-endpoint secret, truncated) also covers the client
    address and the Retry's source CID, which the client must use as the destination CID
    of the Initial that returns the token. Nothing is stored per token.
    """

    def __init__(self, secret: bytes | None = None, lifetime: float = RETRY_TOKEN_LIFETIME):
        self._secret = secret if secret is not None else os.urandom(32)
        self._lifetime = lifetime

    def _mac(self, address: NetworkAddress, body: bytes, retry_cid: bytes) -> bytes:
        host, port = address[0], address[1]
        message = f"{host}\x00{port}".encode() + b"\x00" + retry_cid + b"\x00" + body
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_TOKEN_MAC_SIZE]

    def create(
        self, address: NetworkAddress, original_cid: bytes, retry_cid: bytes, now: float
    ) -> bytes:
        """A token for a Retry sent to ``address`` with source CID ``retry_cid``."""
        issued = max(0, int(now * 1000)).to_bytes(8, "big")
        body = _TOKEN_VERSION + issued + bytes([len(original_cid)]) + original_cid
        return body + self._mac(address, body, retry_cid)

    def validate(
        self, address: NetworkAddress, retry_cid: bytes, token: bytes, now: float
    ) -> bytes | None:
        """The original destination CID the token vouches for, or None if it is invalid."""
        if len(token) < 10 + _TOKEN_MAC_SIZE or token[:1] != _TOKEN_VERSION:
            return None
        cid_length = token[9]
        body_length = 10 + cid_length
        if len(token) != body_length + _TOKEN_MAC_SIZE:
            return None
        body, mac = token[:body_length], token[body_length:]
        if not hmac.compare_digest(mac, self._mac(address, body, retry_cid)):
            return None
        age = now - int.from_bytes(body[1:9], "big") / 1000
        if not 0 <= age <= self._lifetime:
            return None
        return body[10:]


class SessionTicketStore:
    """A bounded store of the TLS session tickets the server issued.

    Tickets are popped when a client presents them, so each resumes (and carries 0-RTT
    data) at most once: a replayed ClientHello finds no ticket and gets a full handshake.
    """

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._tickets: OrderedDict[bytes, SessionTicket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tickets)

    @property
    def enabled(self) -> bool:
        """False when the store keeps nothing (no tickets are issued then)."""
        return self._max_size > 0

    def add(self, ticket: SessionTicket) -> None:
        """aioquic's ``session_ticket_handler``: keep a newly issued ticket."""
        if self._max_size <= 0:
            return
        self._tickets[ticket.ticket] = ticket
        self._tickets.move_to_end(ticket.ticket)
        while len(self._tickets) > self._max_size:
            self._tickets.popitem(last=False)

    def pop(self, label: bytes) -> SessionTicket | None:
        """aioquic's ``session_ticket_fetcher``: hand a ticket out once."""
        return self._tickets.pop(label, None)


class QuicEndpoint:
    """The sans-IO QUIC server endpoint of one UDP socket (see the module docstring).

    Args:
        configuration: aioquic's server ``QuicConfiguration``, certificate loaded (see
            :func:`hypercorn_protocol.server.quic.build_quic_configuration`).
        handler_factory: Creates the :class:`QuicConnectionHandler` of each connection.
        settings: ``quic_max_connections``, ``quic_retry`` and ``quic_max_saved_sessions``
            (a :class:`~hypercorn_protocol.config.Config` will do).
        retry_secret: Key of the Retry tokens; random per endpoint when None. Endpoints
            that can receive each other's datagrams would need one key, but they cannot
            serve QUIC anyway (a connection's state lives in one endpoint): give each
            worker its own socket (SO_REUSEPORT steers a client's 4-tuple to one socket).
        quic_class: The ``QuicConnection`` (sub)class of new connections; aioquic's own
            when None (HTTP/3 passes one that paces receive windows by the app).
    """

    def __init__(
        self,
        configuration: QuicConfiguration,
        handler_factory: HandlerFactory,
        settings: EndpointSettings,
        *,
        retry_secret: bytes | None = None,
        quic_class: type[QuicConnection] | None = None,
    ) -> None:
        _import_aioquic()
        self._quic_class = quic_class
        self._configuration = configuration
        self._handler_factory = handler_factory
        self._max_connections = settings.quic_max_connections
        self._retry = RetryTokens(retry_secret) if settings.quic_retry else None
        self._tickets = SessionTicketStore(settings.quic_max_saved_sessions)
        self._cid_length = configuration.connection_id_length
        self._supported_versions = list(configuration.supported_versions)
        self._accepting = True
        self._by_cid: dict[bytes, EndpointConnection] = {}
        self._connections: dict[EndpointConnection, None] = {}
        # Ordered set of connections touched since the last flush.
        self._dirty: dict[EndpointConnection, None] = {}
        self._replies: deque[tuple[bytes, NetworkAddress]] = deque()
        self._heap: list[tuple[float, int, EndpointConnection]] = []
        self._seq = itertools.count()
        self.stats = EndpointStats()

    # -- inspection ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._connections)

    def connections(self) -> Iterator[EndpointConnection]:
        """The open connections (a snapshot, safe to close them while iterating)."""
        return iter(list(self._connections))

    @property
    def accepting(self) -> bool:
        """False once :meth:`stop_accepting` was called."""
        return self._accepting

    @property
    def session_tickets(self) -> SessionTicketStore:
        """The tickets kept for resumption (empty unless ``quic_max_saved_sessions``)."""
        return self._tickets

    # -- inputs --------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, addr: NetworkAddress, now: float) -> None:
        """Route one UDP datagram received from ``addr``. Never raises for bad input."""
        # aioquic.buffer re-exports Buffer without __all__, which strict mypy rejects.
        from aioquic.buffer import Buffer  # type: ignore[attr-defined]
        from aioquic.quic.packet import QuicPacketType, pull_quic_header

        self.stats.datagrams_received += 1
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=self._cid_length)
        except ValueError:
            self.stats.datagrams_dropped += 1
            return

        connection = self._by_cid.get(header.destination_cid)
        if connection is not None:
            connection.bytes_received += len(data)
            connection.quic.receive_datagram(data, addr, now)
            self._process(connection, now)
            return

        if header.packet_type is QuicPacketType.VERSION_NEGOTIATION or header.version is None:
            # Never answer a Version Negotiation packet; a short header for an unknown CID
            # would need a stateless reset, which aioquic cannot build.
            self.stats.datagrams_dropped += 1
            return
        if len(data) < MIN_INITIAL_SIZE:
            # Too small to open a connection, so too small to deserve any answer (a reply
            # larger than the request would be an amplifier).
            self.stats.datagrams_dropped += 1
            return
        if header.version not in self._supported_versions:
            self._reply(self._version_negotiation(header.source_cid, header.destination_cid), addr)
            self.stats.version_negotiations_sent += 1
            return
        if (
            header.packet_type is not QuicPacketType.INITIAL
            or not self._accepting
            or len(header.destination_cid) < MIN_INITIAL_CID_LENGTH
        ):
            self.stats.datagrams_dropped += 1
            return
        if len(self._connections) >= self._max_connections:
            self.stats.connections_refused += 1
            return

        original_cid = header.destination_cid
        retry_cid: bytes | None = None
        if self._retry is not None:
            if not header.token:
                self._send_retry(header.version, header.source_cid, original_cid, addr, now)
                return
            validated = self._retry.validate(addr, header.destination_cid, header.token, now)
            if validated is None:
                self.stats.invalid_tokens += 1
                return
            original_cid, retry_cid = validated, header.destination_cid

        quic = self._new_quic(original_cid, retry_cid)
        quic.receive_datagram(data, addr, now)
        first_events = list(iter(quic.next_event, None))
        if not first_events and not self._timer_armed(quic, now):
            # Nothing in it decrypted: a forged or corrupt Initial must not hold one of
            # the max_connections slots until its idle timeout.
            self.stats.datagrams_dropped += 1
            return
        connection = EndpointConnection(self, quic, addr)
        connection.bytes_received = len(data)
        connection.handler = self._handler_factory(connection)
        self._connections[connection] = None
        self.stats.connections_opened += 1
        self._route(header.destination_cid, connection)
        self._route(quic.host_cid, connection)
        self._process(connection, now, first_events)

    def handle_timer(self, now: float) -> None:
        """Run the timers of every connection whose deadline is at or before ``now``."""
        due: list[EndpointConnection] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, connection = heapq.heappop(heap)
            if connection.closed or connection.timer_at != deadline:
                continue  # stale entry
            connection.timer_at = None
            due.append(connection)
        for connection in due:
            if connection.closed:
                continue
            quic_deadline = connection.quic.get_timer()
            if quic_deadline is not None and quic_deadline <= now:
                connection.quic.handle_timer(now)
            handler = connection.handler
            assert handler is not None
            handler_deadline = handler.get_timer()
            if handler_deadline is not None and handler_deadline <= now:
                handler.handle_timer(now)
            self._process(connection, now)

    def stop_accepting(self) -> None:
        """Open no more connections (graceful shutdown); existing ones carry on."""
        self._accepting = False

    def close_all(self, error_code: int = 0, reason_phrase: str = "") -> None:
        """Close every connection with CONNECTION_CLOSE (``NO_ERROR`` by default).

        The HTTP/3 layer sends its GOAWAYs first. The connections stay known until
        aioquic reports them terminated (after the closing period), so late packets
        still reach them.
        """
        for connection in list(self._connections):
            connection.quic.close(error_code=error_code, reason_phrase=reason_phrase)
            self._dirty[connection] = None

    # -- outputs -------------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, NetworkAddress]]:
        """Everything to send now, as ``(data, addr)``; re-arms the touched timers."""
        datagrams = list(self._replies)
        self._replies.clear()
        # A handler reacting to events raised while sending may queue more; a few
        # rounds flush that too without letting a misbehaving handler spin forever.
        for _ in range(4):
            if not self._dirty:
                break
            dirty, self._dirty = self._dirty, {}
            for connection in dirty:
                if connection.closed:
                    continue
                sent = connection.quic.datagrams_to_send(now)
                if sent:
                    connection.bytes_sent += sum(len(data) for data, _ in sent)
                    datagrams.extend(sent)
                self._process(connection, now, flushed=True)
        return datagrams

    def get_timer(self) -> float | None:
        """The earliest deadline of any connection, or None."""
        heap = self._heap
        while heap and (heap[0][2].closed or heap[0][2].timer_at != heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # -- internals -----------------------------------------------------------------------

    def _new_quic(self, original_cid: bytes, retry_cid: bytes | None) -> QuicConnection:
        from aioquic.quic.connection import QuicConnection

        tickets = self._tickets
        quic_class = self._quic_class or QuicConnection
        return quic_class(
            configuration=self._configuration,
            original_destination_connection_id=original_cid,
            retry_source_connection_id=retry_cid,
            session_ticket_fetcher=tickets.pop if tickets.enabled else None,
            session_ticket_handler=tickets.add if tickets.enabled else None,
        )

    @staticmethod
    def _timer_armed(quic: QuicConnection, now: float) -> bool:
        # A decrypted ClientHello raises events; the first half of a ClientHello split over
        # two datagrams arms an ACK timer (1 ms). A datagram that decrypted to nothing
        # leaves only the idle timer, which is seconds away.
        deadline = quic.get_timer()
        return deadline is not None and deadline - now < _PROGRESS_WINDOW

    def _route(self, cid: bytes, connection: EndpointConnection) -> None:
        owner = self._by_cid.get(cid)
        if owner is None or owner is connection:
            self._by_cid[cid] = connection
            connection.cids.add(cid)

    def _unroute(self, cid: bytes, connection: EndpointConnection) -> None:
        if self._by_cid.get(cid) is connection:
            del self._by_cid[cid]
        connection.cids.discard(cid)

    def _process(
        self,
        connection: EndpointConnection,
        now: float,
        first_events: list[QuicEvent] | None = None,
        *,
        flushed: bool = False,
    ) -> None:
        from aioquic.quic.events import (
            ConnectionIdIssued,
            ConnectionIdRetired,
            ConnectionTerminated,
        )

        handler = connection.handler
        assert handler is not None
        quic = connection.quic
        had_events = False
        events = iter(quic.next_event, None)
        if first_events:
            events = itertools.chain(first_events, events)
        for event in events:
            had_events = True
            if isinstance(event, ConnectionIdIssued):
                self._route(event.connection_id, connection)
            elif isinstance(event, ConnectionIdRetired):
                self._unroute(event.connection_id, connection)
            elif isinstance(event, ConnectionTerminated):
                self._forget(connection)
                handler.quic_event(event, now)
                return
            handler.quic_event(event, now)
        if not flushed or had_events:
            self._dirty[connection] = None
        self._schedule(connection)

    def _schedule(self, connection: EndpointConnection) -> None:
        deadline = connection.quic.get_timer()
        handler = connection.handler
        assert handler is not None
        handler_deadline = handler.get_timer()
        if handler_deadline is not None and (deadline is None or handler_deadline < deadline):
            deadline = handler_deadline
        if deadline == connection.timer_at:
            return
        connection.timer_at = deadline
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, next(self._seq), connection))
            if len(self._heap) > 2 * len(self._connections) + 64:
                self._compact_heap()

    def _compact_heap(self) -> None:
        self._heap = [
            (c.timer_at, next(self._seq), c) for c in self._connections if c.timer_at is not None
        ]
        heapq.heapify(self._heap)

    def _forget(self, connection: EndpointConnection) -> None:
        connection.closed = True
        connection.timer_at = None
        for cid in list(connection.cids):
            self._unroute(cid, connection)
        self._connections.pop(connection, None)
        self._dirty.pop(connection, None)
        self.stats.connections_closed += 1

    def _reply(self, data: bytes, addr: NetworkAddress) -> None:
        if len(self._replies) >= MAX_PENDING_REPLIES:
            self.stats.replies_dropped += 1
            return
        self._replies.append((data, addr))

    def _version_negotiation(self, client_cid: bytes, our_cid: bytes) -> bytes:
        from aioquic.quic.packet import encode_quic_version_negotiation

        # The reply swaps the CIDs of the packet it answers (RFC 9000 section 17.2.1).
        return encode_quic_version_negotiation(
            source_cid=our_cid,
            destination_cid=client_cid,
            supported_versions=self._supported_versions,
        )

    def _send_retry(
        self,
        version: int,
        client_cid: bytes,
        original_cid: bytes,
        addr: NetworkAddress,
        now: float,
    ) -> None:
        from aioquic.quic.packet import encode_quic_retry

        assert self._retry is not None
        retry_cid = os.urandom(self._cid_length)
        token = self._retry.create(addr, original_cid, retry_cid, now)
        self._reply(
            encode_quic_retry(
                version=version,
                source_cid=retry_cid,
                destination_cid=client_cid,
                original_destination_cid=original_cid,
                retry_token=token,
            ),
            addr,
        )
        self.stats.retries_sent += 1
