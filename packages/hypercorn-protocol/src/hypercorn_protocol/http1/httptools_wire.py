"""The HTTP/1.1 wire on httptools (llhttp, in C): the fast parser behind the same seam.

An implementation of :class:`~hypercorn_protocol.http1.wire.HTTP1Wire` that answers
exactly like :class:`~hypercorn_protocol.http1.h11_wire.H11Wire` wherever the test
suite can tell (both run it). Responses are framed as by the h11 wire
(:class:`~hypercorn_protocol.http1.framing.ResponseFramer`); only parsing differs.

llhttp runs strict (none of its leniency flags is set). Where it accepts what h11 and
RFC 9112 refuse, the checks here refuse it too: ``Transfer-Encoding`` other than exactly
``chunked`` (501), missing or repeated ``Host`` in HTTP/1.1 (400), RTSP and ICE request
lines (400), targets with bytes outside visible ASCII (400), heads larger than
``h11_max_incomplete_size`` (431), trailing whitespace in field values (stripped). It is
stricter than h11 in a few places, which are answered 400 (see docs/http1.md): bare LF
line endings, obs-fold, DEL in field values. A method llhttp does not know hands the
connection to an h11 wire from that request on (:class:`WireReplaced`), unless the
request came pipelined behind another in one read.

llhttp parses everything it is fed, so pipelined requests arrive early: their events
wait in a queue, one cycle behind the other, and bytes that come while a later request
is already queued are held unparsed until the connection moves on (reading is paused
meanwhile, as with h11). A head that never completes is bounded by counting the bytes
fed without progress.
"""

from __future__ import annotations

import re
from collections import deque

from httptools import (  # type: ignore[import-not-found,unused-ignore]
    HttpParserError,
    HttpParserInvalidMethodError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from hypercorn_protocol.errors import RemoteProtocolError
from hypercorn_protocol.http1.framing import ResponseFramer
from hypercorn_protocol.http1.wire import (
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    PEER_CLOSED,
    Body,
    RequestHead,
    WireEvent,
    WireReplaced,
)
from hypercorn_protocol.typing import Headers

_VERSIONS = {"1.1": b"1.1", "1.0": b"1.0"}
# Past this many bytes held while a pipelined request waits, the client is not waiting
# for answers (reading is paused long before, unless the driver ignores it).
_MAX_HELD = 1 << 20
_STRIP = b" \t"
# METHOD SP target SP HTTP/x.y, each space single (the version itself llhttp checks)
_REQUEST_LINE = re.compile(rb"[^ ]+ [^ ]+ HTTP/[^ ]*")
_WATCHED = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"connection", b"upgrade", b"expect"}
)
_Queued = WireEvent | RemoteProtocolError


