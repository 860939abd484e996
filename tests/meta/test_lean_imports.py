"""The supervisor stays small: it never loads the protocol libraries it does not use.

Every worker process parses requests; the supervisor only reads the config, binds and
watches. Each library it imports costs RSS once more per server (issue: ``-w 1`` memory).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROTOCOL_LIBRARIES = ("h11", "h2", "hpack", "hyperframe", "wsproto", "aioquic", "trio", "uvloop")


def _top_level_modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return {name.split(".")[0] for name in json.loads(output)}


@pytest.mark.parametrize(
    "statement",
    [
        "import hypercorn_protocol",
        "import hypercorn_protocol.config",
        "import hypercorn_protocol.typing",
        "import hypercorn_cli._supervisor",
        "import hypercorn_cli.__main__",
    ],
)
def test_the_supervisors_imports_load_no_protocol_library(statement: str) -> None:
    loaded = _top_level_modules_after(statement)
    assert loaded.isdisjoint(PROTOCOL_LIBRARIES), sorted(loaded & set(PROTOCOL_LIBRARIES))


def test_lazy_names_still_resolve() -> None:
    import hypercorn_protocol
    from hypercorn_protocol.typing import H11SendableEvent

    assert hypercorn_protocol.ServerConnection.__name__ == "ServerConnection"
    assert hypercorn_protocol.events.StartApp is hypercorn_protocol.StartApp
    assert set(hypercorn_protocol.__all__) <= set(dir(hypercorn_protocol))
    assert "Data" in repr(H11SendableEvent)
