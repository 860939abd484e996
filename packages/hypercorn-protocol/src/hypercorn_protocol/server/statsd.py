"""StatsD and DogStatsD metrics, compatible with Hypercorn 0.18's ``hypercorn.statsd``.

:class:`StatsdLogger` logs like :class:`~hypercorn_protocol.server.logging.Logger` and also
counts. Each metric is formatted into one datagram (``<prefix><name>:<value>|<type>``,
plus ``|#<tags>`` for DogStatsD) and put in a bounded buffer; when the buffer is full
new datagrams are dropped and counted, so metrics can never hold up a request. The
buffer is flushed at once to ``statsd_host`` through a non-blocking UDP socket
(:class:`StatsdSocket`, below), so sending never waits either. Without a
``statsd_host`` the datagrams stay buffered for :meth:`StatsdLogger.drain_datagrams`.
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from hypercorn_protocol.server.logging import Logger
from hypercorn_protocol.typing import ASGIScope

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hypercorn_protocol.config import Config

# The ``extra`` keys of ``log(level, message, extra={...})`` that carry a custom metric.
METRIC_VAR = "metric"
VALUE_VAR = "value"
MTYPE_VAR = "mtype"
GAUGE_TYPE = "gauge"
COUNTER_TYPE = "counter"
HISTOGRAM_TYPE = "histogram"


# The UDP socket StatsD datagrams go out on. The host is resolved once, when the
# socket is made (at logger creation, before serving); the socket is non-blocking and
# unconnected, so sendto never waits and a StatsD server that is down costs nothing
# but the lost datagram.
STATSD_DEFAULT_PORT = 8125


def split_statsd_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` / ``[v6]:port`` / ``host`` (port 8125) into host and port.

    Raises:
        ValueError: The port is not a number.
    """
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":") or str(STATSD_DEFAULT_PORT)
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, str(STATSD_DEFAULT_PORT)
    if not port.isdigit():
        raise ValueError(f"invalid statsd_host {address!r}: expected HOST:PORT")
    return host, int(port)


