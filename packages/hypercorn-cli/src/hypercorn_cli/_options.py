"""The command line: one table of flags, each mapped to one ``Config`` attribute.

Every flag defaults to ``argparse.SUPPRESS``, so the parsed namespace holds only the
flags the user actually gave; only those override the config file (precedence:
``Config`` defaults < config file < explicit flags). Repeatable flags (``--bind``...)
replace the file's list only when given at least once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from hypercorn_cli.__about__ import __version__
from hypercorn_protocol.config import HTTP_PARSERS, WORKER_CLASSES
from hypercorn_protocol.proxy import TrustedProxies

if TYPE_CHECKING:
    import ssl

#: The usage line (the full list of flags is for ``--help``).
USAGE = "hypercorn [OPTIONS] APPLICATION"


class UsageError(Exception):
    """The command line could not be parsed (reported as one line, exit code 2)."""


@dataclass(frozen=True)
class Flag:
    """One command-line flag and the ``Config`` attribute it sets."""

    names: tuple[str, ...]
    attribute: str
    help: str
    convert: Callable[[str], Any] | None = None
    action: str | type[argparse.Action] = "store"
    choices: Sequence[str] | None = None
    deprecated_by: str | None = None


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def _non_negative_int(value: str) -> int:
    number = _whole_number(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not number >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {value!r}")
    return number


def _seconds_or_off(value: str) -> float | None:
    # "off" turns a deadline off (the option's None); 0 would expire at once.
    if value.strip().lower() in ("off", "none"):
        return None
    number = _seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError("expected more than 0 seconds, or 'off'")
    return number


def _bytes_or_off(value: str) -> int | None:
    if value.strip().lower() in ("off", "none"):
        return None
    return _non_negative_int(value)


def _allow_ips(value: str) -> list[str]:
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    try:
        TrustedProxies(entries)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return entries


def _host_port(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return value


def _octal(value: str) -> int:
    # A umask is octal by convention (``-m 022``); Hypercorn parsed it as decimal.
    text = value.lower().removeprefix("0o")
    try:
        return int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal umask: {value!r}") from None


def _verify_mode(value: str) -> ssl.VerifyMode:
    import ssl  # only for this flag: it maps OpenSSL, which a server without TLS never needs

    try:
        return ssl.VerifyMode[value]
    except KeyError:
        names = ", ".join(mode.name for mode in ssl.VerifyMode)
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {names}") from None


def _cert_reqs(value: str) -> ssl.VerifyMode:
    import ssl

    try:
        return ssl.VerifyMode(_whole_number(value))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"not a certificate requirement: {value!r}") from None


FLAGS: tuple[Flag, ...] = (
    Flag(("--access-logfile",), "accesslog", "Access log target: '-' for stdout, else a path"),
    Flag(
        ("--access-log",),
        "accesslog",
        "Deprecated: use --access-logfile",
        deprecated_by="--access-logfile",
    ),
    Flag(("--access-logformat",), "access_log_format", "Access log format (%%-style atoms)"),
    Flag(("--backlog",), "backlog", "Maximum number of pending connections", _non_negative_int),
    Flag(
        ("-b", "--bind"),
        "bind",
        "Address to bind: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N (repeatable)",
        action="append",
    ),
    Flag(("--ca-certs",), "ca_certs", "CA certificates file for client verification"),
    Flag(("--certfile",), "certfile", "TLS certificate file"),
    Flag(
        ("--cert-reqs",),
        "verify_mode",
        "Deprecated: use --verify-mode (here a number: 0, 1 or 2)",
        _cert_reqs,
        deprecated_by="--verify-mode",
    ),
    Flag(("--ciphers",), "ciphers", "TLS ciphers (OpenSSL cipher list)"),
    Flag(
        ("-D", "--daemon"),
        "daemon",
        "Make worker processes daemonic (--no-daemon to turn off)",
        action=argparse.BooleanOptionalAction,
    ),
    Flag(("--debug",), "debug", "Enable event loop debug mode", action="store_true"),
    Flag(
        ("--error-logfile", "--log-file"),
        "errorlog",
        "Error log target: '-' for stderr, else a path",
    ),
    Flag(
        ("--error-log",),
        "errorlog",
        "Deprecated: use --error-logfile",
        deprecated_by="--error-logfile",
    ),
    Flag(
        ("--graceful-timeout",),
        "graceful_timeout",
        "Seconds to let in-flight requests finish on shutdown",
        _seconds,
    ),
    Flag(("--read-timeout",), "read_timeout", "Seconds to wait for each socket read", _seconds),
    Flag(
        ("--request-header-timeout",),
        "request_header_timeout",
        "Seconds for a whole request head from its first byte (408), or 'off'",
        _seconds_or_off,
    ),
    Flag(
        ("--request-body-timeout",),
        "request_body_timeout",
        "Seconds without request body progress while the app waits for it (408), or 'off'",
        _seconds_or_off,
    ),
    Flag(
        ("--response-write-timeout",),
        "response_write_timeout",
        "Seconds a full send buffer may wait for the client to read, or 'off'",
        _seconds_or_off,
    ),
    Flag(
        ("--max-request-body-size",),
        "max_request_body_size",
        "Largest request body in bytes for any app (413), or 'off'",
        _bytes_or_off,
    ),
    Flag(
        ("--max-requests",),
        "max_requests",
        "Requests a worker serves before it is restarted",
        _non_negative_int,
    ),
    Flag(
        ("--max-requests-jitter",),
        "max_requests_jitter",
        "Random extra requests (0..N) added to --max-requests per worker",
        _non_negative_int,
    ),
    Flag(("-g", "--group"), "group", "Group id owning unix sockets", _whole_number),
    Flag(
        ("-k", "--worker-class"),
        "worker_class",
        "Worker class: asyncio, uvloop or trio",
        choices=WORKER_CLASSES,
    ),
    Flag(
        ("--http",),
        "http_parser",
        "HTTP/1.1 parser: auto (httptools if installed, else h11), h11 or httptools",
        choices=HTTP_PARSERS,
    ),
    Flag(
        ("--keep-alive",), "keep_alive_timeout", "Seconds to keep idle connections open", _seconds
    ),
    Flag(
        ("--keep-alive-max-requests",),
        "keep_alive_max_requests",
        "Requests one connection may make before it is closed (HTTP/2: GOAWAY)",
        _non_negative_int,
    ),
    Flag(
        ("--startup-timeout",),
        "startup_timeout",
        "Seconds the app may take to complete lifespan startup",
        _seconds,
    ),
    Flag(
        ("--shutdown-timeout",),
        "shutdown_timeout",
        "Seconds the app may take to complete lifespan shutdown",
        _seconds,
    ),
    Flag(
        ("--websocket-max-message-size",),
        "websocket_max_message_size",
        "Largest WebSocket message, in bytes (larger closes with 1009)",
        _non_negative_int,
    ),
    Flag(("--keyfile",), "keyfile", "TLS private key file"),
    Flag(("--keyfile-password",), "keyfile_password", "Password of an encrypted --keyfile"),
    Flag(
        ("--insecure-bind",),
        "insecure_bind",
        "Plain-HTTP address to bind when TLS is on (repeatable)",
        action="append",
    ),
    Flag(("--log-config",), "logconfig", "Logging config: json:PATH, toml:PATH or an ini file"),
    Flag(("--log-level",), "loglevel", "Log level of the error and access logs (e.g. INFO)"),
    Flag(
        ("--metrics-bind",),
        "metrics_bind",
        "Serve Prometheus /metrics on HOST:PORT (needs hypercorn[metrics])",
        _host_port,
    ),
    Flag(("-p", "--pid"), "pid_path", "Write the server's process id to this file"),
    Flag(
        ("--quic-bind",),
        "quic_bind",
        "UDP address for HTTP/3 when TLS is on (repeatable)",
        action="append",
    ),
    Flag(
        ("--proxy-protocol",),
        "proxy_protocol",
        "Every TCP connection starts with a PROXY header (v1 or v2) from --proxy-allow-ips",
        action="store_true",
    ),
    Flag(
        ("--proxy-allow-ips",),
        "proxy_allow_ips",
        "Peers allowed to send a PROXY header: IPs, CIDR networks or * "
        "(comma-separated, repeatable)",
        _allow_ips,
        action="extend",
    ),
    Flag(("--reload",), "use_reloader", "Restart workers when code changes", action="store_true"),
    Flag(
        ("--reuse-port",),
        "reuse_port",
        "One SO_REUSEPORT socket per worker (Linux): even spread, but a connection may "
        "wait behind a blocked worker; default: one socket shared by all workers",
        action="store_true",
    ),
    Flag(("--root-path",), "root_path", "ASGI root_path: the prefix the app is mounted under"),
    Flag(
        ("--server-name",),
        "server_names",
        "Accepted Host header value; others get 404 (repeatable)",
        action="append",
    ),
    Flag(("--statsd-host",), "statsd_host", "StatsD server as HOST:PORT"),
    Flag(("--statsd-prefix",), "statsd_prefix", "Prefix of every StatsD metric"),
    Flag(("-m", "--umask"), "umask", "Octal umask applied while creating unix sockets", _octal),
    Flag(("-u", "--user"), "user", "User id owning unix sockets", _whole_number),
    Flag(
        ("--verify-mode",),
        "verify_mode",
        "Client certificate policy: CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED",
        _verify_mode,
    ),
    Flag(
        ("--websocket-ping-interval",),
        "websocket_ping_interval",
        "Seconds between server WebSocket pings",
        _seconds,
    ),
    Flag(
        ("-w", "--workers"),
        "workers",
        "Worker processes; 0 serves in this process",
        _non_negative_int,
    ),
    Flag(
        ("--access-log-json",),
        "access_log_json",
        "Write each access log line as one JSON object (for log shippers)",
        action="store_true",
    ),
)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, raised instead of printed."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _dest(flag: Flag) -> str:
    # Flags sharing an attribute (deprecated aliases) get their own dest, so the
    # namespace still says which one was used.
    return flag.names[-1].lstrip("-").replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``hypercorn`` argument parser."""
    parser = _Parser(
        prog="hypercorn",
        usage=USAGE,
        description="Serve an ASGI or WSGI application.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "application",
        metavar="APPLICATION",
        help="The application: module:app, path/to/file.py:app, asgi:module:app or wsgi:module:app",
    )
    parser.add_argument(
        "-c",
        "--config",
        help="Config file: a TOML path, file:path/to/config.py or python:dotted.module",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for flag in FLAGS:
        kwargs: dict[str, Any] = {"dest": _dest(flag), "help": flag.help, "action": flag.action}
        if flag.convert is not None:
            kwargs["type"] = flag.convert
        if flag.choices is not None:
            kwargs["choices"] = flag.choices
        parser.add_argument(*flag.names, **kwargs)
    return parser


def parse_args(args: Sequence[str]) -> argparse.Namespace:
    """Parse ``args``; raises ``UsageError`` (or ``SystemExit`` for --help/--version)."""
    return build_parser().parse_args(list(args))


def flag_values(namespace: argparse.Namespace) -> list[tuple[Flag, Any]]:
    """The flags given on the command line with their parsed values, in table order."""
    given = vars(namespace)
    return [(flag, given[_dest(flag)]) for flag in FLAGS if _dest(flag) in given]


def apply_flags(config: Any, namespace: argparse.Namespace) -> None:
    """Set the ``Config`` attribute of every flag that was given, and the application."""
    for flag, value in flag_values(namespace):
        if flag.deprecated_by is not None:
            print(
                f"Warning: {flag.names[0]} is deprecated, use {flag.deprecated_by}",
                file=sys.stderr,
            )
        setattr(config, flag.attribute, value)
    config.application_path = namespace.application
