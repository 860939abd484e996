"""Fixtures for every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hypercorn_protocol.config import Config
from hypercorn_protocol.http1.parsers import httptools_wire
from tests.helpers import protocol
from tests.helpers.backends import BACKENDS

#: The HTTP/1.1 wires installed here (h11 always; httptools with hypercorn[fast]).
WIRES = ["h11"] + (["httptools"] if httptools_wire() is not None else [])


@pytest.fixture(params=BACKENDS)
def loop_name(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: ``asyncio``, ``uvloop``, ``trio``."""
    return str(request.param)


@pytest.fixture(params=WIRES, scope="module")
def http1_wire(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each HTTP/1.1 wire in turn, as the default of ``Config`` and the test ``Settings``."""
    wire = str(request.param)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Config, "http_parser", wire)
        protocol.WIRE[0] = wire
        try:
            yield wire
        finally:
            protocol.WIRE[0] = "auto"
