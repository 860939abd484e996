"""Certificates for TLS, HTTP/2 and HTTP/3 tests: a trustme CA and a server certificate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class TLSFiles:
    """PEM files: the CA to trust, the server's certificate chain and its key."""

    cafile: Path
    certfile: Path
    keyfile: Path


def write_tls_files(directory: Path) -> TLSFiles:
    """A trustme CA and a certificate for 127.0.0.1 and localhost, as PEM files."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TLSFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.cafile))
    cert.private_key_and_cert_chain_pem.write_to_path(str(files.certfile))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    return files
