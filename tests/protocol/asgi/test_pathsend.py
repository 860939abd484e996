"""``http.response.pathsend`` in the core: what it decides, with no file and no socket.

The driver's part (opening, reading, ``os.sendfile``) is played by the test: it
reports a size, then hands bytes in or says it sent them itself.
"""

from __future__ import annotations

import h11
import pytest

from hypercorn_protocol import ServerConnection
from hypercorn_protocol.asgi.stream import ResponseState
from hypercorn_protocol.errors import InvalidMessageError, UnexpectedMessageError
from hypercorn_protocol.events import RequestCompleted
from hypercorn_protocol.typing import Message
from tests.helpers.h2client import H2Harness
from tests.helpers.protocol import Harness, get

START: Message = {"type": "http.response.start", "status": 200, "headers": []}
PATHSEND: Message = {"type": "http.response.pathsend", "path": "/srv/file.bin"}


def _h1(scheme: str = "http", request: h11.Request | None = None) -> Harness:
    h = Harness()
    if scheme != "http":  # TLS, as far as the core knows
        h.conn = ServerConnection(
            h.settings, client=("127.0.0.1", 5000), server=None, scheme=scheme, now=h.now
        )
    events = h.send_request(request or get(), h11.EndOfMessage())
    assert "http.response.pathsend" in events[0].scope["extensions"]  # type: ignore[attr-defined]
    return h


def test_h1_plain_lets_the_driver_sendfile_with_the_files_length() -> None:
    h = _h1()
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    assert h.wire == b""  # the head waits for the file's size
    assert h.conn.file_opened(1, 5, h.now) == (5, True)
    h.drain()
    head = h.client_events()
    assert isinstance(head[0], h11.Response)
    assert (b"content-length", b"5") in head[0].headers
    h.wire = b"hello"  # what sendfile put on the socket
    h.conn.file_sent(1, 5)
    h.conn.file_done(1, h.now)
    h.drain()
    body = h.client_events()
    assert [type(e) for e in body] == [h11.Data, h11.EndOfMessage]
    completed = [e for e in h.events if isinstance(e, RequestCompleted)]
    assert completed[0].response is not None
    assert completed[0].response.body_bytes == 5
    assert not h.conn.closed  # keep-alive: the next request may follow


def test_h1_tls_reads_through_the_protocol() -> None:
    h = _h1("https")
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    assert h.conn.file_opened(1, 6, h.now) == (6, False)
    assert h.conn.file_data(1, b"abc", h.now)
    assert h.conn.file_data(1, b"def", h.now)
    h.conn.file_done(1, h.now)
    h.drain()
    events = h.client_events()
    assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == b"abcdef"
    assert isinstance(events[-1], h11.EndOfMessage)


def test_app_length_wins_and_a_short_file_cuts_the_response() -> None:
    h = _h1()
    h.app_send(1, {**START, "headers": [(b"content-length", b"10")]})
    h.app_send(1, PATHSEND)
    assert h.conn.file_opened(1, 4, h.now) == (4, True)  # only what the file has
    h.conn.file_sent(1, 4)
    h.conn.file_done(1, h.now)
    h.drain()
    assert h.conn.closed  # the client cannot find the end of a short body otherwise


def test_app_length_shorter_than_the_file_sends_that_much() -> None:
    h = _h1()
    h.app_send(1, {**START, "headers": [(b"content-length", b"3")]})
    h.app_send(1, PATHSEND)
    assert h.conn.file_opened(1, 100, h.now) == (3, True)


def test_head_gets_the_length_and_no_body() -> None:
    h = _h1(request=h11.Request(method="HEAD", target="/", headers=[("host", "x")]))
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    assert h.conn.file_opened(1, 7, h.now) == (0, False)
    h.drain()
    events = h.client_events()
    assert (b"content-length", b"7") in events[0].headers  # type: ignore[attr-defined]
    assert isinstance(events[-1], h11.EndOfMessage)


def test_failing_before_the_file_opened_is_a_500() -> None:
    h = _h1()
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    h.conn.app_finished(1, FileNotFoundError("/srv/file.bin"), h.now)
    h.drain()
    assert h.client_events()[0].status_code == 500  # type: ignore[attr-defined]


def test_failing_after_the_head_cuts_the_response() -> None:
    h = _h1()
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    h.conn.file_opened(1, 10, h.now)
    h.conn.app_finished(1, OSError("read failed"), h.now)
    h.drain()
    assert h.conn.closed


@pytest.mark.parametrize("path", [None, 3, b"/srv/file.bin", ""])
def test_path_must_be_a_string(path: object) -> None:
    h = _h1()
    h.app_send(1, START)
    with pytest.raises(InvalidMessageError):
        h.app_send(1, {"type": "http.response.pathsend", "path": path})


def test_nothing_else_while_the_file_is_sent() -> None:
    h = _h1()
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, PATHSEND)  # before the start
    h.app_send(1, START)
    h.app_send(1, PATHSEND)
    assert h.conn._protocol._streams[1].response is ResponseState.FILE
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, {"type": "http.response.body", "body": b"x"})
    with pytest.raises(UnexpectedMessageError):
        h.app_send(1, PATHSEND)


def test_h2_goes_through_flow_control() -> None:
    h = H2Harness()
    stream_id = h.request("/")
    h.exchange()
    h.app_send(stream_id, START)
    h.app_send(stream_id, PATHSEND)
    data = bytes(range(256)) * 1024  # 256 KiB: beyond the 64 KiB initial window
    assert h.conn.file_opened(stream_id, len(data), h.now) == (len(data), False)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    writable = []
    for chunk in chunks:  # unacknowledged: the window stays shut after the first 64 KiB
        writable.append(h.conn.file_data(stream_id, chunk, h.now))
        h.exchange()
    for _ in chunks:
        h.response_for(stream_id)  # acknowledges what arrived: window comes back
        h.exchange()
    h.conn.file_done(stream_id, h.now)
    h.exchange()
    headers, body, ended = h.response_for(stream_id)
    assert headers[b"content-length"] == b"%d" % len(data)
    assert body == data
    assert ended
    assert False in writable  # a chunk beyond the window asked the driver to wait
    assert h.conn.sending_file(stream_id) is False
