"""A real browser: Debian's headless Chromium, driven by selenium through Debian's
chromedriver (both named explicitly, so Selenium Manager never downloads anything),
loads a page from the real command over HTTPS with a test CA.

The certificate is trusted for this browser only, by its public key
(``--ignore-certificate-errors-spki-list``); every other certificate error still counts.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.frameworks import _support as check
from tests.frameworks._support import ROOT, Certs, Served
from tests.frameworks.apps.browser_app import UPLOAD_SIZE
from tests.helpers.backends import BACKENDS

APP = "tests.frameworks.apps.browser_app:app"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"  # ignored by git

#: Chromium opens its WebSocket as an RFC 8441 extended CONNECT on the page's HTTP/2
#: connection, since the server's SETTINGS carry SETTINGS_ENABLE_CONNECT_PROTOCOL.
VERSION = "2"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


def spki_hash(cert_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of the leaf, as Chromium wants it."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module", params=BACKENDS)
def served(certs: Certs, state_dir: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    backend: str = request.param
    with check.serving(APP, backend, certs, state_dir / f"browser-{backend}") as running:
        yield running


@pytest.fixture
def browser(certs: Certs, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # we run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-proxy-server",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--ignore-certificate-errors-spki-list={spki_hash(certs.cert_file)}",
        "--window-size=1000,700",
    ):
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_websocket_and_streaming_upload(
    browser: webdriver.Chrome, served: Served, request: pytest.FixtureRequest
) -> None:
    browser.get(f"https://127.0.0.1:{served.https_port}/")
    results = WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.results"))
    ARTIFACTS.mkdir(exist_ok=True)
    backend = request.node.callspec.params["served"]
    screenshot = ARTIFACTS / f"browser-{backend}.png"
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")
    assert "error" not in results, results

    assert results["protocol"] == "h2"

    with served.client("h2") as client:
        versions = client.get("/websocket-versions").json()
    assert versions == [VERSION], versions
    assert results["ws"] == [f"hello over HTTP/{VERSION}", f"wörld over HTTP/{VERSION}"]

    expected = hashlib.sha256(bytes(i % 251 for i in range(UPLOAD_SIZE))).hexdigest()
    assert results["expected_sha256"] == expected
    assert results["upload"] == {"sha256": expected, "size": UPLOAD_SIZE, "http_version": "2"}
