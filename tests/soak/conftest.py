"""Fixtures for the soak tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A working directory for an app written by the test."""
    return tmp_path
