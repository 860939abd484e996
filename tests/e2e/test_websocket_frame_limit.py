"""An oversized WebSocket frame over a real socket: 1009 from its header, mid-upload.

The client (wsproto's handshake on a plain socket, the frame written by hand so that
it can stop inside it) announces a 16 MiB frame against a 1 MiB limit, sends its
header and the first 64 KiB, and then waits: the server's close arrives while the
client is still in the middle of the frame, before the limit's worth of payload was
even sent. A server that waited for (or buffered) the payload would say nothing.
"""

from __future__ import annotations

import os
import select

import pytest
from wsproto.events import CloseConnection

from tests.e2e.test_websocket import MiB, RawClient, serving

pytestmark = pytest.mark.usefixtures("http1_wire")  # on each HTTP/1.1 wire

FRAME = 16 * MiB
CHUNK = 64 * 1024


def test_an_oversized_frame_is_refused_while_it_is_still_being_sent(loop_name: str) -> None:
    with serving(loop_name, websocket_max_message_size=MiB) as (_, recorder, server):
        raw = RawClient(server.port)
        try:
            key = os.urandom(4)
            masked_chunk = bytes(b ^ key[i % 4] for i, b in enumerate(b"\x00" * CHUNK))
            # FIN + binary, masked, 64-bit length: 16 MiB, then the first 64 KiB of it
            raw.sock.sendall(b"\x82\xff" + FRAME.to_bytes(8, "big") + key + masked_chunk)
            readable, _, _ = select.select([raw.sock], [], [], 15)
            assert readable, "no answer while 16 MiB were announced and 64 KiB sent"
            events = raw.events_until(CloseConnection)
            (close,) = [e for e in events if isinstance(e, CloseConnection)]
            assert close.code == 1009
            # The rest of the frame is read and dropped; the close reply after it is heard.
            for _ in range(FRAME // CHUNK - 1):
                raw.sock.sendall(masked_chunk)
            raw.sock.sendall(raw.ws.send(close.response()))
            assert raw.at_eof()
        finally:
            raw.close()
        recorder.wait()
    assert recorder.disconnect["code"] == 1009
    assert not [m for m in recorder.messages if m["type"] == "websocket.receive"]
