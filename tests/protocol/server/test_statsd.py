"""Tests for hypercorn_protocol.server.statsd: the exact StatsD / DogStatsD wire format."""

from __future__ import annotations

import logging
import socket
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from hypercorn_protocol.config import Config
from hypercorn_protocol.server.logging import Logger
from hypercorn_protocol.server.statsd import (
    StatsdLogger,
    StatsdSocket,
    split_statsd_address as split_address,
)
from hypercorn_protocol.typing import ASGIScope
from tests.helpers.logging import ListHandler


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Drive a logger coroutine; it never waits, so no event loop is needed."""
    with pytest.raises(StopIteration):
        coroutine.send(None)


@pytest.fixture(autouse=True)
def _quiet_hypercorn_error() -> Iterator[None]:
    logger = logging.getLogger("hypercorn.error")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def make_logger(**values: Any) -> StatsdLogger:
    config = Config()
    config.errorlog = None
    for name, value in values.items():
        setattr(config, name, value)
    return StatsdLogger(config)


SCOPE: ASGIScope = {
    "type": "http",
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "query_string": b"",
    "headers": [],
    "client": ("127.0.0.1", 1234),
}


def test_access_sends_duration_requests_and_status() -> None:
    logger = make_logger()

    run(logger.access(SCOPE, {"status": 404, "headers": []}, 0.25))

    assert logger.drain_datagrams() == [
        b"hypercorn.request.duration:250.0|ms",
        b"hypercorn.requests:1|c|@1.0",
        b"hypercorn.request.status.404:1|c|@1.0",
    ]


def test_access_without_response_has_no_status_metric() -> None:
    logger = make_logger()

    run(logger.access(SCOPE, None, 0.001))

    assert logger.drain_datagrams() == [
        b"hypercorn.request.duration:1.0|ms",
        b"hypercorn.requests:1|c|@1.0",
    ]


@pytest.mark.parametrize(("given", "used"), [("app", "app."), ("app.", "app."), ("", "")])
def test_prefix_is_dot_terminated(given: str, used: str) -> None:
    logger = make_logger(statsd_prefix=given)

    run(logger.increment("x", 1))

    assert logger.prefix == used
    assert logger.drain_datagrams() == [f"{used}x:1|c|@1.0".encode()]


def test_dogstatsd_tags_are_appended() -> None:
    logger = make_logger(statsd_prefix="web", dogstatsd_tags="env:prod,service:api")

    run(logger.access(SCOPE, {"status": 200, "headers": []}, 0.0))

    assert logger.drain_datagrams() == [
        b"web.hypercorn.request.duration:0.0|ms|#env:prod,service:api",
        b"web.hypercorn.requests:1|c|@1.0|#env:prod,service:api",
        b"web.hypercorn.request.status.200:1|c|@1.0|#env:prod,service:api",
    ]


@pytest.mark.parametrize("level", ["critical", "error", "warning", "exception"])
def test_log_levels_are_counted(level: str) -> None:
    logger = make_logger()

    run(getattr(logger, level)("something %s", "happened"))

    assert logger.drain_datagrams() == [f"hypercorn.log.{level}:1|c|@1.0".encode()]


@pytest.mark.parametrize("level", ["info", "debug"])
def test_info_and_debug_are_not_counted(level: str) -> None:
    logger = make_logger()

    run(getattr(logger, level)("quiet"))

    assert logger.drain_datagrams() == []


@pytest.mark.parametrize(
    ("mtype", "datagram"),
    [
        ("gauge", b"queue.depth:0|g"),
        ("counter", b"queue.depth:0|c|@1.0"),
        ("histogram", b"queue.depth:0|ms"),
    ],
)
def test_custom_metrics_through_log_extra(mtype: str, datagram: bytes) -> None:
    logger = make_logger()
    extra = {"metric": "queue.depth", "value": 0, "mtype": mtype}

    run(logger.log(logging.INFO, "", extra=extra))

    assert logger.drain_datagrams() == [datagram]


def test_custom_metric_with_a_message_still_logs_it() -> None:
    handler = ListHandler()
    records = handler.records
    target = logging.getLogger("test.statsd.custom")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    logger = make_logger(errorlog=target)

    extra = {"metric": "jobs", "value": 3, "mtype": "counter"}
    run(logger.log(logging.INFO, "did %d jobs", 3, extra=extra))

    assert logger.drain_datagrams() == [b"jobs:3|c|@1.0"]
    assert [record.getMessage() for record in records] == ["did 3 jobs"]


def test_unknown_metric_type_is_ignored() -> None:
    logger = make_logger()

    run(logger.log(logging.INFO, "", extra={"metric": "m", "value": 1, "mtype": "set"}))

    assert logger.drain_datagrams() == []


def test_decrement_and_sampling_rate() -> None:
    logger = make_logger()

    run(logger.decrement("conns", 2))
    run(logger.increment("hits", 1, sampling_rate=0.5))

    assert logger.drain_datagrams() == [b"conns:-2|c|@1.0", b"hits:1|c|@0.5"]


def test_full_buffer_drops_and_counts() -> None:
    logger = make_logger()
    logger.max_buffered_datagrams = 2

    for _ in range(5):
        run(logger.increment("x", 1))

    assert len(logger.drain_datagrams()) == 2
    assert logger.dropped_datagrams == 3


def test_statsd_host_switches_the_default_logger_class() -> None:
    config = Config()
    config.errorlog = None
    config.statsd_host = "127.0.0.1:8125"

    assert isinstance(config.log, StatsdLogger)
    config.log.close()


def test_custom_logger_class_is_kept_with_statsd_host() -> None:
    class MyLogger(Logger):
        pass

    config = Config()
    config.errorlog = None
    config.statsd_host = "127.0.0.1:8125"
    config.logger_class = MyLogger

    assert type(config.log) is MyLogger


def test_without_statsd_host_the_logger_is_plain() -> None:
    config = Config()
    config.errorlog = None

    assert type(config.log) is Logger


def test_statsd_logger_counts_as_access_enabled() -> None:
    assert make_logger().access_enabled


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_datagrams_are_sent_to_statsd_host_at_once(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    logger = make_logger(statsd_host=f"127.0.0.1:{port}", statsd_prefix="p")

    run(logger.access(SCOPE, {"status": 201, "headers": []}, 0.002))

    received = [listener.recv(1024) for _ in range(3)]
    assert received == [
        b"p.hypercorn.request.duration:2.0|ms",
        b"p.hypercorn.requests:1|c|@1.0",
        b"p.hypercorn.request.status.201:1|c|@1.0",
    ]
    assert logger.drain_datagrams() == []
    logger.close()


def test_manual_flush_when_autoflush_is_off(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    logger = make_logger(statsd_host=f"127.0.0.1:{port}")
    logger.autoflush = False

    run(logger.gauge("g", 7))
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.recv(1024)
    logger.flush()
    listener.setblocking(True)

    assert listener.recv(1024) == b"g:7|g"
    logger.close()


def test_bad_statsd_host_warns_and_disables_sending() -> None:
    handler = ListHandler()
    records = handler.records
    target = logging.getLogger("test.statsd.bad")
    target.addHandler(handler)

    logger = make_logger(statsd_host="127.0.0.1:notaport", errorlog=target)
    run(logger.increment("x", 1))

    assert "StatsD metrics disabled" in records[0].getMessage()
    assert logger.drain_datagrams() == [b"x:1|c|@1.0"]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("localhost:9125", ("localhost", 9125)),
        ("[::1]:9125", ("::1", 9125)),
        ("[::1]", ("::1", 8125)),
        ("statsd", ("statsd", 8125)),
    ],
)
def test_split_address(address: str, expected: tuple[str, int]) -> None:
    assert split_address(address) == expected


def test_sending_to_a_closed_port_does_not_fail(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    sender = StatsdSocket(f"127.0.0.1:{port}")
    listener.close()

    # Unconnected UDP: no ICMP error comes back, the lost datagram is the whole cost.
    assert sender.send(b"x:1|c") is True
    assert sender.send(b"x:1|c") is True
    sender.close()


def test_refused_send_is_counted_as_dropped(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    logger = make_logger(statsd_host=f"127.0.0.1:{port}")

    run(logger.gauge("x" * 70_000, 1))  # larger than any UDP datagram

    assert logger.dropped_datagrams == 1
    assert logger.drain_datagrams() == []
    logger.close()
