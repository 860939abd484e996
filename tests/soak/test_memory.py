"""Memory stability: a short run of ``benchmarks/soak.py`` against the real ``hypercorn``.

20,000 requests (HTTP/1.1 keep-alive and new connections, h2c, WebSocket) against one
worker; after 8,000 of warm-up the server's RSS (supervisor and worker) may grow by less
than 5 MiB. The load comes from stdlib sockets and the ``h2`` package, not this project.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).parents[2] / "benchmarks" / "soak.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


#: ``benchmarks/apps/ws_echo.py`` that keeps 2 KiB per HTTP request: a leak to catch.
LEAKY_APP = """
import sys
sys.path.insert(0, {apps!r})
from ws_echo import app as echo

kept = []

async def app(scope, receive, send):
    if scope["type"] == "http":
        kept.append(bytearray(2048))
    await echo(scope, receive, send)
"""


def _soak(worker_class: str, requests: int, warmup: int, *extra: str) -> str:
    command = [sys.executable, str(SOAK), "--requests", str(requests), "--every", "2000"]
    command += ["--warmup", str(warmup), "--max-growth", "5", "--load", "python"]
    command += ["-k", worker_class, *extra]
    env = {**os.environ, "PROJECT_PYTHON": sys.executable}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    print(done.stdout)
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("worker_class", ["asyncio", "uvloop", "trio"])
def test_rss_stays_flat_over_20000_requests(worker_class: str) -> None:
    output = _soak(worker_class, 20_000, 8_000)

    assert output.startswith("exit 0\n"), output
    assert "# PASS" in output
    assert output.count(" rss ") == 10  # one sample per 2,000 requests
    assert output.count(" failed 0 ") == 10


@pytest.mark.timeout(180)
def test_the_soak_catches_a_leaking_app(app_dir: Path) -> None:
    (app_dir / "leaky.py").write_text(LEAKY_APP.format(apps=str(SOAK.parent / "apps")))

    output = _soak("asyncio", 8_000, 2_000, "--app", "leaky:app", "--app-dir", str(app_dir))

    # 4,500 HTTP requests after the warm-up keep 2 KiB each: about 9 MiB.
    assert output.startswith("exit 1\n"), output
    assert "# FAIL" in output
    assert " failed 0 " in output
