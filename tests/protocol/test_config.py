"""Tests for hypercorn_protocol.config: defaults, loaders, validation, pickling, TLS context."""

from __future__ import annotations

import logging
import pickle
import ssl
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from hypercorn_protocol.config import (
    BYTES,
    OCTETS,
    OPTIONS,
    SECONDS,
    Config,
    ConfigError,
    ConfigWarning,
    http_date,
)
from hypercorn_protocol.server.logging import Logger
from tests.helpers.backends import BACKENDS

DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(l)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

# Hypercorn 0.18's contract table (reference §1.1): attribute -> default.
DEFAULTS: dict[str, Any] = {
    "access_log_json": False,
    "access_log_format": DEFAULT_ACCESS_LOG_FORMAT,
    "accesslog": None,
    "alpn_protocols": ["h2", "http/1.1"],
    "alt_svc_headers": [],
    "backlog": 100,
    "bind": ["127.0.0.1:8000"],
    "ca_certs": None,
    "certfile": None,
    "ciphers": "ECDHE+AESGCM",
    "daemon": True,
    "debug": False,
    "dogstatsd_tags": "",
    "errorlog": "-",
    "graceful_timeout": 3.0,
    "group": None,
    "h11_max_incomplete_size": 16384,
    "h11_pass_raw_headers": False,
    "h2_max_concurrent_streams": 100,
    "h2_max_header_list_size": 65536,
    "h2_max_inbound_frame_size": 16384,
    "h2_stall_timeout": 60.0,
    "http_parser": "auto",
    "include_date_header": True,
    "include_server_header": True,
    "insecure_bind": [],
    "keep_alive_max_requests": 1000,
    "keep_alive_timeout": 5.0,
    "keyfile": None,
    "keyfile_password": None,
    "logconfig": None,
    "logconfig_dict": None,
    "logger_class": Logger,
    "loglevel": "INFO",
    "max_app_queue_size": 10,
    "max_request_body_size": None,
    "max_requests": None,
    "max_requests_jitter": 0,
    "metrics_bind": None,
    "pid_path": None,
    "proxy_allow_ips": ["127.0.0.1", "::1"],
    "proxy_protocol": False,
    "quic_bind": [],
    "quic_idle_timeout": 60.0,
    "quic_max_connections": 1000,
    "quic_max_saved_sessions": 0,
    "quic_retry": False,
    "read_timeout": None,
    "request_body_timeout": 60.0,
    "request_header_timeout": 10.0,
    "response_write_timeout": 60.0,
    "reuse_port": False,
    "root_path": "",
    "server_names": [],
    "shutdown_timeout": 60.0,
    "ssl_handshake_timeout": 60.0,
    "startup_timeout": 60.0,
    "statsd_host": None,
    "statsd_prefix": "",
    "umask": None,
    "use_reloader": False,
    "user": None,
    "verify_flags": None,
    "verify_mode": None,
    "websocket_compression": True,
    "websocket_max_message_size": 16777216,
    "websocket_ping_interval": None,
    "websocket_pong_timeout": 20.0,
    "worker_class": "asyncio",
    "workers": 1,
    "wsgi_max_body_size": 16777216,
}
# Options without a readable default.
NO_DEFAULT = {"application_path", "cert_reqs"}

