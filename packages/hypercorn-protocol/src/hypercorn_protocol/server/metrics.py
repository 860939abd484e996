"""Prometheus metrics with ``prometheus_client``: a worker's instruments and ``/metrics``.

With ``metrics_bind`` set, every worker records into a :class:`PrometheusMetrics`
(driven by :class:`hypercorn_protocol.driving.ConnectionDriver`, where the access log
and StatsD hooks fire too), and one process serves ``/metrics``:

* ``workers >= 1``: the supervisor makes a private temporary directory
  (:class:`MultiprocessDirectory`) and points ``PROMETHEUS_MULTIPROC_DIR`` at it before
  ``prometheus_client`` is imported anywhere (the library picks its storage at import),
  so each worker process writes its values to files there; the supervisor's endpoint
  sums them. Gauges count live processes only: the supervisor calls
  ``mark_process_dead`` for every worker it reaps, and removes the directory on exit.
* ``workers = 0`` and ``serve()``: the one process serves its own values.

``prometheus_client`` is optional (``pip install 'hypercorn[metrics]'``): without it,
``metrics_bind`` fails at startup with one line naming the install.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hypercorn_protocol import events
from hypercorn_protocol.server.config_files import ConfigError

if TYPE_CHECKING:
    from hypercorn_protocol.events import RequestCompleted

#: Where ``prometheus_client`` keeps multiprocess values (read when it is imported).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Set by the supervisor for its workers: record into files, the supervisor serves them.
SUPERVISED_ENV = "HYPERCORN_METRICS_SUPERVISED"
INSTALL_HINT = "metrics_bind needs prometheus_client: pip install 'hypercorn[metrics]'"
PREFIX = "hypercorn_"


def prometheus_client() -> ModuleType:
    """The ``prometheus_client`` module, or a one-line ``ConfigError`` naming the install."""
    try:
        module = importlib.import_module("prometheus_client")
    except ModuleNotFoundError as error:
        if error.name != "prometheus_client":
            raise
        raise ConfigError(INSTALL_HINT) from None
    return module


def _multiprocess() -> ModuleType:
    prometheus_client()
    return importlib.import_module("prometheus_client.multiprocess")


def _protocol(http_version: str) -> str:
    return "h2" if http_version == "2" else "h3" if http_version == "3" else "h1"


class PrometheusMetrics:
    """One process's instruments (a :class:`~hypercorn_protocol.driving.ConnectionMetrics`).

    Each instance has its own registry, so several servers in one process (tests,
    ``serve()`` twice) do not collide; in multiprocess mode the values go to the
    shared directory whatever the registry.

    """

    def __init__(self) -> None:
        client = prometheus_client()
        self.registry = registry = client.CollectorRegistry()
        counter, gauge, histogram = client.Counter, client.Gauge, client.Histogram
        self._requests = counter(
            PREFIX + "requests",
            "Requests answered, by method, status and protocol (status 'none': no response)",
            ["method", "status", "protocol"],
            registry=registry,
        )
        self._duration = histogram(
            PREFIX + "request_duration_seconds",
            "From the request head to the end of the response",
            ["protocol"],
            registry=registry,
        )
        self._connections = gauge(
            PREFIX + "open_connections",
            "Open client connections, by protocol",
            ["protocol"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._websockets = gauge(
            PREFIX + "open_websockets",
            "Open WebSockets, by protocol of their connection",
            ["protocol"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._received = counter(
            PREFIX + "received_bytes",
            "Bytes read from clients, by protocol (h3: UDP payloads of QUIC datagrams)",
            ["protocol"],
            registry=registry,
        )
        self._sent = counter(
            PREFIX + "sent_bytes",
            "Bytes written to clients, by protocol (h3: UDP payloads of QUIC datagrams)",
            ["protocol"],
            registry=registry,
        )
        self._refusals = counter(
            PREFIX + "refusals",
            "Connections or requests refused by a deadline or a limit, by reason",
            ["reason"],
            registry=registry,
        )

    # ------------------------------------------------ ConnectionMetrics (workers)
    def request_completed(self, event: RequestCompleted) -> None:
        scope = event.scope
        protocol = _protocol(scope.get("http_version", "1.1"))
        status = str(event.response.status) if event.response is not None else "none"
        self._requests.labels(scope.get("method", "GET"), status, protocol).inc()
        self._duration.labels(protocol).observe(max(event.end - event.start, 0.0))

    def connection_opened(self, protocol: str) -> None:
        self._connections.labels(protocol).inc()

    def connection_closed(self, protocol: str) -> None:
        self._connections.labels(protocol).dec()

    def websocket_opened(self, protocol: str) -> None:
        self._websockets.labels(protocol).inc()

    def websocket_closed(self, protocol: str) -> None:
        self._websockets.labels(protocol).dec()

    def transferred(self, protocol: str, received: int, sent: int) -> None:
        if received:
            self._received.labels(protocol).inc(received)
        if sent:
            self._sent.labels(protocol).inc(sent)

    def refused(self, reason: str) -> None:
        self._refusals.labels(reason).inc()

    def touch(self, reasons: Iterable[str]) -> None:
        """Make the labelled series exist at zero, so a scrape shows them before use."""
        for reason in reasons:
            self._refusals.labels(reason)


class MultiprocessDirectory:
    """The supervisor's private ``PROMETHEUS_MULTIPROC_DIR``: made, exported, removed."""

    def __init__(self) -> None:
        import tempfile  # here: a server without metrics need not load it

        self.path = tempfile.mkdtemp(prefix="hypercorn-metrics-")  # mode 0700
        self._previous = os.environ.get(MULTIPROCESS_ENV)
        os.environ[MULTIPROCESS_ENV] = self.path  # spawned workers inherit both
        os.environ[SUPERVISED_ENV] = "1"

    def process_dead(self, pid: int | None) -> None:
        """A worker is gone: its live gauges stop counting (its counters stay summed)."""
        if pid is not None:
            _multiprocess().mark_process_dead(pid, self.path)

    def collector_registry(self) -> Any:
        """A registry that sums every process's files."""
        client = prometheus_client()
        registry = client.CollectorRegistry()
        _multiprocess().MultiProcessCollector(registry, path=self.path)
        return registry

    def close(self) -> None:
        os.environ.pop(SUPERVISED_ENV, None)
        if self._previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = self._previous
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


