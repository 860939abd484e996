"""A complete HTTP/1.1 server on plain blocking sockets, with hypercorn-protocol alone.

No event loop: the app coroutine is stepped by hand, which works because its only
awaits are this file's ``receive``/``send``. One connection at a time; a teaching
example of the sans-IO loop, not a production server.

    python examples/custom_server.py 127.0.0.1 8000
"""

from __future__ import annotations

import socket
import sys
import time
from collections import deque
from typing import Any

from hypercorn_protocol import AppMessage, CloseConnection, ServerConnection, StartApp
from hypercorn_protocol.config import Config
from hypercorn_protocol.typing import ASGIScope, Message


async def app(scope: ASGIScope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-by", b"sans-io")]})
    await send({"type": "http.response.body", "body": f"Hello from {scope['path']}\n".encode()})


def serve_connection(sock: socket.socket, config: Config) -> None:
    conn = ServerConnection(config, client=None, server=None, scheme="http", now=time.time())
    requests: deque[StartApp] = deque()
    inbox: deque[Message] = deque()
    closed = False

    def pump() -> None:
        nonlocal closed
        while (event := conn.next_event()) is not None:
            if isinstance(event, StartApp):
                requests.append(event)
            elif isinstance(event, AppMessage):
                inbox.append(event.message)
            elif isinstance(event, CloseConnection):
                closed = True
        sock.sendall(conn.data_to_send())

    def feed() -> None:
        conn.receive_data(sock.recv(65536), time.time())
        pump()

    while not closed:
        if not requests:
            feed()
            continue
        stream_id, scope = requests[0].stream_id, requests.popleft().scope

        async def receive(stream_id: int = stream_id) -> Message:
            while not inbox and not closed:
                feed()
            conn.app_consumed(stream_id)
            return inbox.popleft() if inbox else {"type": "http.disconnect"}

        async def send(message: dict[str, Any], stream_id: int = stream_id) -> None:
            conn.app_send(stream_id, message, time.time())
            pump()

        try:
            app(scope, receive, send).send(None)  # nothing in here really suspends
        except StopIteration:
            pass
        conn.app_finished(stream_id, None, time.time())
        inbox.clear()
        pump()


def main(host: str, port: int) -> None:
    config = Config()
    with socket.create_server((host, port)) as listener:
        print(f"listening on http://{host}:{listener.getsockname()[1]}", flush=True)
        while True:
            client, _ = listener.accept()
            with client:
                serve_connection(client, config)


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    main(host, int(sys.argv[2]) if len(sys.argv) > 2 else 8000)