# A value of the right type (different from the default) for every settable option.
GOOD_VALUES: dict[str, Any] = {
    "access_log_json": True,
    "access_log_format": "%(h)s",
    "accesslog": "-",
    "alpn_protocols": ["http/1.1"],
    "alt_svc_headers": ['h3=":443"'],
    "application_path": "app:app",
    "backlog": 5,
    "bind": ["0.0.0.0:80", "[::]:80"],
    "ca_certs": "ca.pem",
    "certfile": "cert.pem",
    "ciphers": "ECDHE+CHACHA20",
    "daemon": False,
    "debug": True,
    "dogstatsd_tags": "env:prod",
    "errorlog": "/tmp/error.log",
    "graceful_timeout": 7.5,
    "group": 1000,
    "h11_max_incomplete_size": 1024,
    "h11_pass_raw_headers": True,
    "h2_max_concurrent_streams": 10,
    "h2_max_header_list_size": 1024,
    "h2_max_inbound_frame_size": 32768,
    "h2_stall_timeout": 5.0,
    "http_parser": "h11",
    "include_date_header": False,
    "include_server_header": False,
    "insecure_bind": ["127.0.0.1:8080"],
    "keep_alive_max_requests": 10,
    "keep_alive_timeout": 10,
    "keyfile": "key.pem",
    "keyfile_password": "secret",
    "logconfig": "json:log.json",
    "logconfig_dict": {"version": 1},
    "loglevel": "debug",
    "max_app_queue_size": 3,
    "max_request_body_size": 1048576,
    "max_requests": 100,
    "max_requests_jitter": 10,
    "metrics_bind": "127.0.0.1:9100",
    "pid_path": "/tmp/pid",
    "proxy_allow_ips": ["10.0.0.0/8", "fd00::/8", "192.0.2.1", "*"],
    "proxy_protocol": True,
    "quic_bind": ["127.0.0.1:4433"],
    "quic_idle_timeout": 30.0,
    "quic_max_connections": 10,
    "quic_max_saved_sessions": 100,
    "quic_retry": True,
    "read_timeout": 30,
    "request_body_timeout": 5,
    "request_header_timeout": 2.5,
    "response_write_timeout": None,
    "reuse_port": True,
    "root_path": "/api",
    "server_names": ["example.com"],
    "shutdown_timeout": 1.5,
    "ssl_handshake_timeout": 2.5,
    "startup_timeout": 3.5,
    "statsd_host": "localhost:8125",
    "statsd_prefix": "app",
    "umask": 0o22,
    "use_reloader": True,
    "user": 1000,
    "verify_flags": ssl.VerifyFlags.VERIFY_X509_STRICT,
    "verify_mode": ssl.VerifyMode.CERT_REQUIRED,
    "websocket_compression": False,
    "websocket_max_message_size": 1024,
    "websocket_ping_interval": 20,
    "websocket_pong_timeout": 5.0,
    "worker_class": "trio",
    "workers": 4,
    "wsgi_max_body_size": 1024,
}


@pytest.fixture(autouse=True)
def _reset_hypercorn_loggers() -> Iterator[None]:
    """Config.log installs handlers on the global hypercorn loggers: remove them after."""
    yield
    for name in ("hypercorn.access", "hypercorn.error"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        logger.disabled = False


def option_values(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in OPTIONS - NO_DEFAULT}


# -- defaults and attributes ---------------------------------------------------------------


def test_options_are_exactly_the_contract_table() -> None:
    assert set(DEFAULTS) | NO_DEFAULT == OPTIONS
    assert set(GOOD_VALUES) | {"cert_reqs", "logger_class"} == OPTIONS


def test_unit_constants() -> None:
    assert SECONDS == 1.0
    assert BYTES == 1
    assert OCTETS == 1


@pytest.mark.parametrize(("name", "default"), sorted(DEFAULTS.items()))
def test_instance_default(name: str, default: Any) -> None:
    value = getattr(Config(), name)
    assert value == default
    assert type(value) is type(default)


@pytest.mark.parametrize(
    ("name", "default"),
    [
        (name, default)
        for name, default in sorted(DEFAULTS.items())
        if name not in {"bind", "insecure_bind", "quic_bind", "root_path"}
    ],
)
def test_class_level_default_is_readable(name: str, default: Any) -> None:
    assert getattr(Config, name) == default


def test_application_path_has_no_default() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        _ = config.application_path
    config.application_path = "module:app"
    assert config.application_path == "module:app"


def test_class_monkeypatch_changes_new_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Config, "keep_alive_timeout", 10)
    monkeypatch.setattr(Config, "server_names", ["a.example"])
    config = Config()
    assert config.keep_alive_timeout == 10
    assert config.server_names == ["a.example"]
    config.server_names.append("b.example")
    assert Config.server_names == ["a.example"]


def test_class_monkeypatch_of_logger_class(monkeypatch: pytest.MonkeyPatch) -> None:
    class MyLogger(Logger):
        pass

    monkeypatch.setattr(Config, "logger_class", MyLogger)
    assert isinstance(Config().log, MyLogger)


@pytest.mark.parametrize(
    "name",
    [
        "alpn_protocols",
        "alt_svc_headers",
        "server_names",
        "bind",
        "insecure_bind",
    ],
)
def test_list_defaults_are_per_instance(name: str) -> None:
    first, second = Config(), Config()
    getattr(first, name).append("changed")
    assert "changed" not in getattr(second, name)
    assert "changed" not in getattr(Config(), name)
    if name not in {"bind", "insecure_bind"}:
        assert "changed" not in getattr(Config, name)