class HttptoolsWire(ResponseFramer):
    """:class:`HTTP1Wire` with llhttp parsing requests (needs ``hypercorn-protocol[fast]``)."""

    __slots__ = (
        "_at_start",
        "_begun",
        "_check_line",
        "_closed_seen",
        "_cycle_done",
        "_data",
        "_fallback",
        "_flags",
        "_held",
        "_in_message",
        "_line",
        "_max_head",
        "_method",
        "_parser",
        "_progress",
        "_queue",
        "_raw",
        "_stalled",
        "_synthetic",
        "_upgrade",
        "_upgrade_body",
        "_upgrade_data",
        "_url",
    )

    def __init__(self, max_incomplete_size: int) -> None:
        self._max_head = max_incomplete_size
        self._parser = HttpRequestParser(self)
        self._queue: deque[_Queued] = deque()
        # Per request, queued with its head: keep-alive, HTTP/1.0, HEAD, upgrade.
        self._flags: deque[tuple[bool, bool, bool, bool]] = deque()
        self._held = bytearray()  # bytes not fed yet (a later request is queued)
        self._url = b""
        self._method: bytes | None = None
        self._raw: Headers = []
        self._in_message = False
        self._progress = False
        self._stalled = 0
        self._at_start = True
        self._check_line = False
        self._data = b""
        self._line: bytes | None = None  # a request line still arriving
        self._synthetic = False
        self._upgrade_body = False
        self._closed_seen = False
        self._cycle_done = False
        self._upgrade_data: bytes | None = None
        self._begun = 0  # requests begun in the current feed
        # A request llhttp cannot parse (its method) from its first byte on, and what
        # came after: an h11 wire takes the connection over from there.
        self._fallback: bytearray | None = None
        self._upgrade = False  # this request carried Upgrade (h11: it might switch)
        self._reset()

    # ------------------------------------------------------- llhttp callbacks
    def on_message_begin(self) -> None:
        self._begun += 1
        self._in_message = True
        self._url = b""
        # A request starting inside this read (pipelined) has its whole request line
        # here by the time its head completes; one at the start of a read is checked
        # by _line_problem.
        self._check_line = not self._at_start
        self._at_start = False

    def on_url(self, url: bytes) -> None:
        self._url += url  # may come in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        # After the head, llhttp reports trailers here: they are dropped, as by h11.
        if self._raw is not None:
            self._raw.append((name, value.rstrip(_STRIP)))

    def on_headers_complete(self) -> None:
        self._progress = True
        if self._synthetic:  # the stand-in head of an upgrade request's body
            self._synthetic = False
            return
        raw = self._raw
        self._raw = None  # type: ignore[assignment]  # trailers from now on
        parser = self._parser
        version_text = parser.get_http_version()
        version = _VERSIONS.get(version_text)
        url = self._url
        headers: Headers = []
        hosts = 0
        te: bytes | None = None
        close = upgrade = upgrade_field = expects_continue = False
        lengths = 0
        length: bytes | None = None
        for name, value in raw:
            name = name.lower()
            headers.append((name, value))
            if name in _WATCHED:
                if name == b"host":
                    hosts += 1
                elif name == b"content-length":
                    lengths += 1
                    length = value
                elif name == b"transfer-encoding":
                    te = value if te is None else te + b"," + value
                elif name == b"connection":
                    close = close or b"close" in value.lower()
                elif name == b"upgrade":
                    upgrade_field = True
                    upgrade = upgrade or bool(value)
                else:
                    expects_continue = value.lower() == b"100-continue"
        # The head lies within the bytes fed since it began: only a long run is measured.
        if self._stalled + len(self._data) > self._max_head and (
            len(url) + 16 + sum(len(name) + len(value) + 4 for name, value in raw) > self._max_head
        ):
            raise RemoteProtocolError("request head too large", status_hint=431)
        if version is None:
            # HTTP/2.0 and 3.0 request lines (llhttp takes them); the connection answers 505.
            version = version_text.encode("ascii")
        if not url.isascii() or b"\x7f" in url:
            raise RemoteProtocolError("illegal request target", status_hint=400)
        if hosts > 1:
            raise RemoteProtocolError("Found multiple Host: headers", status_hint=400)
        if hosts == 0 and version == b"1.1":
            raise RemoteProtocolError("Missing mandatory Host: header", status_hint=400)
        if te is not None and te.strip(_STRIP).lower() != b"chunked":
            raise RemoteProtocolError(
                "Only Transfer-Encoding: chunked is supported", status_hint=501
            )
        method = self._method or parser.get_method()
        if self._check_line and b"%s %s HTTP/" % (method, url) not in self._data:
            raise RemoteProtocolError("illegal request line", status_hint=400)
        if upgrade:
            self._upgrade_body = te is not None or any(
                name == b"content-length" and value.strip(b"0") for name, value in headers
            )
        http10 = version == b"1.0"
        self._queue.append(
            RequestHead(
                method,
                url,
                version,
                headers,
                raw,
                expects_continue and not http10,
                lengths,
                length,
                te is not None,
                upgrade_field,
            )
        )
        self._flags.append((not (http10 or close or upgrade), http10, method == b"HEAD", upgrade))

    def on_body(self, body: bytes) -> None:
        self._progress = True
        self._queue.append(Body(body))

    def on_message_complete(self) -> None:
        self._progress = True
        self._in_message = False
        self._method = None
        self._raw = []  # a new list: the last one is the request's raw_headers
        self._queue.append(END_OF_BODY)

    # ---------------------------------------------------------------- requests
    def receive(self, data: bytes) -> None:
        if not data:
            self._closed_seen = True
            if self._in_message and not self._held and self._upgrade_data is None:
                self._queue.append(RemoteProtocolError("peer unexpectedly closed connection"))
            return
        if self._upgrade_data is not None:
            self._upgrade_data += data
            return
        if self._fallback is not None:
            self._fallback += data
            if len(self._fallback) > _MAX_HELD:
                self._queue.append(RemoteProtocolError("too much pipelined data"))
            return
        if self._held or (self._cycle_done and self._queue):
            self._held += data
            if len(self._held) > _MAX_HELD:
                self._queue.append(RemoteProtocolError("too much pipelined data"))
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        at_start = self._at_start = not self._in_message
        line_before = self._line
        if self._line is not None or self._at_start:
            problem = self._line_problem(data)
        else:
            # A request line split across reads behind a pipelined request: only the
            # foreign protocols are looked for.
            problem = (b"TSP/" in data or b"ICE/" in data) and _foreign_request_line(data)
        if problem:
            self._queue.append(RemoteProtocolError("illegal request line", status_hint=400))
            self._in_message = False
            self._upgrade_data = b""  # nothing more is parsed
            return
        self._check_line = False
        self._data = data
        self._progress = False
        self._begun = 0
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if self._upgrade_body:
                self._serve_upgrade_body(rest)
            else:
                self._upgrade_data = rest
        except RemoteProtocolError as exc:
            self._queue.append(exc)
        except HttpParserInvalidMethodError:
            # A method llhttp does not know (an extension method, or one not in upper
            # case), or garbage. Where this request's first byte is known (it began
            # this read, or its request line was still arriving), h11 takes over the
            # connection from there, and serves it or answers 400 as for any request;
            # behind another request in the same read it is not, and is answered 400.
            start: bytes | None = None
            if self._begun == 1 and at_start:
                start = data
            elif self._begun == 0 and line_before is not None:
                start = line_before + data  # it began in an earlier read
            if start is None:
                self._queue.append(RemoteProtocolError("unknown request method", status_hint=400))
            else:
                self._fallback = bytearray(start)
        except HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, RemoteProtocolError):
                self._queue.append(cause)
            elif exc.args and exc.args[0] == "Invalid HTTP version":
                self._queue.append(RemoteProtocolError(str(exc), status_hint=505))
            elif exc.args and exc.args[0] == "Invalid `Transfer-Encoding` header value":
                # chunked not last, or twice: h11 answers any such coding 501
                self._queue.append(RemoteProtocolError(str(exc), status_hint=501))
            else:
                self._queue.append(RemoteProtocolError(str(exc), status_hint=400))
        else:
            if not self._in_message:
                self._stalled = 0
            elif self._progress:
                # A head may have begun in this read: count all of it (an upper bound).
                self._stalled = len(data) if self._raw is not None else 0
            else:
                self._stalled += len(data)
                if self._stalled > self._max_head:
                    status = 431 if self._raw is not None else 400
                    self._queue.append(
                        RemoteProtocolError("request head too large", status_hint=status)
                    )
            return
        self._in_message = False  # the parser is dead: nothing after the error counts

    def _line_problem(self, data: bytes) -> bool:
        """Whether the request line that starts this read is not ``METHOD SP target SP
        HTTP/x.y`` (llhttp also takes repeated spaces and RTSP or ICE lines)."""
        line = data if self._line is None else self._line + data
        end = line.find(b"\r\n", 0, self._max_head)
        if end == -1:
            self._line = line.lstrip(b"\r\n")[: self._max_head + 1]
            return False
        self._line = None
        if end == 0:
            start = len(line) - len(line.lstrip(b"\r\n"))
            end = line.find(b"\r\n", start, start + self._max_head)
            if end == -1:
                self._line = line[start : start + self._max_head + 1]
                return False
            line = line[start:]
            end -= start
        return _REQUEST_LINE.fullmatch(line, 0, end) is None

    def _serve_upgrade_body(self, rest: bytes) -> None:
        """An Upgrade request with a body: llhttp skipped the body, but the connection
        may serve the request as plain HTTP. A fresh parser reads the body behind a
        stand-in head with the same framing."""
        self._upgrade_body = False
        if self._queue and self._queue[-1] is END_OF_BODY:
            self._queue.pop()
        head = self._queue[-1] if self._queue else None
        framing = b""
        if type(head) is RequestHead:
            framing = b"".join(
                b"%s: %s\r\n" % pair
                for pair in head.headers
                if pair[0] in (b"content-length", b"transfer-encoding")
            )
        self._parser = HttpRequestParser(self)
        self._synthetic = True
        self._in_message = False
        self._feed(b"POST / HTTP/1.1\r\nhost: upgrade\r\n" + framing + b"\r\n")
        if rest:
            self._feed(rest)

    def next_event(self) -> WireEvent:
        queue = self._queue
        if self._cycle_done:
            if queue or self._held or self._fallback is not None:
                if not self._keep_alive and not self._upgrade:
                    raise RemoteProtocolError("Got data when expecting EOF")
                return PAUSED
            if self._upgrade:
                return PAUSED
            return PEER_CLOSED if self._closed_seen else NEED_DATA
        if not queue:
            if self._held:
                held = bytes(self._held)
                self._held.clear()
                self._feed(held)
            if not queue:
                if self._fallback is not None:
                    return self._replaced()
                return PEER_CLOSED if self._closed_seen else NEED_DATA
        event = queue.popleft()
        if type(event) is RequestHead:
            self._keep_alive, self._http10, self._head_only, self._upgrade = self._flags.popleft()
        elif event is END_OF_BODY:
            self._cycle_done = True
        elif type(event) is RemoteProtocolError:
            queue.appendleft(event)  # the parser is dead: every later call raises
            raise event
        return event  # type: ignore[return-value]

    def _replaced(self) -> WireEvent:
        """An h11 wire, given every byte from the request llhttp could not parse on."""
        # Imported here: a server whose requests llhttp all parses never loads h11.
        from hypercorn_protocol.http1.h11_wire import H11Wire

        assert self._fallback is not None
        wire = H11Wire(self._max_head)
        wire.receive(bytes(self._fallback))
        if self._closed_seen:
            wire.receive(b"")
        self._fallback = None
        self._upgrade_data = b""  # this wire parses nothing more
        return WireReplaced(wire)

    # ----------------------------------------------------------- cycle state
    def _reset(self) -> None:
        super()._reset()
        self._upgrade = False

    @property
    def request_complete(self) -> bool:
        return self._cycle_done

    @property
    def can_reuse(self) -> bool:
        return self._keep_alive and self._response_done and self._cycle_done

    def leftover(self) -> tuple[bytes, bool]:
        if self._upgrade_data is not None:
            return self._upgrade_data, self._closed_seen
        return bytes(self._held), self._closed_seen

    def start_next_cycle(self) -> None:
        self._cycle_done = False
        self._reset()


def _foreign_request_line(data: bytes) -> bool:
    """Whether ``data`` holds an RTSP or ICE request line (llhttp parses those too)."""
    for marker in (b" RTSP/", b" ICE/"):
        at = data.find(marker)
        while at != -1:
            start = data.rfind(b"\n", 0, at) + 1
            first = data[start:at].split(b" ", 1)[0]
            if first and b":" not in first:
                return True
            at = data.find(marker, at + 1)
    return False


__all__ = ["HttptoolsWire"]
