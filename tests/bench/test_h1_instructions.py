"""``benchmarks/h1_instructions.py`` serves its requests cleanly in every mode it offers.

The script's fake I/O implements the driver's ``ConnectionIO``; when that interface
changes, the script must change with it or its figures measure error handling.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "h1_instructions.py"


@pytest.mark.parametrize("mode", ["core", "driver"])
@pytest.mark.parametrize("parser", ["h11", "httptools"])
@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
def test_every_request_is_served_without_a_logged_error(
    mode: str, parser: str, close: bool
) -> None:
    command = [sys.executable, str(SCRIPT), "--mode", mode, "--parser", parser, "--requests", "50"]
    done = subprocess.run(
        command + (["--close"] if close else []),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.endswith("us CPU per request\n")
