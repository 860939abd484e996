"""The real ``hypercorn`` command over TLS: nothing printed per connection.

asyncio (and uvloop) print ``returning true from eof_received() has no effect when
using ssl`` for every TLS connection whose client closes, if the protocol asks to stay
half-open; that must not reach stderr.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.cli._support import StartServer, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]


def _tls_request(port: int, context: ssl.SSLContext, *, close_notify: bool) -> bytes:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /tls HTTP/1.1\r\nhost: localhost\r\n\r\n")
        response = b""
        while b"hello from /tls" not in response:
            chunk = tls.recv(65536)
            assert chunk, response
            response += chunk
        if close_notify:  # a clean TLS close; otherwise a bare TCP close
            try:
                tls.unwrap().close()
            except ssl.SSLEOFError:
                pass  # Python 3.10's asyncio closes without answering the close_notify
    return response


@pytest.mark.parametrize("worker_class", ["asyncio", "uvloop"])
def test_client_closed_tls_connections_print_nothing(
    start_server: StartServer, tmp_path: Path, worker_class: str
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    port = free_port()
    server = start_server(
        "app:app",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "0",
        "-k",
        worker_class,
        "--certfile",
        str(certfile),
        "--keyfile",
        str(keyfile),
    )
    server.wait_for(f"Running on https://127.0.0.1:{port}")
    for index in range(6):
        _tls_request(port, context, close_notify=index % 2 == 0)
    # One more exchange: the server has handled the closes above before it answers.
    _tls_request(port, context, close_notify=True)
    assert server.stop() == 0
    noise = [line for line in server.lines if "eof_received" in line or "Traceback" in line]
    assert noise == []
    assert not [line for line in server.lines if "[INFO]" not in line], server.lines


TLS_APP = """
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    tls = scope["extensions"].get("tls")
    body = json.dumps(tls and {**tls, "client_cert_chain": list(tls["client_cert_chain"])})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})
"""


@pytest.mark.parametrize(
    ("worker_class", "verify_mode"),
    [
        ("asyncio", "CERT_REQUIRED"),
        ("uvloop", "CERT_REQUIRED"),
        ("trio", "CERT_REQUIRED"),
        ("asyncio", "CERT_OPTIONAL"),
    ],
)
def test_verify_mode_flags_report_the_client_certificate(
    start_server: StartServer, app_dir: Path, worker_class: str, verify_mode: str
) -> None:
    (app_dir / "tlsapp.py").write_text(TLS_APP)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, ca_file = app_dir / "cert.pem", app_dir / "key.pem", app_dir / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    client_cert = ca.issue_cert("bob@example.org", common_name="bob")
    port = free_port()
    server = start_server(
        *("-b", f"127.0.0.1:{port}", "-w", "0", "-k", worker_class),
        *("--certfile", str(certfile), "--keyfile", str(keyfile)),
        *("--ca-certs", str(ca_file), "--verify-mode", verify_mode),
        "tlsapp:app",
    )
    server.wait_for(f"Running on https://127.0.0.1:{port}")
    reports: list[Any] = []
    for with_cert in (True, False):
        context = ssl.create_default_context()
        ca.configure_trust(context)
        if with_cert:
            client_cert.configure_cert(context)
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            data = b""
            try:
                while chunk := tls.recv(65536):
                    data += chunk
            except (ssl.SSLError, ConnectionError):
                pass  # refused: TLS 1.3 reports a missing certificate after the handshake
        reports.append(json.loads(data.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in data else None)
    assert server.stop() == 0
    report, without_cert = reports
    assert report is not None
    assert report["client_cert_name"].startswith("CN=bob,")
    leaf = ssl.PEM_cert_to_DER_cert(client_cert.cert_chain_pems[0].bytes().decode())
    assert ssl.PEM_cert_to_DER_cert(report["client_cert_chain"][0]) == leaf
    assert report["tls_version"] == 0x0304
    if verify_mode == "CERT_REQUIRED":
        assert without_cert is None  # no response: the handshake failed
    else:
        assert without_cert is not None
        assert without_cert["client_cert_chain"] == []
        assert without_cert["client_cert_name"] is None
