"""Telling the app that its client has gone, on every backend.

A client that closes (or half-closes) after a complete request must reach an app
waiting in ``receive()``; several ``receive()`` calls pending on one stream must all
be served, in order; Starlette's own disconnect detection must work.
"""

from __future__ import annotations

import socket
from typing import Any

from hypercorn_protocol.typing import Scope
from tests.e2e.conftest import make_config, run_server


async def wait_for_disconnect_then_answer(scope: Scope, receive: Any, send: Any) -> None:
    """Long polling: hold the request until the client goes, then still answer."""
    if scope["type"] != "http":
        return
    request = await receive()
    assert request["type"] == "http.request"
    gone = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"got " + gone["type"].encode()})


def _read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_half_closed_client_disconnects_app_and_still_reads_the_response(
    loop_name: str,
) -> None:
    with (
        run_server(wait_for_disconnect_then_answer, make_config(), loop_name) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(b"GET /poll HTTP/1.1\r\nhost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        response = _read_until_eof(sock)  # times out if the app never hears of the EOF
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"got http.disconnect")
