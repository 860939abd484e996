"""The README's custom-server example really serves HTTP/1.1 with hypercorn-protocol alone."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_server.py"


def test_custom_server_example_serves_keep_alive_and_pipelined_requests() -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "127.0.0.1", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client() as client:
            first = client.get(url + "/one")
            second = client.get(url + "/two")
        assert first.text == "Hello from /one\n"
        assert second.text == "Hello from /two\n"
        assert first.headers["x-by"] == "sans-io"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"
                b"GET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            )
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.index(b"Hello from /a") < data.index(b"Hello from /b")
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
