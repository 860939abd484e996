"""Tests for hypercorn_protocol.server.logging: logger targets, levels, logconfig, access atoms."""

from __future__ import annotations

import json
import logging
import os
import re
import textwrap
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from hypercorn_protocol.config import Config, ConfigError
from hypercorn_protocol.server.logging import AccessLogAtoms, Logger
from hypercorn_protocol.typing import ASGIScope
from tests.helpers.logging import ListHandler

LOGGER_NAMES = ("hypercorn.access", "hypercorn.error")


@pytest.fixture(autouse=True)
def _reset_hypercorn_loggers() -> Iterator[None]:
    yield
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        logger.disabled = False


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Drive a Logger coroutine to completion; it never awaits, so no event loop is needed."""
    with pytest.raises(StopIteration):
        coroutine.send(None)


def capturing_logger(name: str) -> tuple[logging.Logger, list[logging.LogRecord]]:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    return logger, handler.records


def http_scope(**overrides: Any) -> ASGIScope:
    scope: ASGIScope = {
        "type": "http",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/some/path",
        "raw_path": b"/some/path",
        "query_string": b"a=b&c=d",
        "root_path": "",
        "headers": [
            (b"host", b"example.com"),
            (b"User-Agent", b"Hypercorn-Test/1.0"),
            (b"referer", b"https://example.com/from"),
            (b"x-custom", b"Value"),
        ],
        "client": ("127.0.0.1", 51234),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return scope


RESPONSE = {
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"Content-Length", b"13")],
}


# -- targets and levels -----------------------------------------------------------------------


def test_default_config_logs_errors_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    logger = Logger(Config())
    assert logger.access_logger is None
    assert logger.error_logger is logging.getLogger("hypercorn.error")
    run(logger.info("hello %s", "world"))
    run(logger.access(http_scope(), RESPONSE, 0.1))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(
        r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] hello world\n",
        captured.err,
    ), captured.err


def test_dash_access_log_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.accesslog = "-"
    config.errorlog = None
    logger = Logger(config)
    assert logger.error_logger is None
    run(logger.access(http_scope(), RESPONSE, 0.1))
    run(logger.error("not shown"))
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"[{os.getpid()}] [INFO] 127.0.0.1:51234 - - [" in captured.out
    assert captured.out.endswith(
        '"GET /some/path 1.1" 200 13 "https://example.com/from" "Hypercorn-Test/1.0"\n'
    )


def test_file_targets(tmp_path: Path) -> None:
    config = Config()
    config.accesslog = str(tmp_path / "access.log")
    config.errorlog = str(tmp_path / "error.log")
    logger = Logger(config)
    run(logger.access(http_scope(), RESPONSE, 0.1))
    run(logger.warning("careful"))
    for name in LOGGER_NAMES:
        for handler in logging.getLogger(name).handlers:
            handler.flush()
    access = (tmp_path / "access.log").read_text()
    error = (tmp_path / "error.log").read_text()
    assert '"GET /some/path 1.1" 200 13' in access
    assert "careful" not in access
    assert "[WARNING] careful" in error
    assert "GET" not in error


def test_new_logger_replaces_and_closes_its_old_handlers(tmp_path: Path) -> None:
    config = Config()
    config.errorlog = str(tmp_path / "first.log")
    Logger(config)
    first_handlers = list(logging.getLogger("hypercorn.error").handlers)
    config.errorlog = str(tmp_path / "second.log")
    Logger(config)
    handlers = logging.getLogger("hypercorn.error").handlers
    assert len(handlers) == 1
    assert handlers[0] not in first_handlers
    assert isinstance(first_handlers[0], logging.FileHandler)
    assert first_handlers[0].stream is None  # closed


def test_logger_instance_is_used_as_is() -> None:
    access, access_records = capturing_logger("custom.access")
    error, error_records = capturing_logger("custom.error")
    config = Config()
    config.accesslog = access
    config.errorlog = error
    logger = Logger(config)
    assert logger.access_logger is access
    assert logger.error_logger is error
    assert access.level == logging.DEBUG  # untouched by loglevel
    run(logger.access(http_scope(), RESPONSE, 0.1))
    run(logger.debug("dbg %d", 1))
    assert [r.getMessage() for r in error_records] == ["dbg 1"]
    assert len(access_records) == 1
    for name in ("custom.access", "custom.error"):
        logging.getLogger(name).handlers.clear()


def test_access_log_line_matches_hypercorn_default_format() -> None:
    access, records = capturing_logger("custom.access.format")
    config = Config()
    config.accesslog = access
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    access.handlers.clear()
    (record,) = records
    assert record.levelno == logging.INFO
    assert re.fullmatch(
        r"127\.0\.0\.1:51234 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"GET /some/path 1\.1" 200 13 "https://example\.com/from" "Hypercorn-Test/1\.0"',
        record.getMessage(),
    ), record.getMessage()


def test_custom_access_log_format() -> None:
    access, records = capturing_logger("custom.access.fmt2")
    config = Config()
    config.accesslog = access
    config.access_log_format = (
        "%(m)s %(Uq)s %(s)s %(st)s %({x-custom}i)s %({content-type}o)s %(zz)s"
    )
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    access.handlers.clear()
    assert records[0].getMessage() == "GET /some/path?a=b&c=d 200 OK Value text/plain -"


@pytest.mark.parametrize(
    ("loglevel", "info_shown", "warning_shown"),
    [
        ("DEBUG", True, True),
        ("info", True, True),
        ("WARNING", False, True),
        ("ERROR", False, False),
    ],
)
def test_loglevel_applies_to_both_loggers(
    capsys: pytest.CaptureFixture[str], loglevel: str, info_shown: bool, warning_shown: bool
) -> None:
    config = Config()
    config.accesslog = "-"
    config.loglevel = loglevel
    logger = Logger(config)
    run(logger.info("info-line"))
    run(logger.warning("warning-line"))
    run(logger.access(http_scope(), RESPONSE, 0.1))
    captured = capsys.readouterr()
    assert ("info-line" in captured.err) is info_shown
    assert ("warning-line" in captured.err) is warning_shown
    assert ("GET /some/path" in captured.out) is info_shown


def test_invalid_loglevel() -> None:
    config = Config()
    config.loglevel = "CHATTY"
    with pytest.raises(ConfigError, match="CHATTY"):
        Logger(config)


def test_access_logger_does_not_propagate() -> None:
    config = Config()
    config.accesslog = "-"
    Logger(config)
    assert logging.getLogger("hypercorn.access").propagate is False
    assert logging.getLogger("hypercorn.error").propagate is True


def test_all_error_methods(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.loglevel = "DEBUG"
    logger = Logger(config)
    run(logger.critical("c-%s", 1))
    run(logger.error("e-%s", 2))
    run(logger.warning("w-%s", 3))
    run(logger.info("i-%s", 4))
    run(logger.debug("d-%s", 5))
    run(logger.log(logging.WARNING, "l-%s", 6))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        run(logger.exception("x-%s", 7))
    err = capsys.readouterr().err
    for level, text in [
        ("CRITICAL", "c-1"),
        ("ERROR", "e-2"),
        ("WARNING", "w-3"),
        ("INFO", "i-4"),
        ("DEBUG", "d-5"),
        ("WARNING", "l-6"),
        ("ERROR", "x-7"),
    ]:
        assert f"[{level}] {text}\n" in err
    assert "RuntimeError: boom" in err


def test_methods_are_coroutines() -> None:
    logger = Logger(Config())
    coroutine = logger.info("x")
    assert isinstance(coroutine, Coroutine)
    coroutine.close()


def test_unknown_attributes_delegate_to_error_logger() -> None:
    logger = Logger(Config())
    assert logger.level == logging.INFO
    assert logger.isEnabledFor(logging.INFO)
    assert logger.name == "hypercorn.error"
    config = Config()
    config.errorlog = None
    with pytest.raises(AttributeError):
        _ = Logger(config).level


def test_access_enabled() -> None:
    assert not Logger(Config()).access_enabled
    config = Config()
    config.accesslog = "-"
    assert Logger(config).access_enabled

    class CountingLogger(Logger):
        count = 0

        async def access(self, request: ASGIScope, response: Any, request_time: float) -> None:
            self.count += 1

    assert CountingLogger(Config()).access_enabled


# -- logconfig -------------------------------------------------------------------------------


def dict_config(target: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "CFG %(name)s %(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": target, "formatter": "plain"}
        },
        "loggers": {
            "hypercorn.access": {"handlers": ["file"], "level": "INFO", "propagate": False}
        },
    }


def flush_and_read(path: Path) -> str:
    for handler in logging.getLogger("hypercorn.access").handlers:
        handler.flush()
    return path.read_text()


def test_logconfig_dict_configures_access_log(tmp_path: Path) -> None:
    config = Config()
    config.logconfig_dict = dict_config(str(tmp_path / "out.log"))
    logger = Logger(config)
    assert logger.access_logger is logging.getLogger("hypercorn.access")
    assert logger.access_enabled
    run(logger.access(http_scope(), RESPONSE, 0.1))
    assert flush_and_read(tmp_path / "out.log").startswith(
        "CFG hypercorn.access 127.0.0.1:51234 - - ["
    )


def test_logconfig_json(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(json.dumps(dict_config(str(tmp_path / "out.log"))))
    config = Config()
    config.logconfig = f"json:{tmp_path / 'log.json'}"
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    assert '"GET /some/path 1.1" 200' in flush_and_read(tmp_path / "out.log")


def test_logconfig_toml(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    (tmp_path / "log.toml").write_text(
        textwrap.dedent(
            f"""
            version = 1
            disable_existing_loggers = false
            [formatters.plain]
            format = "TOML %(message)s"
            [handlers.file]
            class = "logging.FileHandler"
            filename = "{out}"
            formatter = "plain"
            [loggers."hypercorn.access"]
            handlers = ["file"]
            level = "INFO"
            propagate = false
            """
        )
    )
    config = Config()
    config.logconfig = f"toml:{tmp_path / 'log.toml'}"
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    assert flush_and_read(out).startswith("TOML 127.0.0.1:51234")


def test_logconfig_ini(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    (tmp_path / "log.ini").write_text(
        textwrap.dedent(
            """
            [loggers]
            keys = root,access

            [handlers]
            keys = file

            [formatters]
            keys = plain

            [logger_root]
            handlers =

            [logger_access]
            qualname = hypercorn.access
            handlers = file
            level = INFO
            propagate = 0

            [handler_file]
            class = FileHandler
            formatter = plain
            args = ('%(here)s/out.log',)

            [formatter_plain]
            format = INI %(message)s
            """
        )
    )
    config = Config()
    config.logconfig = str(tmp_path / "log.ini")
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    assert flush_and_read(out).startswith("INI 127.0.0.1:51234")


def test_logconfig_dict_keeps_existing_loggers_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = Config()
    config.logconfig_dict = {"version": 1}
    logger = Logger(config)
    run(logger.info("still here"))
    assert "still here" in capsys.readouterr().err
    config.logconfig_dict = {"version": 1, "disable_existing_loggers": True}
    logger = Logger(config)
    run(logger.info("silenced"))
    assert "silenced" not in capsys.readouterr().err


def test_logconfig_wins_over_logconfig_dict(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(json.dumps(dict_config(str(tmp_path / "json.log"))))
    config = Config()
    config.logconfig = f"json:{tmp_path / 'log.json'}"
    config.logconfig_dict = dict_config(str(tmp_path / "dict.log"))
    run(Logger(config).access(http_scope(), RESPONSE, 0.1))
    assert flush_and_read(tmp_path / "json.log")
    assert not (tmp_path / "dict.log").exists()


# -- atoms -----------------------------------------------------------------------------------


def test_atoms_for_a_typical_request() -> None:
    atoms = AccessLogAtoms(http_scope(), RESPONSE, 1.234567)
    expected = {
        "h": "127.0.0.1:51234",
        "l": "-",
        "u": "-",
        "r": "GET /some/path 1.1",
        "R": "GET /some/path?a=b&c=d 1.1",
        "s": "200",
        "st": "OK",
        "S": "https",
        "m": "GET",
        "U": "/some/path",
        "Uq": "/some/path?a=b&c=d",
        "q": "a=b&c=d",
        "H": "1.1",
        "b": "13",
        "B": "13",
        "f": "https://example.com/from",
        "a": "Hypercorn-Test/1.0",
        "T": "1",
        "D": "1234567",
        "L": "1.234567",
        "p": f"<{os.getpid()}>",
    }
    for key, value in expected.items():
        assert atoms[key] == value, key
    assert re.fullmatch(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", atoms["t"])


def test_header_atoms_are_case_insensitive() -> None:
    atoms = AccessLogAtoms(http_scope(), RESPONSE, 0)
    assert atoms["{X-Custom}i"] == "Value"
    assert atoms["{x-custom}i"] == "Value"
    assert atoms["{user-agent}i"] == "Hypercorn-Test/1.0"
    assert atoms["{content-length}o"] == "13"
    assert atoms["{CONTENT-TYPE}o"] == "text/plain"
    assert atoms["{missing}i"] == "-"
    assert atoms["{missing}o"] == "-"
    # %-formatting is what the access log uses
    assert "%({X-Custom}i)s|%(nope)s" % atoms == "Value|-"  # noqa: UP031


def test_unknown_atoms_render_dash() -> None:
    atoms = AccessLogAtoms(http_scope(), RESPONSE, 0)
    assert atoms["nope"] == "-"
    assert atoms["{bad"] == "-"


def test_environment_atoms_are_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERCORN_TEST_VAR", "from-env")
    atoms = AccessLogAtoms(http_scope(), RESPONSE, 0)
    assert not any(key.endswith("}e") for key in atoms)  # nothing copied up front
    assert atoms["{HYPERCORN_TEST_VAR}e"] == "from-env"
    assert atoms["{hypercorn_test_var}e"] == "from-env"
    assert atoms["{HYPERCORN_NOT_SET_VAR}e"] == "-"
    monkeypatch.setenv("HYPERCORN_TEST_VAR", "changed")
    assert atoms["{HYPERCORN_TEST_VAR}e"] == "changed"


def test_atoms_without_response() -> None:
    atoms = AccessLogAtoms(http_scope(), None, 0)
    assert atoms["s"] == "-"
    assert atoms["st"] == "-"
    assert atoms["b"] == "-"
    assert atoms["{content-type}o"] == "-"


def test_non_standard_status() -> None:
    atoms = AccessLogAtoms(http_scope(), {"status": 599, "headers": []}, 0)
    assert atoms["s"] == "599"
    assert atoms["st"] == "<???599???>"


def test_websocket_scope_atoms() -> None:
    scope = http_scope(type="websocket", scheme="wss", http_version="2")
    del scope["method"]
    atoms = AccessLogAtoms(scope, {"status": 101, "headers": []}, 0)
    assert atoms["m"] == "GET"
    assert atoms["r"] == "GET /some/path 2"
    assert atoms["H"] == "2"
    assert atoms["st"] == "Switching Protocols"
    del scope["http_version"]
    assert AccessLogAtoms(scope, None, 0)["H"] == "ws"


def test_client_forms() -> None:
    assert AccessLogAtoms(http_scope(client=None), None, 0)["h"] == "-"
    assert AccessLogAtoms(http_scope(client=("::1", 80)), None, 0)["h"] == "::1:80"
    assert AccessLogAtoms(http_scope(client=["10.0.0.1"]), None, 0)["h"] == "10.0.0.1"


def test_atoms_method_can_be_overridden() -> None:
    access, records = capturing_logger("custom.access.atoms")

    class ExtraLogger(Logger):
        def atoms(self, request: ASGIScope, response: Any, request_time: float) -> dict[str, str]:
            atoms = dict(AccessLogAtoms(request, response, request_time))
            atoms["extra"] = "yes"
            return atoms

    config = Config()
    config.accesslog = access
    config.access_log_format = "%(s)s %(extra)s"
    run(ExtraLogger(config).access(http_scope(), RESPONSE, 0))
    access.handlers.clear()
    assert records[0].getMessage() == "200 yes"
