"""Write docs/options.md from the option table, so the reference cannot drift.

Every ``Config`` option comes from ``hypercorn_protocol.config.OPTIONS`` (the table the
loaders check values against), its default from a fresh ``Config()``, its flags from
the command's own flag table; only the one-line descriptions live here, and a test
fails when an option has none or when docs/options.md is not what this script writes.

    python tools/options_reference.py          # rewrite docs/options.md
    python tools/options_reference.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hypercorn_cli._options import FLAGS
from hypercorn_protocol.config import _OPTION_KINDS, OPTIONS, Config

DOC = Path(__file__).resolve().parent.parent / "docs" / "options.md"

#: Options Hypercorn 0.18 has; the others are new in this project (0.19).
HYPERCORN_018 = frozenset(
    [
        "access_log_format",
        "accesslog",
        "alpn_protocols",
        "alt_svc_headers",
        "application_path",
        "backlog",
        "bind",
        "ca_certs",
        "certfile",
        "cert_reqs",
        "ciphers",
        "daemon",
        "debug",
        "dogstatsd_tags",
        "errorlog",
        "graceful_timeout",
        "group",
        "h11_max_incomplete_size",
        "h11_pass_raw_headers",
        "h2_max_concurrent_streams",
        "h2_max_header_list_size",
        "h2_max_inbound_frame_size",
        "include_date_header",
        "include_server_header",
        "insecure_bind",
        "keep_alive_max_requests",
        "keep_alive_timeout",
        "keyfile",
        "keyfile_password",
        "logconfig",
        "logconfig_dict",
        "logger_class",
        "loglevel",
        "max_app_queue_size",
        "max_requests",
        "max_requests_jitter",
        "pid_path",
        "quic_bind",
        "read_timeout",
        "root_path",
        "server_names",
        "shutdown_timeout",
        "ssl_handshake_timeout",
        "startup_timeout",
        "statsd_host",
        "statsd_prefix",
        "umask",
        "use_reloader",
        "user",
        "verify_flags",
        "verify_mode",
        "websocket_max_message_size",
        "websocket_ping_interval",
        "worker_class",
        "workers",
        "wsgi_max_body_size",
    ]
)

DESCRIPTIONS: dict[str, str] = {
    "access_log_format": "%-style format of each access log line, over the access-log atoms",
    "access_log_json": "write each access log line as one JSON object instead",
    "accesslog": "access log target: a path, `-` for stdout, a `logging.Logger`; None: off",
    "alpn_protocols": "protocols offered by TLS ALPN; `h2` selects HTTP/2",
    "alt_svc_headers": "`alt-svc` response header values to send",
    "application_path": "the application: `module:app`, `path/file.py:app`, `asgi:`/`wsgi:` forms",
    "backlog": "listen() backlog of each listening socket",
    "bind": "addresses to serve: `HOST:PORT`, `[IPv6]:PORT`, `unix:PATH`, `fd://N`",
    "ca_certs": "CA file used to verify client certificates",
    "certfile": "TLS certificate chain; TLS is on when `certfile` and `keyfile` are set",
    "cert_reqs": "deprecated spelling of `verify_mode`, as a number",
    "ciphers": "OpenSSL cipher list for TLS 1.2 and below",
    "daemon": "make worker processes daemonic (`multiprocessing` sense)",
    "debug": "event loop debug mode (asyncio)",
    "dogstatsd_tags": "DogStatsD tags appended to every metric",
    "errorlog": "error log target: a path, `-` for stderr, a `logging.Logger`; None: off",
    "graceful_timeout": "seconds in-flight requests get to finish once shutdown starts",
    "group": "group (gid) workers switch to when started as root",
    "h11_max_incomplete_size": "largest HTTP/1.1 request head, in bytes (431 beyond)",
    "h11_pass_raw_headers": "pass HTTP/1.1 header names in the client's spelling",
    "h2_max_concurrent_streams": "SETTINGS_MAX_CONCURRENT_STREAMS; a stream beyond it is refused",
    "h2_max_header_list_size": "SETTINGS_MAX_HEADER_LIST_SIZE, in bytes",
    "h2_max_inbound_frame_size": "SETTINGS_MAX_FRAME_SIZE advertised and enforced",
    "h2_stall_timeout": "seconds a stream may wait for flow-control window; None: forever",
    "http_parser": (
        "HTTP/1.1 request parser: `auto` (httptools when installed, else h11), `h11`,"
        " or `httptools` (`hypercorn[fast]`); see docs/http1.md"
    ),
    "include_date_header": "add a `date` header to every response",
    "include_server_header": "add a `server` header to every response",
    "insecure_bind": "plain-HTTP addresses served next to the TLS ones (with TLS on)",
    "keep_alive_max_requests": "requests served on one connection before it is closed",
    "keep_alive_timeout": "seconds an idle connection is kept open",
    "keyfile": "TLS private key",
    "keyfile_password": "password of an encrypted `keyfile`",
    "logconfig": "logging config file: `json:PATH`, `toml:PATH` or an INI file",
    "logconfig_dict": "logging config as a `dictConfig` mapping",
    "logger_class": "class that does the logging (`hypercorn.logging.Logger` or a subclass)",
    "loglevel": "level of the error and access loggers",
    "max_app_queue_size": "ASGI messages queued for an app before reading pauses",
    "max_request_body_size": (
        "largest request body for any app, in bytes: 413 (a reset once the response "
        "began); None: no limit"
    ),
    "max_requests": "requests a worker serves before it is replaced; None: no limit",
    "max_requests_jitter": "random extra requests (0 to this) added to `max_requests`",
    "metrics_bind": "`HOST:PORT` serving Prometheus `/metrics` (needs `hypercorn[metrics]`)",
    "pid_path": "file the server's pid is written to",
    "proxy_allow_ips": "peers (IPs, CIDR networks, `*`) allowed to send a PROXY header",
    "proxy_protocol": "every TCP connection must start with a PROXY header (v1 or v2)",
    "quic_bind": "UDP addresses for HTTP/3 (needs TLS); see docs/http3.md",
    "quic_idle_timeout": "seconds a QUIC connection may stay silent before it is dropped",
    "quic_max_connections": "QUIC connections per UDP socket; new ones beyond are dropped",
    "quic_max_saved_sessions": "single-use TLS session tickets kept for 0-RTT; 0: none",
    "quic_retry": "validate client addresses with QUIC Retry before opening a connection",
    "read_timeout": "seconds to wait for request bytes; None: no limit",
    "request_body_timeout": (
        "seconds without body progress while the app waits for it: 408, or the connection "
        "closed once the response began; None: off"
    ),
    "request_header_timeout": (
        "seconds for a whole request head from its first byte: 408 (HTTP/2: no more "
        "input, GOAWAY); None: off"
    ),
    "response_write_timeout": (
        "seconds a full send buffer may wait for the client to read: the connection is "
        "aborted (HTTP/2: a shut window resets the stream); None: off"
    ),
    "reuse_port": "one SO_REUSEPORT socket per worker (Linux): even spread, may queue",
    "root_path": "ASGI `root_path` of every request (the app's mount point)",
    "server_names": "host names served; a request for another host gets 404",
    "shutdown_timeout": "seconds lifespan shutdown may take",
    "ssl_handshake_timeout": "seconds a TLS handshake (and a PROXY header) may take",
    "startup_timeout": "seconds lifespan startup may take",
    "statsd_host": "`HOST:PORT` of a StatsD server; turns metrics on",
    "statsd_prefix": "prefix of every metric name",
    "umask": "umask of the worker processes (octal on the command line)",
    "use_reloader": "restart when the application's source files change",
    "user": "user (uid) workers switch to when started as root",
    "verify_flags": "`ssl.VerifyFlags` for client certificate verification",
    "verify_mode": "`ssl.VerifyMode` for client certificates (`CERT_REQUIRED`, ...)",
    "websocket_compression": "offer permessage-deflate on WebSockets",
    "websocket_max_message_size": "largest WebSocket message, in bytes (1009 beyond)",
    "websocket_ping_interval": "seconds between server pings; None: no pings",
    "websocket_pong_timeout": "seconds to wait for a pong before closing; None: forever",
    "worker_class": "`asyncio`, `uvloop` or `trio`",
    "workers": "worker processes; 0 serves in the supervisor's own process",
    "wsgi_max_body_size": (
        "largest WSGI request body, in bytes (413 beyond); max_request_body_size, "
        "when smaller, wins"
    ),
}


_KIND_NAMES = {
    "binds": "str or list[str]",
    "logtarget": "str or Logger",
    "verify_mode": "ssl.VerifyMode",
    "verify_flags": "ssl.VerifyFlags",
}


def _kind(name: str) -> str:
    kind = _OPTION_KINDS[name]
    optional = kind.endswith("?")
    kind = _KIND_NAMES.get(kind.rstrip("?"), kind.rstrip("?"))
    return f"{kind} or None" if optional else kind


def _default(name: str) -> str:
    if name == "application_path":
        return "(required)"
    if name == "cert_reqs":
        return "(write-only)"
    if name == "logger_class":
        return "`hypercorn.logging.Logger`"  # its public name, wherever it is defined
    value = getattr(Config(), name)
    if isinstance(value, type):
        return f"`{value.__module__}.{value.__qualname__}`"
    return f"`{value!r}`"


def _flags(name: str) -> str:
    names = [
        "/".join(f"`{n}`" for n in flag.names) + (" (deprecated)" if flag.deprecated_by else "")
        for flag in FLAGS
        if flag.attribute == name
    ]
    if name == "application_path":
        names.append("positional `APPLICATION`")
    return ", ".join(names) or "none"


def render() -> str:
    """The whole of docs/options.md."""
    lines = [
        "# Options",
        "",
        "Every `Config` option, its type, default and command-line flags. This page is",
        "generated from the option table by `python tools/options_reference.py`; a test",
        "fails when it is out of date. Set options in a config file (`-c config.toml`,",
        "`-c pyproject.toml` reads `[tool.hypercorn]`, `file:config.py`, `python:module`),",
        "on `Config` in code, or with the flags; flags win over the file. *Since* says",
        "whether Hypercorn 0.18 has the option or it is new in 0.19.",
        "",
        "| option | type | default | flags | since | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(OPTIONS):
        kind = _kind(name)
        since = "0.18" if name in HYPERCORN_018 else "0.19"
        description = DESCRIPTIONS[name].replace("|", "\\|")
        lines.append(
            f"| `{name}` | {kind} | {_default(name)} | {_flags(name)} | {since} | {description} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/options.md from the option table.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print("docs/options.md is out of date: python tools/options_reference.py")
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