@pytest.mark.parametrize("name", ["bind", "insecure_bind", "quic_bind"])
def test_bind_properties_wrap_a_string(name: str) -> None:
    config = Config()
    setattr(config, name, "0.0.0.0:9000")
    assert getattr(config, name) == ["0.0.0.0:9000"]
    setattr(config, name, ["a:1", "b:2"])
    assert getattr(config, name) == ["a:1", "b:2"]


def test_root_path_strips_trailing_slash() -> None:
    config = Config()
    config.root_path = "/api/"
    assert config.root_path == "/api"
    config.root_path = "/"
    assert config.root_path == ""


def test_cert_reqs_is_deprecated_and_sets_verify_mode() -> None:
    config = Config()
    with pytest.warns(DeprecationWarning, match="verify_mode"):
        config.cert_reqs = ssl.CERT_REQUIRED
    assert config.verify_mode is ssl.VerifyMode.CERT_REQUIRED
    with pytest.raises(AttributeError):
        _ = config.cert_reqs


def test_ssl_enabled_needs_certfile_and_keyfile() -> None:
    def enabled(config: Config) -> bool:
        return config.ssl_enabled

    config = Config()
    assert not enabled(config)
    config.certfile = "cert.pem"
    assert not enabled(config)
    config.keyfile = "key.pem"
    assert enabled(config)
    config.certfile = None
    assert not enabled(config)


@pytest.mark.parametrize("worker_class", BACKENDS)
def test_worker_class_accepts_known_values(worker_class: str) -> None:
    config = Config()
    config.worker_class = worker_class
    assert config.worker_class == worker_class


def test_worker_class_rejects_unknown_values() -> None:
    config = Config()
    with pytest.raises(ValueError, match="asyncio, uvloop, trio") as info:
        config.worker_class = "gevent"
    assert "'gevent'" in str(info.value)
    assert config.worker_class == "asyncio"


def test_http_parser_rejects_unknown_values() -> None:
    config = Config()
    with pytest.raises(ConfigError, match="auto, h11, httptools"):
        config.http_parser = "picohttp"
    assert config.http_parser == "auto"


def test_http_parser_httptools_without_httptools_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'hypercorn\[fast\]'"):
        Config.from_mapping(http_parser="httptools")
    assert Config.from_mapping(http_parser="auto").http_parser == "auto"


def test_log_is_created_lazily_and_cached() -> None:
    config = Config()
    assert "_log" not in vars(config)
    log = config.log
    assert isinstance(log, Logger)
    assert config.log is log


def test_set_statsd_logger_class() -> None:
    class StatsdLogger(Logger):
        pass

    config = Config()
    config.set_statsd_logger_class(StatsdLogger)
    assert config.logger_class is Logger  # no statsd_host
    config.statsd_host = "localhost:8125"
    config.set_statsd_logger_class(StatsdLogger)
    assert config.logger_class is StatsdLogger

    class Custom(Logger):
        pass

    custom = Config()
    custom.statsd_host = "localhost:8125"
    custom.logger_class = Custom
    custom.set_statsd_logger_class(StatsdLogger)
    assert custom.logger_class is Custom


# -- response headers ------------------------------------------------------------------------


def test_http_date_format() -> None:
    assert http_date(5000) == b"Thu, 01 Jan 1970 01:23:20 GMT"
    assert http_date(1_700_000_000.9) == b"Tue, 14 Nov 2023 22:13:20 GMT"
    assert http_date(1_700_000_001) == b"Tue, 14 Nov 2023 22:13:21 GMT"


def test_response_headers_default() -> None:
    assert Config().response_headers("h11", now=5000) == [
        (b"date", b"Thu, 01 Jan 1970 01:23:20 GMT"),
        (b"server", b"hypercorn-h11"),
    ]


def test_response_headers_reads_the_clock_without_now() -> None:
    headers = dict(Config().response_headers("h2"))
    assert headers[b"date"].endswith(b" GMT")
    assert len(headers[b"date"]) == 29
    assert headers[b"server"] == b"hypercorn-h2"


def test_response_headers_options() -> None:
    config = Config()
    config.include_date_header = False
    config.include_server_header = False
    assert config.response_headers("h3") == []
    config.alt_svc_headers = ['h3=":443"; ma=3600', 'h2=":443"']
    assert config.response_headers("h3") == [
        (b"alt-svc", b'h3=":443"; ma=3600'),
        (b"alt-svc", b'h2=":443"'),
    ]


