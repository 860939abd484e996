"""The response state machine is data (asgi.stream.RESPONSE_TRANSITIONS): both HTTP
versions accept exactly the messages its rows list, HTTP/1.1 without the extensions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hypercorn_protocol.asgi.stream import (
    EXTENSION_MESSAGES,
    RESPONSE_TRANSITIONS,
    ResponseState,
)
from hypercorn_protocol.errors import UnexpectedMessageError
from hypercorn_protocol.typing import Message
from tests.helpers.h2client import H2Harness
from tests.helpers.protocol import Harness, get

MESSAGES: dict[str, Message] = {
    "http.response.start": {"type": "http.response.start", "status": 200},
    "http.response.body": {"type": "http.response.body", "body": b"x", "more_body": True},
    "http.response.early_hint": {"type": "http.response.early_hint", "links": [b"</a>"]},
    "http.response.trailers": {"type": "http.response.trailers", "headers": []},
    "http.response.push": {"type": "http.response.push", "path": "/p", "headers": []},
    "http.response.unknown": {"type": "http.response.unknown"},
}
# the messages that bring a fresh stream into each state
REACH = {
    ResponseState.NONE: [],
    ResponseState.STARTED: ["http.response.start"],
    ResponseState.BODY: ["http.response.start", "http.response.body"],
}


def http11() -> Callable[[Message], object]:
    h = Harness()
    h.send_request(get())
    return lambda message: h.conn.app_send(1, message, h.now)


def http2() -> Callable[[Message], object]:
    h = H2Harness()
    stream_id = h.request("/", headers=[(b"te", b"trailers")])
    h.exchange()
    return lambda message: h.conn.app_send(stream_id, message, h.now)


@pytest.mark.parametrize(("protocol", "extensions"), [(http11, False), (http2, True)])
@pytest.mark.parametrize("state", list(REACH))
@pytest.mark.parametrize("kind", list(MESSAGES))
def test_each_state_accepts_what_its_row_lists(
    protocol: Callable[[], Callable[[Message], object]],
    extensions: bool,
    state: ResponseState,
    kind: str,
) -> None:
    send = protocol()
    for step in REACH[state]:
        send(MESSAGES[step])
    allowed = kind in RESPONSE_TRANSITIONS[state] and (extensions or kind not in EXTENSION_MESSAGES)
    if allowed:
        send(MESSAGES[kind])
    else:
        with pytest.raises(UnexpectedMessageError):
            send(MESSAGES[kind])


def test_the_rows_cover_every_state() -> None:
    assert set(RESPONSE_TRANSITIONS) == set(ResponseState)
