"""The README's one-command install from a checkout, run in a fresh venv.

The siblings pin each other with ``==``, so pip can only resolve them from a checkout
when it is given every sibling's path; the README shows that command and this test
runs exactly that text. Quart is installed afterwards because it requires
``hypercorn>=0.11``: with a version below upstream's, pip would replace us with
Hypercorn 0.18 from the index.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The install line, exactly as the README shows it (run from the repository root).
INSTALL_COMMAND = (
    "pip install ./packages/hypercorn-protocol ./packages/hypercorn-asyncio"
    " ./packages/hypercorn-trio ./packages/hypercorn-cli './packages/hypercorn[trio,uvloop,fast]'"
)


def _version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "packages/hypercorn/src/hypercorn/__about__.py").read_text(), namespace)
    return namespace["__version__"]


def test_readme_shows_the_tested_command() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()

    assert INSTALL_COMMAND in lines


def _run(command: str | list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command,
        shell=isinstance(command, str),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell and venv layout")
def test_install_command_works_in_a_fresh_venv_and_survives_quart(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    # "Activate" the venv for the shell that runs the README's text.
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    _run(INSTALL_COMMAND, env)
    _run("pip install quart", env)

    python = str(bin_dir / "python")
    check = (
        "import importlib.metadata as m, hypercorn, hypercorn_protocol, hypercorn_trio, uvloop;"
        "from hypercorn_protocol.http1.parsers import httptools_wire;"
        "assert httptools_wire() is not None, 'the fast extra brings httptools';"
        "import quart.asgi;"
        "print(m.version('hypercorn'), hypercorn.__file__)"
    )
    version, location = _run([python, "-c", check], env).split()
    assert version == _version()
    assert Path(location).is_relative_to(venv)  # installed, not this checkout on a path
    assert _run([str(bin_dir / "hypercorn"), "--version"], env).strip() == f"hypercorn {version}"
