"""Fixtures for every test directory."""

from __future__ import annotations

import pytest

from tests.helpers.backends import BACKENDS


@pytest.fixture(params=BACKENDS)
def loop_name(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: ``asyncio``, ``uvloop``, ``trio``."""
    return str(request.param)