# -- loaders -------------------------------------------------------------------------------


def test_from_mapping_sets_every_option() -> None:
    config = Config.from_mapping(GOOD_VALUES)
    for name, value in GOOD_VALUES.items():
        expected = value.rstrip("/") if name == "root_path" else value
        assert getattr(config, name) == expected, name


def test_from_mapping_kwargs_win() -> None:
    config = Config.from_mapping({"backlog": 1, "workers": 2}, workers=3)
    assert config.backlog == 1
    assert config.workers == 3


def test_from_mapping_wraps_bind_string_and_strips_root_path() -> None:
    config = Config.from_mapping(bind="0.0.0.0:80", root_path="/x/")
    assert config.bind == ["0.0.0.0:80"]
    assert config.root_path == "/x"


def test_from_mapping_cert_reqs_warns() -> None:
    with pytest.warns(DeprecationWarning, match="cert_reqs is deprecated"):
        config = Config.from_mapping(cert_reqs=2)
    assert config.verify_mode is ssl.VerifyMode.CERT_REQUIRED


def test_from_mapping_skips_read_only_names() -> None:
    config = Config.from_mapping(ssl_enabled=True, log=None)
    assert not config.ssl_enabled


def test_unknown_key_warns_with_suggestion_and_is_ignored() -> None:
    with pytest.warns(ConfigWarning) as record:
        config = Config.from_mapping(keep_alive_timout=10)
    assert len(record) == 1
    assert str(record[0].message) == (
        "unknown config option 'keep_alive_timout' ignored; did you mean 'keep_alive_timeout'?"
    )
    assert record[0].filename == __file__
    assert config.keep_alive_timeout == 5.0
    assert not hasattr(config, "keep_alive_timout")


def test_unknown_key_without_close_match() -> None:
    with pytest.warns(ConfigWarning, match=r"^unknown config option 'zzzzzz' ignored$"):
        Config.from_mapping(zzzzzz=1)


