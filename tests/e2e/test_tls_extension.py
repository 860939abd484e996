"""The ASGI ``tls`` extension over real TLS connections: HTTP/1.1, HTTP/2 and WebSocket.

The expected values come from the other side of the connection, never from the
server's own code: the certificates trustme issued (their subject formatted by
``cryptography``'s RFC 4514 writer), the version and cipher the client negotiated,
and the cipher suite numbers of RFC 8446 / RFC 5289.
"""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from websockets.sync.client import connect as ws_connect

from tests.helpers.server import make_config, run_server

# TLS 1.2 suites the client may pick, with their IANA numbers (RFC 5289).
TLS12_SUITES = {"ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B, "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F}
TLS13_SUITES = {"TLS_AES_256_GCM_SHA384": 0x1302, "TLS_AES_128_GCM_SHA256": 0x1301}


async def tls_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    tls = scope["extensions"].get("tls")
    report = json.dumps(
        {
            "present": "tls" in scope["extensions"],
            "tls": tls and dict(tls, client_cert_chain=list(tls["client_cert_chain"])),
        }
    )
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": report})
        await send({"type": "websocket.close"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": report.encode()})


class PKI:
    def __init__(self, tmp_path: Path) -> None:
        self.ca = trustme.CA()
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.certfile = str(tmp_path / "server.pem")
        self.keyfile = str(tmp_path / "server.key")
        server.private_key_and_cert_chain_pem.write_to_path(self.certfile)
        server.private_key_pem.write_to_path(self.keyfile)
        self.server_der = ssl.PEM_cert_to_DER_cert(server.cert_chain_pems[0].bytes().decode())
        self.ca_file = str(tmp_path / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.client = self.ca.issue_cert("alice@example.org", common_name='Alice, "A" + Co')
        self.client_der = ssl.PEM_cert_to_DER_cert(self.client.cert_chain_pems[0].bytes().decode())

    def client_context(self, *, with_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if with_cert:
            self.client.configure_cert(context)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return PKI(tmp_path)


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def _raw_get(port: int, context: ssl.SSLContext) -> tuple[dict[str, Any], str, str]:
    """GET / over a plain ``ssl`` socket: the report and what the client negotiated."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        version, cipher = tls.version() or "", tls.cipher()[0]  # type: ignore[index]
        tls.sendall(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    if b"\r\n\r\n" not in data:
        raise ConnectionError("the connection ended without a response")
    body = data.split(b"\r\n\r\n", 1)[1]
    return json.loads(body), version, cipher


def _check_client(tls: dict[str, Any], pki: PKI) -> None:
    assert [_der(pem) for pem in tls["client_cert_chain"]][:1] == [pki.client_der]
    subject = x509.load_der_x509_certificate(pki.client_der).subject.rfc4514_string()
    assert tls["client_cert_name"] == subject
    assert tls["client_cert_error"] is None


@pytest.mark.parametrize("verify_mode", ["CERT_REQUIRED", "CERT_OPTIONAL"])
def test_client_certificate_on_h1_h2_and_websocket(
    loop_name: str, pki: PKI, verify_mode: str
) -> None:
    config = make_config(
        certfile=pki.certfile,
        keyfile=pki.keyfile,
        ca_certs=pki.ca_file,
        verify_mode=ssl.VerifyMode[verify_mode],
    )
    with run_server(tls_app, config, loop_name) as server:
        url = f"https://localhost:{server.port}/"
        reports = {}
        for http2 in (False, True):
            # A fresh context each: httpx sets its ALPN protocols on the one it is given.
            context = pki.client_context(with_cert=True)
            with httpx.Client(http2=http2, verify=context, timeout=10) as client:
                response = client.get(url)
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            reports[response.http_version] = response.json()
        context = pki.client_context(with_cert=True)
        with ws_connect(f"wss://localhost:{server.port}/ws", ssl=context) as ws:
            reports["websocket"] = json.loads(ws.recv(timeout=10))
        raw, version, cipher = _raw_get(server.port, pki.client_context(with_cert=True))
    for report in reports.values():
        assert report["present"]
        tls = report["tls"]
        assert _der(tls["server_cert"]) == pki.server_der
        _check_client(tls, pki)
        assert tls["tls_version"] == 0x0304
        assert tls["cipher_suite"] in TLS13_SUITES.values()
    assert version == "TLSv1.3"
    assert raw["tls"]["cipher_suite"] == TLS13_SUITES[cipher]


def test_tls12_version_and_cipher_suite(loop_name: str, pki: PKI) -> None:
    config = make_config(certfile=pki.certfile, keyfile=pki.keyfile)
    context = pki.client_context(with_cert=False)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(TLS12_SUITES))
    with run_server(tls_app, config, loop_name) as server:
        report, version, cipher = _raw_get(server.port, context)
    assert version == "TLSv1.2"
    tls = report["tls"]
    assert tls["tls_version"] == 0x0303
    assert tls["cipher_suite"] == TLS12_SUITES[cipher]
    # No client certificates asked for: none reported.
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert _der(tls["server_cert"]) == pki.server_der


def test_optional_client_certificate_not_sent(loop_name: str, pki: PKI) -> None:
    config = make_config(
        certfile=pki.certfile,
        keyfile=pki.keyfile,
        ca_certs=pki.ca_file,
        verify_mode=ssl.CERT_OPTIONAL,
    )
    context = pki.client_context(with_cert=False)
    with (
        run_server(tls_app, config, loop_name) as server,
        httpx.Client(http2=True, verify=context) as client,
    ):
        report = client.get(f"https://localhost:{server.port}/").json()
    assert report["tls"]["client_cert_chain"] == []
    assert report["tls"]["client_cert_name"] is None
    assert report["tls"]["client_cert_error"] is None


def test_required_client_certificate_missing_fails_the_handshake(loop_name: str, pki: PKI) -> None:
    config = make_config(
        certfile=pki.certfile,
        keyfile=pki.keyfile,
        ca_certs=pki.ca_file,
        verify_mode=ssl.CERT_REQUIRED,
    )
    with run_server(tls_app, config, loop_name) as server:
        # TLS 1.3 finishes the client's side of the handshake before the server
        # checks its certificate: the refusal shows as an alert, or as the end of
        # the connection with no response.
        with pytest.raises(OSError):  # noqa: PT011 (ssl.SSLError, or ConnectionError)
            _raw_get(server.port, pki.client_context(with_cert=False))
        # The server is still serving clients that present a certificate.
        report, _, _ = _raw_get(server.port, pki.client_context(with_cert=True))
    _check_client(report["tls"], pki)


def test_plain_tcp_has_no_tls_extension(loop_name: str) -> None:
    with run_server(tls_app, make_config(), loop_name) as server:
        report = httpx.get(f"http://127.0.0.1:{server.port}/").json()
    assert report == {"present": False, "tls": None}