class StatsdSocket:
    """A non-blocking UDP socket aimed at one StatsD server.

    Args:
        address: ``host:port`` of the StatsD server.

    Raises:
        ValueError: ``address`` is malformed.
        OSError: The host does not resolve.
    """

    def __init__(self, address: str) -> None:
        # Imported here, not at module level: ``from hypercorn.statsd import StatsdLogger``
        # (and ``import hypercorn_protocol.config``) must not load the socket module.
        import socket

        host, port = split_statsd_address(address)
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address: tuple[object, ...] = sockaddr
        self._socket: socket.socket = socket.socket(family, kind, proto)
        self._socket.setblocking(False)
        # Loggers are dropped without ceremony (a config's logger is replaced or collected).
        self._close = weakref.finalize(self, self._socket.close)

    def send(self, datagram: bytes) -> bool:
        """Send one datagram now; False if the kernel refused it (buffer full, no route)."""
        try:
            self._socket.sendto(datagram, self.address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        self._close()


class StatsdLogger(Logger):
    """A :class:`Logger` that also sends StatsD metrics.

    Metrics (each name behind ``statsd_prefix``):

    * ``hypercorn.requests`` - counter, one per access-log event;
    * ``hypercorn.request.duration`` - timer in milliseconds, per access-log event;
    * ``hypercorn.request.status.<code>`` - counter, per response;
    * ``hypercorn.log.critical`` / ``.error`` / ``.warning`` / ``.exception`` - counters;
    * custom: ``await log.log(level, msg, extra={"metric": name, "value": v,
      "mtype": "gauge" | "counter" | "histogram"})``.

    Args:
        config: Supplies ``statsd_host``, ``statsd_prefix`` and ``dogstatsd_tags`` as well
            as the :class:`Logger` settings.

    Attributes:
        prefix: ``statsd_prefix`` ending in ``.`` (or empty).
        dogstatsd_tags: Appended to every datagram as ``|#<tags>`` when not empty.
        autoflush: Send each datagram as soon as it is made. A driver that prefers to
            batch sets it False and calls :meth:`flush` itself.
        dropped_datagrams: How many datagrams were lost (buffer full or send refused).
    """

    #: Datagrams held at most between flushes; more are dropped.
    max_buffered_datagrams = 1024

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        prefix = config.statsd_prefix
        self.prefix = prefix if not prefix or prefix.endswith(".") else prefix + "."
        self.dogstatsd_tags = config.dogstatsd_tags
        self.autoflush = True
        self.dropped_datagrams = 0
        self._buffer: deque[bytes] = deque()
        self._socket: StatsdSocket | None = None
        if config.statsd_host:
            try:
                self._socket = StatsdSocket(config.statsd_host)
            except (OSError, ValueError) as error:
                if self.error_logger is not None:
                    self.error_logger.warning(
                        "StatsD metrics disabled: cannot use statsd_host %r (%s)",
                        config.statsd_host,
                        error,
                    )

    # -- the Logger API, counting as it logs -------------------------------------------

    async def critical(self, message: str, *args: Any, **kwargs: Any) -> None:
        await super().critical(message, *args, **kwargs)
        await self.increment("hypercorn.log.critical", 1)

    async def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        await super().error(message, *args, **kwargs)
        await self.increment("hypercorn.log.error", 1)

    async def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        await super().warning(message, *args, **kwargs)
        await self.increment("hypercorn.log.warning", 1)

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        await super().exception(message, *args, **kwargs)
        await self.increment("hypercorn.log.exception", 1)

    async def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> None:
        """Log ``message`` (if any) and send the custom metric in ``extra``, if given."""
        extra = kwargs.get("extra")
        if isinstance(extra, dict):
            metric, value, kind = extra.get(METRIC_VAR), extra.get(VALUE_VAR), extra.get(MTYPE_VAR)
            if metric and value is not None:
                if kind == GAUGE_TYPE:
                    await self.gauge(metric, value)
                elif kind == COUNTER_TYPE:
                    await self.increment(metric, value)
                elif kind == HISTOGRAM_TYPE:
                    await self.histogram(metric, value)
        if message:
            await super().log(level, message, *args, **kwargs)

    async def access(
        self, request: ASGIScope, response: Mapping[str, Any] | None, request_time: float
    ) -> None:
        await super().access(request, response, request_time)
        await self.histogram("hypercorn.request.duration", request_time * 1_000)
        await self.increment("hypercorn.requests", 1)
        if response is not None:
            await self.increment(f"hypercorn.request.status.{response['status']}", 1)

    # -- metrics -------------------------------------------------------------------------

    async def gauge(self, name: str, value: Any) -> None:
        """Set gauge ``name`` to ``value``."""
        self._emit(f"{self.prefix}{name}:{value}|g")

    async def increment(self, name: str, value: Any, sampling_rate: float = 1.0) -> None:
        """Add ``value`` to counter ``name``."""
        self._emit(f"{self.prefix}{name}:{value}|c|@{sampling_rate}")

    async def decrement(self, name: str, value: Any, sampling_rate: float = 1.0) -> None:
        """Subtract ``value`` from counter ``name``."""
        self._emit(f"{self.prefix}{name}:-{value}|c|@{sampling_rate}")

    async def histogram(self, name: str, value: Any) -> None:
        """Record ``value`` (milliseconds) in timer ``name``."""
        self._emit(f"{self.prefix}{name}:{value}|ms")

    # -- the datagram buffer -------------------------------------------------------------

    def drain_datagrams(self) -> list[bytes]:
        """Remove and return the buffered datagrams, oldest first."""
        datagrams = list(self._buffer)
        self._buffer.clear()
        return datagrams

    def flush(self) -> None:
        """Send the buffered datagrams to ``statsd_host`` (no-op without one)."""
        sender = self._socket
        if sender is None:
            return
        while self._buffer:
            if not sender.send(self._buffer.popleft()):
                self.dropped_datagrams += 1

    def close(self) -> None:
        """Flush, then close the socket."""
        self.flush()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _emit(self, line: str) -> None:
        if self.dogstatsd_tags:
            line = f"{line}|#{self.dogstatsd_tags}"
        if len(self._buffer) >= self.max_buffered_datagrams:
            self.dropped_datagrams += 1
            return
        self._buffer.append(line.encode("utf-8"))
        if self.autoflush:
            self.flush()


__all__ = [
    "COUNTER_TYPE",
    "STATSD_DEFAULT_PORT",
    "GAUGE_TYPE",
    "HISTOGRAM_TYPE",
    "METRIC_VAR",
    "MTYPE_VAR",
    "VALUE_VAR",
    "StatsdLogger",
    "StatsdSocket",
    "split_statsd_address",
]