def test_config_warning_is_a_user_warning() -> None:
    assert issubclass(ConfigWarning, UserWarning)
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("keep_alive_timeout", "10", "a number"),
        ("keep_alive_timeout", None, "a number"),
        ("graceful_timeout", True, "a number"),
        ("backlog", 1.5, "an integer"),
        ("backlog", True, "an integer"),
        ("workers", "2", "an integer"),
        ("max_requests", "10", "an integer or None"),
        ("debug", "yes", "a boolean"),
        ("debug", 1, "a boolean"),
        ("bind", 8000, "a string or a list of strings"),
        ("bind", ["a:1", 2], "a string or a list of strings"),
        ("server_names", "example.com", "a list of strings"),
        ("alpn_protocols", [b"h2"], "a list of strings"),
        ("certfile", 1, "a string or None"),
        ("ciphers", None, "a string"),
        ("accesslog", 1, "a string (path or '-') or a logging.Logger or None"),
        ("logconfig_dict", [1], "a table/dict or None"),
        ("logger_class", "Logger", "a class"),
        ("verify_mode", "CERT_SOMETIMES", "an ssl.VerifyMode, its name or an integer or None"),
        ("verify_mode", 99, "an ssl.VerifyMode, its name or an integer or None"),
        ("verify_flags", 1.5, "an ssl.VerifyFlags, its name or an integer or None"),
    ],
)
def test_wrong_type_raises_config_error(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_mapping({key: value})
    message = str(info.value)
    assert message == (
        f"invalid value for {key}: expected {expected}, got {value!r} ({type(value).__name__})"
    )
    assert "\n" not in message


def test_long_values_are_shortened_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_mapping(backlog="x" * 500)
    assert len(str(info.value)) < 150


def test_int_accepted_for_float_and_none_where_allowed() -> None:
    config = Config.from_mapping(
        keep_alive_timeout=10, read_timeout=None, websocket_ping_interval=None, max_requests=None
    )
    assert config.keep_alive_timeout == 10
    assert config.read_timeout is None


def test_worker_class_from_mapping_names_valid_values() -> None:
    with pytest.raises(ConfigError, match="expected one of asyncio, uvloop, trio"):
        Config.from_mapping(worker_class="threads")


def test_loglevel_is_checked() -> None:
    assert Config.from_mapping(loglevel="warning").loglevel == "warning"
    with pytest.raises(ConfigError, match="loglevel"):
        Config.from_mapping(loglevel="LOUD")


def test_verify_enums_from_names_and_ints() -> None:
    config = Config.from_mapping(verify_mode="CERT_OPTIONAL", verify_flags=0x20)
    assert config.verify_mode is ssl.VerifyMode.CERT_OPTIONAL
    assert config.verify_flags == ssl.VerifyFlags.VERIFY_X509_STRICT
    assert isinstance(config.verify_flags, ssl.VerifyFlags)
    config = Config.from_mapping(verify_mode=2, verify_flags="VERIFY_CRL_CHECK_LEAF")
    assert config.verify_mode is ssl.VerifyMode.CERT_REQUIRED
    assert config.verify_flags == ssl.VerifyFlags.VERIFY_CRL_CHECK_LEAF


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "hypercorn.toml"
    path.write_text(
        textwrap.dedent(
            """
            bind = ["0.0.0.0:80", "unix:/tmp/h.sock"]
            insecure_bind = "127.0.0.1:8080"
            keep_alive_timeout = 10
            graceful_timeout = 0.5
            workers = 3
            worker_class = "trio"
            root_path = "/api/"
            umask = 0o22
            alpn_protocols = ["h2"]

            [logconfig_dict]
            version = 1
            """
        )
    )
    config = Config.from_toml(path)
    assert config.bind == ["0.0.0.0:80", "unix:/tmp/h.sock"]
    assert config.insecure_bind == ["127.0.0.1:8080"]
    assert config.keep_alive_timeout == 10
    assert config.graceful_timeout == 0.5
    assert config.workers == 3
    assert config.worker_class == "trio"
    assert config.root_path == "/api"
    assert config.umask == 0o22
    assert config.alpn_protocols == ["h2"]
    assert config.logconfig_dict == {"version": 1}
    assert Config.from_toml(str(path)).workers == 3


def test_from_toml_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        Config.from_toml(path)
    assert str(info.value) == f"cannot load config file {path}: file not found"


def test_from_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('workers = 2\nbind = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        Config.from_toml(path)
    message = str(info.value)
    assert message.startswith(f"cannot load config file {path}: ")
    assert "line 2" in message
    assert "column" in message
    assert "\n" not in message


def test_from_toml_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "types.toml"
    path.write_text('workers = "four"\n')
    with pytest.raises(ConfigError, match=r"^invalid value for workers: expected an integer"):
        Config.from_toml(path)


def test_from_toml_unknown_key_warns(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("worker = 2\n")
    with pytest.warns(ConfigWarning, match="'worker' ignored; did you mean 'workers'"):
        config = Config.from_toml(path)
    assert config.workers == 1


def test_from_pyfile(tmp_path: Path) -> None:
    path = tmp_path / "conf.py"
    path.write_text(
        textwrap.dedent(
            """
            import os
            from collections import OrderedDict
            from hypercorn_protocol.server.logging import Logger

            class MyLogger(Logger):
                pass

            def helper():
                return 5

            _private = "ignored"
            bind = "0.0.0.0:" + str(8000 + helper())
            keep_alive_timeout = helper()
            logger_class = MyLogger
            """
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # helpers and imports must not warn
        config = Config.from_pyfile(path)
    assert config.bind == ["0.0.0.0:8005"]
    assert config.keep_alive_timeout == 5
    assert config.logger_class.__name__ == "MyLogger"


def test_from_pyfile_unknown_data_key_warns(tmp_path: Path) -> None:
    path = tmp_path / "conf.py"
    path.write_text("graceful_timout = 1\n")
    with pytest.warns(ConfigWarning, match="did you mean 'graceful_timeout'"):
        Config.from_pyfile(path)


def test_from_pyfile_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.py"
    with pytest.raises(ConfigError, match=r"nope\.py: file not found$"):
        Config.from_pyfile(path)


def test_from_object_with_class_and_instance() -> None:
    class Settings:
        workers = 4
        bind = "0.0.0.0:1"

    assert Config.from_object(Settings).workers == 4
    settings = Settings()
    assert Config.from_object(settings).bind == ["0.0.0.0:1"]


def test_from_object_dotted_module_and_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_hyper_settings.py").write_text(
        "import sys\nworkers = 6\n\nclass Production:\n    workers = 8\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert Config.from_object("my_hyper_settings").workers == 6
        assert Config.from_object("my_hyper_settings.Production").workers == 8
        with pytest.raises(ConfigError, match="has no attribute 'Staging'"):
            Config.from_object("my_hyper_settings.Staging")
    finally:
        sys.modules.pop("my_hyper_settings", None)


def test_from_object_unimportable() -> None:
    with pytest.raises(ConfigError, match=r"cannot import config object 'no_such_mod_xyz\.conf'"):
        Config.from_object("no_such_mod_xyz.conf")
    with pytest.raises(ConfigError, match="cannot import config object 'no_such_mod_xyz'"):
        Config.from_object("no_such_mod_xyz")


# -- pickling --------------------------------------------------------------------------------


def test_pickle_round_trip_of_non_default_config() -> None:
    values = dict(GOOD_VALUES)
    values.update(logger_class=Logger, errorlog="-", logconfig=None, logconfig_dict=None)
    config = Config.from_mapping(values)
    config.alt_svc_headers.append('h2=":8443"')
    _ = config.log  # the cached logger must not travel
    clone = pickle.loads(pickle.dumps(config))
    assert option_values(clone) == option_values(config)
    assert clone.application_path == "app:app"
    assert clone.alt_svc_headers == ['h3=":443"', 'h2=":8443"']
    assert "_log" not in vars(clone)
    assert "_log" in vars(config)
    assert option_values(config) != option_values(Config())


def test_pickled_config_lists_are_independent() -> None:
    config = Config()
    clone = pickle.loads(pickle.dumps(config))
    clone.server_names.append("x")
    assert config.server_names == []


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_config(ca: trustme.CA, tmp_path: Path) -> Config:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile = tmp_path / "cert.pem"
    keyfile = tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(certfile), append=True)
    cert.private_key_pem.write_to_path(str(keyfile))
    config = Config()
    config.certfile = str(certfile)
    config.keyfile = str(keyfile)
    return config


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, hostname: str = "localhost"
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a TLS handshake in memory and return (server, client) objects."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    client_obj = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, obj in (("client", client_obj), ("server", server_obj)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return server_obj, client_obj
    raise AssertionError("handshake did not finish")


def test_no_ssl_context_without_cert_and_key() -> None:
    assert Config().create_ssl_context() is None


def test_ssl_context_settings(tls_config: Config) -> None:
    context = tls_config.create_ssl_context()
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION
    # The stdlib's safe defaults are kept, not replaced.
    default = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert context.options & default.options == default.options
    assert context.verify_mode == ssl.CERT_NONE
    tls12_ciphers = {c["name"] for c in context.get_ciphers() if not c["name"].startswith("TLS_")}
    assert tls12_ciphers
    assert all(name.startswith("ECDHE-") and "-GCM-" in name for name in tls12_ciphers)


def test_ssl_context_handshake_negotiates_alpn(tls_config: Config, ca: trustme.CA) -> None:
    server = tls_config.create_ssl_context()
    assert server is not None
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(["h2", "http/1.1"])
    server_obj, client_obj = handshake(server, client)
    assert server_obj.selected_alpn_protocol() == "h2"
    assert client_obj.version() in {"TLSv1.2", "TLSv1.3"}


def test_ssl_context_alpn_option(tls_config: Config, ca: trustme.CA) -> None:
    tls_config.alpn_protocols = ["http/1.1"]
    server = tls_config.create_ssl_context()
    assert server is not None
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(["h2", "http/1.1"])
    server_obj, _ = handshake(server, client)
    assert server_obj.selected_alpn_protocol() == "http/1.1"


def test_ssl_context_rejects_tls_1_1_clients(tls_config: Config, ca: trustme.CA) -> None:
    server = tls_config.create_ssl_context()
    assert server is not None
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 itself is deprecated
        client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        client.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        handshake(server, client)


def test_ssl_context_client_certificates(
    tls_config: Config, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls_config.ca_certs = str(ca_file)
    tls_config.verify_mode = ssl.VerifyMode.CERT_REQUIRED
    tls_config.verify_flags = ssl.VerifyFlags.VERIFY_X509_STRICT
    server = tls_config.create_ssl_context()
    assert server is not None
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert server.verify_flags & ssl.VERIFY_X509_STRICT

    client = ssl.create_default_context()
    ca.configure_trust(client)
    ca.issue_cert("client@example.com").configure_cert(client)
    server_obj, _ = handshake(server, client)
    peer = server_obj.getpeercert()
    assert peer is not None
    assert peer["subjectAltName"] == (("email", "client@example.com"),)


def test_ssl_context_encrypted_key(tls_config: Config, ca: trustme.CA) -> None:
    assert tls_config.keyfile is not None
    key_path = Path(tls_config.keyfile)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    tls_config.keyfile_password = "s3cret"
    assert tls_config.create_ssl_context() is not None

    tls_config.keyfile_password = "wrong"
    with pytest.raises(ConfigError) as info:
        tls_config.create_ssl_context()
    message = str(info.value)
    assert str(key_path) in message
    assert "keyfile_password" in message
    assert "\n" not in message

    tls_config.keyfile_password = None  # must fail, not prompt on the terminal
    with pytest.raises(ConfigError, match="keyfile_password"):
        tls_config.create_ssl_context()


def test_ssl_context_missing_files(tls_config: Config, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    tls_config.keyfile = str(missing)
    with pytest.raises(ConfigError) as info:
        tls_config.create_ssl_context()
    assert str(info.value) == f"cannot load TLS key file {missing}: file not found"
    tls_config.certfile = str(missing)
    with pytest.raises(ConfigError, match=r"certificate file .*missing\.pem: file not found"):
        tls_config.create_ssl_context()


def test_ssl_context_garbage_certificate(tls_config: Config, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    tls_config.certfile = str(bad)
    with pytest.raises(ConfigError) as info:
        tls_config.create_ssl_context()
    message = str(info.value)
    assert message.startswith(f"cannot load TLS certificate file {bad}")
    assert "\n" not in message


def test_ssl_context_bad_ca_and_ciphers(tls_config: Config, tmp_path: Path) -> None:
    tls_config.ca_certs = str(tmp_path / "no-ca.pem")
    with pytest.raises(ConfigError, match=r"^cannot load TLS CA file .*no-ca\.pem"):
        tls_config.create_ssl_context()
    tls_config.ca_certs = None
    tls_config.ciphers = "NOT-A-CIPHER"
    with pytest.raises(ConfigError, match="invalid ciphers 'NOT-A-CIPHER'"):
        tls_config.create_ssl_context()


# -- lazy re-exports -------------------------------------------------------------------------


def test_binding_names_are_reexported() -> None:
    import hypercorn_protocol.config as config_module
    from hypercorn_protocol.server import binding

    assert config_module.Sockets is binding.Sockets
    assert config_module.SocketTypeError is binding.SocketTypeError
    assert config_module.BindError is binding.BindError
    with pytest.raises(AttributeError):
        _ = config_module.NotThere


def test_ssl_context_key_problems(tls_config: Config, ca: trustme.CA, tmp_path: Path) -> None:
    assert tls_config.keyfile is not None
    garbage = tmp_path / "garbage-key.pem"
    garbage.write_text("nope\n")
    original_key = tls_config.keyfile
    tls_config.keyfile = str(garbage)
    with pytest.raises(ConfigError) as info:
        tls_config.create_ssl_context()
    assert str(info.value) == f"cannot load TLS key file {garbage}: no PEM private key found"

    other_key = tmp_path / "other-key.pem"
    ca.issue_cert("other.example").private_key_pem.write_to_path(str(other_key))
    tls_config.keyfile = str(other_key)
    with pytest.raises(ConfigError) as info:
        tls_config.create_ssl_context()
    message = str(info.value)
    assert message.startswith(
        f"cannot load TLS certificate file {tls_config.certfile} with key file {other_key}: "
    )
    assert "\n" not in message
    tls_config.keyfile = original_key
    assert tls_config.create_ssl_context() is not None


def test_from_toml_reads_the_tool_hypercorn_table_of_a_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.hypercorn]\nbind = ["127.0.0.1:9999"]\nbacklog = 7\n')
    config = Config.from_toml(pyproject)
    assert config.bind == ["127.0.0.1:9999"]
    assert config.backlog == 7
    pyproject.write_text("[tool.other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"no \[tool.hypercorn\] table"):
        Config.from_toml(pyproject)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("proxy_allow_ips", ["10.0.0.1/8"], r"'10\.0\.0\.1/8' \(host bits set\)"),
        ("proxy_allow_ips", ["proxy.example"], r"'proxy\.example' \(not an IP or network\)"),
        ("metrics_bind", "9100", "metrics_bind: expected HOST:PORT"),
        ("metrics_bind", "localhost:http", "metrics_bind: expected HOST:PORT"),
    ],
)
def test_proxy_and_metrics_values_are_checked(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping({key: value})
