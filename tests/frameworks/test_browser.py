"""A real browser: Debian's headless Chromium, driven by selenium through Debian's
chromedriver (both named explicitly, so Selenium Manager never downloads anything),
loads a page from the real command over HTTPS with a test CA.

The test CA is trusted for this browser only: it goes into the NSS certificate database
of a home directory made for the test (``$HOME/.pki/nssdb``, where Chromium on Linux
looks), with NSS's ``certutil``; the system's store is untouched, and every other
certificate error still counts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
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

CERTUTIL = shutil.which("certutil")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists() and CERTUTIL),
    reason="needs Debian's chromium, chromium-driver and libnss3-tools (.ci/run installs them)",
)


def home_trusting(ca_file: Path, home: Path) -> Path:
    """A home directory whose NSS database trusts ``ca_file`` to issue server certificates."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    database = f"sql:{nssdb}"
    assert CERTUTIL is not None
    for command in (
        [CERTUTIL, "-N", "-d", database, "--empty-password"],
        # -t "C,,": a CA trusted to issue TLS server certificates
        [CERTUTIL, "-A", "-d", database, "-n", "test-ca", "-t", "C,,", "-i", str(ca_file)],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    return home


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
        "--window-size=1000,700",
    ):
        options.add_argument(argument)
    home = home_trusting(certs.ca_file, tmp_path / "home")
    service = webdriver.ChromeService(
        executable_path=str(CHROMEDRIVER), env={**os.environ, "HOME": str(home)}
    )
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
