"""A browser over HTTP/3: Debian's headless Chromium, told to use QUIC for the origin.

``--origin-to-force-quic-on`` skips Alt-Svc discovery and
``--ignore-certificate-errors-spki-list`` trusts the test certificate by its key, as a
developer would try a local server. ``.ci/run`` installs Chromium; skipped without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.e2e.http3._support import H3Server

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"
    ),
]


def _spki_sha256(certfile: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of the first certificate in the file."""
    pem = re.search(
        rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", certfile.read_bytes(), re.S
    )
    assert pem is not None
    key = x509.load_pem_x509_certificate(pem[0]).public_key()
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_chromium_loads_a_page_over_http3(server: H3Server, tmp_path: Path) -> None:
    origin = f"localhost:{server.quic_port}"
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--origin-to-force-quic-on={origin}",
            f"--ignore-certificate-errors-spki-list={_spki_sha256(server.tls.certfile)}",
            "--host-resolver-rules=MAP localhost 127.0.0.1",
            "--dump-dom",
            f"https://{origin}/scope",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )

    body = re.search(rb"<pre>(.*?)</pre>", result.stdout)
    assert body is not None, (result.stdout[-500:], result.stderr[-1500:])
    scope = json.loads(body[1])
    assert (scope["http_version"], scope["scheme"]) == ("3", "https")
