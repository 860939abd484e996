"""HTTP/3 with ngtcp2's example client (Debian's ``ngtcp2-client``, on GnuTLS), a C stack.

``.ci/run`` installs the package; these tests skip only where ``gtlsclient`` is absent.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.http3._support import MIB, H3Server, pattern

GTLSCLIENT = shutil.which("gtlsclient")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        GTLSCLIENT is None, reason="gtlsclient (Debian ngtcp2-client) not installed"
    ),
]


def _gtlsclient(
    server: H3Server, download: Path, *args: str, timeout: float = 60
) -> dict[str, bytes]:
    """Run gtlsclient for the URLs at the end of ``args``; the bodies it saved, by file name.

    Its debug output is not an interface; ``--download`` (one file per request, named
    after the last path segment, ``index.html`` for ``/``) is.
    """
    assert GTLSCLIENT is not None
    download.mkdir(exist_ok=True)
    options = [arg for arg in args if arg.startswith("-")]
    urls = [arg for arg in args if not arg.startswith("-")]
    result = subprocess.run(
        [
            GTLSCLIENT,
            "--quiet",
            "--exit-on-all-streams-close",
            "--sni=localhost",
            "--timeout=20s",
            f"--download={download}",
            *options,
            "127.0.0.1",
            str(server.quic_port),
            *urls,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return {path.name: path.read_bytes() for path in download.iterdir()}


def test_hello(server: H3Server, tmp_path: Path) -> None:
    saved = _gtlsclient(server, tmp_path / "out", server.quic_url("/"))

    assert saved == {"index.html": b"hello"}


def test_20_mib_download_is_byte_exact(server: H3Server, tmp_path: Path) -> None:
    size = 20 * MIB
    saved = _gtlsclient(server, tmp_path / "out", server.quic_url(f"/download/{size}"))

    content = saved[str(size)]
    assert len(content) == size
    assert hashlib.sha256(content).digest() == hashlib.sha256(pattern(size)).digest()


def test_20_mib_upload_is_byte_exact(server: H3Server, tmp_path: Path) -> None:
    body = pattern(20 * MIB)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(body)

    saved = _gtlsclient(
        server,
        tmp_path / "out",
        "--http-method=POST",
        f"--data={upload}",
        server.quic_url("/upload"),
    )

    assert json.loads(saved["upload"]) == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def test_100_concurrent_streams_on_one_connection(server: H3Server, tmp_path: Path) -> None:
    """100 URLs are 100 streams on one connection; the app answers only when all are in."""
    key = uuid.uuid4().hex
    urls = [server.quic_url(f"/barrier/{key}/100/{index}") for index in range(100)]

    saved = _gtlsclient(server, tmp_path / "out", *urls)

    assert saved == {str(index): b"together" for index in range(100)}