#: Why the supervisor replaced a worker: it died, it stopped by itself (max_requests,
#: a SIGTERM aimed at it), or a roll replaced it (SIGHUP, SIGUSR1, --reload).
RESTART_REASONS = ("crashed", "stopped", "replaced")


def check_installed() -> None:
    """Raise the one-line ``ConfigError`` if ``prometheus_client`` is missing, without
    importing it (the supervisor must set ``PROMETHEUS_MULTIPROC_DIR`` first)."""
    try:
        found = importlib.util.find_spec("prometheus_client") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(INSTALL_HINT)


class SupervisorMetrics:
    """The supervisor's side: the private directory, the summing endpoint, restarts.

    Made before the application is imported in the supervisor (an app importing
    ``prometheus_client`` must find the directory set), and closed last.
    """

    def __init__(self, bind: str) -> None:
        check_installed()
        self.directory = MultiprocessDirectory()
        try:
            client = prometheus_client()
            self._restarts = client.Counter(
                PREFIX + "worker_restarts",
                "Worker processes replaced, by reason (crashed, stopped, replaced)",
                ["reason"],
                registry=None,  # its value goes to the directory, summed like the workers'
            )
            for reason in RESTART_REASONS:
                self._restarts.labels(reason)
            self.endpoint = MetricsEndpoint(bind, self.directory.collector_registry())
        except BaseException:
            self.directory.close()
            raise

    def worker_restarted(self, reason: str) -> None:
        self._restarts.labels(reason).inc()

    def process_dead(self, pid: int | None) -> None:
        self.directory.process_dead(pid)

    def close(self) -> None:
        self.endpoint.close()
        self.directory.close()


class MetricsEndpoint:
    """``GET /metrics`` on ``bind`` (``HOST:PORT``), in a thread; 404 for other paths."""

    def __init__(self, bind: str, registry: Any) -> None:
        # Imported here: they pull in ``socket``, which the rest of the core must not.
        import socket
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from hypercorn_protocol.server.binding import BindError, TCPBind, parse_bind

        class Server(WSGIServer):
            # One scrape at a time, each bounded by the handler's timeout: a flood of
            # scrapes or a stalled client costs no more than this one thread.
            allow_reuse_address = True

        class Server6(Server):
            address_family = socket.AF_INET6

        class QuietHandler(WSGIRequestHandler):
            timeout = 5.0  # seconds a scraper may take to send its request or read

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes are not the access log

        client = prometheus_client()
        metrics_app = client.make_wsgi_app(registry)

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != "/metrics":
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"Not Found: the metrics are at /metrics\n"]
            result: Iterable[bytes] = metrics_app(environ, start_response)
            return result

        address = parse_bind(bind)
        if not isinstance(address, TCPBind):
            raise ConfigError(f"invalid value for metrics_bind: expected HOST:PORT, got {bind!r}")
        server_class = Server6 if address.family == socket.AF_INET6 else Server
        try:
            self._server = make_server(
                address.host, address.port, app, server_class, handler_class=QuietHandler
            )
        except OSError as error:
            raise BindError(bind, error.strerror or str(error), error.errno) from None
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        self.url = (
            f"http://[{host}]:{port}/metrics" if ":" in host else f"http://{host}:{port}/metrics"
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="hypercorn-metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def supervised() -> bool:
    """True in a worker of a supervisor that serves the metrics (values go to files)."""
    return os.environ.get(SUPERVISED_ENV) == "1" and bool(os.environ.get(MULTIPROCESS_ENV))


#: The refusal reasons counted today; the series exist from the first scrape.
REFUSAL_REASONS = (
    "proxy_untrusted",
    "proxy_header",
    "proxy_timeout",
    "request_header_too_large",
    "request_timeout",
    *events.REFUSAL_REASONS,  # the deadline and limit options, by name
)

__all__ = [
    "INSTALL_HINT",
    "MULTIPROCESS_ENV",
    "REFUSAL_REASONS",
    "MetricsEndpoint",
    "MultiprocessDirectory",
    "RESTART_REASONS",
    "PrometheusMetrics",
    "SupervisorMetrics",
    "check_installed",
    "SUPERVISED_ENV",
    "supervised",
    "worker_metrics",
    "prometheus_client",
]


def worker_metrics(config: Any) -> tuple[PrometheusMetrics | None, MetricsEndpoint | None]:
    """A worker's instruments for ``config.metrics_bind``, and its endpoint if it serves one.

    A supervised worker only records (the supervisor serves); ``serve()`` and
    ``workers = 0`` serve their own values. ``(None, None)`` without ``metrics_bind``.
    """
    if config.metrics_bind is None:
        return None, None
    metrics = PrometheusMetrics()
    metrics.touch(REFUSAL_REASONS)
    if supervised():
        return metrics, None
    return metrics, MetricsEndpoint(config.metrics_bind, metrics.registry)
