"""The sans-IO core never imports an event loop or the socket module.

Each module of ``hypercorn_protocol`` is imported in a fresh interpreter, so a module
that pulls in ``asyncio``, ``trio`` or ``socket`` (directly or through ``ssl``,
``logging.handlers``...) is named. ``server/binding.py`` (socket creation and TLS for the
drivers, re-exported by its documented path ``binding``) is the one allowed exception.

The interpreter runs with ``-S`` and this process's ``sys.path``: ``.pth`` start-up hooks
(coverage's, for one, which imports ``socket``) would otherwise hide an import.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys

import pytest

import hypercorn_protocol

FORBIDDEN = ("asyncio", "trio", "socket")
# server.binding: socket creation and TLS for both drivers (and its documented path).
ALLOWED_TO_USE_SOCKETS = {"hypercorn_protocol.server.binding", "hypercorn_protocol.binding"}

_CHECK = """
import importlib, sys
forbidden = sys.argv[2].split(",")
def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] in forbidden)
if loaded():
    sys.exit(f"already imported at start-up: {loaded()}")
importlib.import_module(sys.argv[1])
print(",".join(loaded()))
"""


def _core_modules() -> list[str]:
    names = ["hypercorn_protocol"]
    for info in pkgutil.walk_packages(hypercorn_protocol.__path__, "hypercorn_protocol."):
        names.append(info.name)
    return sorted(names)


def _imported_forbidden(module: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", _CHECK, module, ",".join(FORBIDDEN)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


def test_the_checker_catches_a_socket_import() -> None:
    # binding.py imports socket: if this stopped being seen, the test below proves nothing.
    assert "socket" in _imported_forbidden("hypercorn_protocol.server.binding")


@pytest.mark.parametrize(
    "module", [name for name in _core_modules() if name not in ALLOWED_TO_USE_SOCKETS]
)
def test_core_module_imports_no_event_loop_or_socket(module: str) -> None:
    assert _imported_forbidden(module) == []
