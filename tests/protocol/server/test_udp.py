"""hypercorn_protocol.server.udp: batched QUIC sends arrive as the same datagrams, in order.

Real UDP sockets on 127.0.0.1: what the receiver reads is what was sent, one datagram
per ``recv``, whatever the sender batched.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from hypercorn_protocol.server.udp import MAX_SEGMENTS, DatagramSender

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="UDP_SEGMENT")


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setblocking(False)
    with receiver, sender:
        yield receiver, sender


def receive_all(receiver: socket.socket) -> list[bytes]:
    received = []
    while True:
        try:
            received.append(receiver.recv(70_000))
        except TimeoutError:
            return received


def numbered(count: int, size: int) -> list[bytes]:
    return [i.to_bytes(2, "big") * (size // 2) for i in range(count)]


class Singles:
    """The driver's own single send, counted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.count = 0

    def __call__(self, data: bytes, address: Any) -> None:
        self.count += 1
        self.sock.sendto(data, address)


@linux_only
def test_a_run_of_full_datagrams_and_a_short_last_one_is_one_batch(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    to = receiver.getsockname()
    sent = [*numbered(20, 1200), b"last" * 100]
    batcher, singles = DatagramSender(sender), Singles(sender)
    batcher.send([(data, to) for data in sent], singles)
    assert receive_all(receiver) == sent
    assert batcher.batched == 21 and singles.count == 0


@linux_only
def test_sizes_addresses_and_the_segment_limit_split_the_batches(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    to = receiver.getsockname()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 0))
        other.settimeout(0.5)
        elsewhere = other.getsockname()
        datagrams = [
            *[(data, to) for data in numbered(MAX_SEGMENTS + 3, 1000)],  # two batches
            (b"x" * 1400, to),  # larger than the run before it: starts a new one
            (b"y" * 1400, elsewhere),  # another address
            (b"z" * 10, to),
        ]
        batcher, singles = DatagramSender(sender), Singles(sender)
        batcher.send(datagrams, singles)
        assert receive_all(receiver) == [data for data, address in datagrams if address == to]
        assert receive_all(other) == [b"y" * 1400]
    assert batcher.batched == MAX_SEGMENTS + 3
    assert singles.count == 3


def test_without_gso_every_datagram_is_a_single_send(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiver, sender = pair
    to = receiver.getsockname()
    sent = numbered(5, 1200)
    batcher, singles = DatagramSender(sender), Singles(sender)
    batcher.gso = False  # another platform, or a kernel that refused it
    batcher.send([(data, to) for data in sent], singles)
    assert receive_all(receiver) == sent
    assert singles.count == 5 and batcher.batched == 0
