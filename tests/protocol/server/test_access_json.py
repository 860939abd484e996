"""Tests for the JSON access-log format (``access_log_json``)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Coroutine, Iterator
from datetime import datetime
from typing import Any

import pytest

from hypercorn_protocol.config import Config
from hypercorn_protocol.server.logging import AccessLogAtoms, Logger, access_json
from hypercorn_protocol.typing import ASGIScope


@pytest.fixture(autouse=True)
def _reset_access_logger() -> Iterator[None]:
    yield
    logger = logging.getLogger("hypercorn.access")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    with pytest.raises(StopIteration):
        coroutine.send(None)


SCOPE: ASGIScope = {
    "type": "http",
    "http_version": "2",
    "method": "POST",
    "scheme": "https",
    "path": "/items",
    "query_string": b"page=2",
    "headers": [(b"user-agent", b"curl/8"), (b"referer", b"https://a/")],
    "client": ("192.0.2.1", 4242),
}
RESPONSE = {"status": 201, "headers": [(b"content-length", b"17")]}


def test_record_has_readable_keys_and_typed_values() -> None:
    record = json.loads(access_json(AccessLogAtoms(SCOPE, RESPONSE, 0.0125)))

    assert datetime.fromisoformat(record.pop("time")).tzinfo is not None
    assert record == {
        "client": "192.0.2.1:4242",
        "request": "POST /items 2",
        "method": "POST",
        "scheme": "https",
        "path": "/items",
        "query": "page=2",
        "protocol": "2",
        "status": 201,
        "bytes": 17,
        "referer": "https://a/",
        "user_agent": "curl/8",
        "duration_us": 12500,
        "pid": os.getpid(),
    }


def test_missing_values_are_null() -> None:
    scope = dict(SCOPE, headers=[], client=None)

    record = json.loads(access_json(AccessLogAtoms(scope, None, 0.0)))

    for key in ("client", "status", "bytes", "referer", "user_agent"):
        assert record[key] is None


def test_awkward_text_stays_valid_json() -> None:
    scope = dict(SCOPE, path='/q"u\\ote\n', headers=[(b"user-agent", "é".encode("latin-1"))])

    record = json.loads(access_json(AccessLogAtoms(scope, RESPONSE, 0.0)))

    assert record["path"] == '/q"u\\ote\n'
    assert record["user_agent"] == "é"


def test_json_access_line_is_the_whole_line(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.accesslog = "-"
    config.errorlog = None
    config.access_log_json = True

    run(Logger(config).access(SCOPE, RESPONSE, 0.5))

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["status"] == 201


def test_text_format_is_unchanged_when_json_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.accesslog = "-"
    config.errorlog = None

    run(Logger(config).access(SCOPE, RESPONSE, 0.5))

    out = capsys.readouterr().out
    assert '"POST /items 2" 201 17' in out
    assert not out.startswith("{")


def test_option_loads_from_a_mapping() -> None:
    assert Config.from_mapping(access_log_json=True).access_log_json is True
    assert Config().access_log_json is False
