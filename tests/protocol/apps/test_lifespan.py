"""The lifespan state machine both drivers share, without a loop."""

from __future__ import annotations

import logging

import pytest

from hypercorn_protocol.apps.lifespan import LifespanProtocol
from hypercorn_protocol.errors import UnexpectedMessageError


def test_scope_shares_the_state_dict() -> None:
    state: dict[str, object] = {}
    scope = LifespanProtocol(state).scope()
    assert scope["type"] == "lifespan"
    assert scope["asgi"] == {"spec_version": "2.0", "version": "3.0"}
    assert scope["state"] is state


def test_complete_answers() -> None:
    protocol = LifespanProtocol({})
    protocol.app_sent({"type": "lifespan.startup.complete"})
    assert (protocol.startup_answered, protocol.shutdown_answered) == (True, False)
    protocol.app_sent({"type": "lifespan.shutdown.complete"})
    assert (protocol.startup_answered, protocol.shutdown_answered) == (True, True)
    assert protocol.startup_failure is None and protocol.shutdown_failure is None


def test_failed_answers_keep_the_message() -> None:
    protocol = LifespanProtocol({})
    protocol.app_sent({"type": "lifespan.startup.failed", "message": "no database"})
    assert protocol.startup_answered
    assert protocol.startup_failure == "no database"
    protocol.app_sent({"type": "lifespan.shutdown.failed"})
    assert protocol.shutdown_failure == ""


def test_unknown_message_names_the_stage() -> None:
    protocol = LifespanProtocol({})
    with pytest.raises(UnexpectedMessageError, match="startup"):
        protocol.app_sent({"type": "http.response.start"})
    protocol.app_sent({"type": "lifespan.startup.complete"})
    with pytest.raises(UnexpectedMessageError, match="shutdown"):
        protocol.app_sent({"type": "lifespan.bogus"})


def test_error_before_startup_means_lifespan_unsupported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    protocol = LifespanProtocol({})
    with caplog.at_level(logging.WARNING, logger="hypercorn.error"):
        protocol.app_ended(AssertionError("http only"))
    assert not protocol.supported
    assert protocol.startup_answered and protocol.shutdown_answered  # nobody waits on
    assert "does not support lifespan (AssertionError: http only" in caplog.text


def test_error_after_startup_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    protocol = LifespanProtocol({})
    protocol.app_sent({"type": "lifespan.startup.complete"})
    with caplog.at_level(logging.ERROR, logger="hypercorn.error"):
        protocol.app_ended(RuntimeError("late"))
    assert protocol.supported
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert str(record.exc_info[1]) == "late"


def test_unexpected_message_escaping_before_startup_is_fatal() -> None:
    protocol = LifespanProtocol({})
    error = UnexpectedMessageError("lifespan startup", "http.response.start")
    protocol.app_ended(error)
    assert protocol.fatal_error is error
    assert protocol.supported


def test_returning_ends_both_stages() -> None:
    protocol = LifespanProtocol({})
    protocol.app_ended(None)
    assert protocol.startup_answered and protocol.shutdown_answered
    assert protocol.supported and protocol.fatal_error is None
