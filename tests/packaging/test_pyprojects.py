"""The five distributions: lockstep versions, exact sibling pins, extras, typing marker."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"

# distribution name -> import package
DISTRIBUTIONS = {
    "hypercorn-protocol": "hypercorn_protocol",
    "hypercorn-asyncio": "hypercorn_asyncio",
    "hypercorn-trio": "hypercorn_trio",
    "hypercorn-cli": "hypercorn_cli",
    "hypercorn": "hypercorn",
}


def _pyproject(distribution: str) -> dict[str, Any]:
    with (PACKAGES / distribution / "pyproject.toml").open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return data


def _version(distribution: str) -> str:
    about = PACKAGES / distribution / "src" / DISTRIBUTIONS[distribution] / "__about__.py"
    for node in ast.parse(about.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise AssertionError(f"no __version__ = '...' in {about}")


def _all_requirements(distribution: str) -> list[Requirement]:
    project = _pyproject(distribution)["project"]
    texts = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts.extend(extra)
    return [Requirement(text) for text in texts]


VERSION = _version("hypercorn")


def test_every_package_directory_is_known() -> None:
    found = {path.parent.name for path in PACKAGES.glob("*/pyproject.toml")}

    assert found == set(DISTRIBUTIONS)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_project_metadata(distribution: str) -> None:
    data = _pyproject(distribution)
    project = data["project"]
    package = DISTRIBUTIONS[distribution]

    assert project["name"] == distribution
    assert project["dynamic"] == ["version"]
    assert project["requires-python"] == ">=3.10"
    assert data["tool"]["hatch"]["version"]["path"] == f"src/{package}/__about__.py"
    assert data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]
    assert (PACKAGES / distribution / project["readme"]).is_file()
    for licence in project["license-files"]:
        assert (PACKAGES / distribution / licence).is_file()


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_versions_are_in_lockstep(distribution: str) -> None:
    assert _version(distribution) == VERSION


def test_version_sorts_above_upstream_hypercorn() -> None:
    # Anything requiring hypercorn>=0.11 (Quart does) must be satisfied by us; at or below
    # 0.18.0, the last upstream release, pip would replace us with upstream Hypercorn.
    assert Version(VERSION) > Version("0.18.0")


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_installed_distribution_version_matches_the_source(distribution: str) -> None:
    # The metadata pip compares, not only the module attribute: a stale editable install
    # would keep the old version here.
    assert importlib.metadata.version(distribution) == VERSION


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_installed_version_matches_the_source(distribution: str) -> None:
    module = importlib.import_module(DISTRIBUTIONS[distribution])

    assert module.__version__ == VERSION


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_siblings_are_pinned_exactly(distribution: str) -> None:
    siblings = [req for req in _all_requirements(distribution) if req.name in DISTRIBUTIONS]

    for requirement in siblings:
        assert str(requirement.specifier) == f"=={VERSION}", str(requirement)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_py_typed_marker(distribution: str) -> None:
    assert (PACKAGES / distribution / "src" / DISTRIBUTIONS[distribution] / "py.typed").is_file()


@pytest.mark.parametrize(
    ("distribution", "extra", "needs"),
    [
        ("hypercorn", "trio", {"hypercorn-trio", "hypercorn-cli"}),
        ("hypercorn", "uvloop", {"hypercorn-asyncio"}),
        ("hypercorn", "h3", {"hypercorn-protocol"}),
        ("hypercorn", "fast", {"hypercorn-protocol"}),
        ("hypercorn-cli", "fast", {"hypercorn-protocol"}),
        ("hypercorn-cli", "trio", {"hypercorn-trio"}),
        ("hypercorn-cli", "uvloop", {"hypercorn-asyncio"}),
        ("hypercorn-cli", "reload", {"watchfiles"}),
        ("hypercorn-asyncio", "uvloop", {"uvloop"}),
        ("hypercorn-protocol", "h3", {"aioquic"}),
        ("hypercorn", "metrics", {"hypercorn-protocol"}),
        ("hypercorn-protocol", "fast", {"httptools"}),
        ("hypercorn-protocol", "metrics", {"prometheus-client"}),
    ],
)
def test_extras(distribution: str, extra: str, needs: set[str]) -> None:
    extras = _pyproject(distribution)["project"]["optional-dependencies"]

    names = {Requirement(text).name for text in extras[extra]}

    assert needs <= names


def test_meta_package_depends_on_the_default_stack() -> None:
    names = {Requirement(text).name for text in _pyproject("hypercorn")["project"]["dependencies"]}

    assert names == {"hypercorn-protocol", "hypercorn-asyncio", "hypercorn-cli"}


def test_protocol_core_depends_on_no_sibling() -> None:
    names = {req.name for req in _all_requirements("hypercorn-protocol")}

    assert not names & set(DISTRIBUTIONS)


def test_only_the_cli_declares_the_console_script() -> None:
    declaring = {
        distribution
        for distribution in DISTRIBUTIONS
        if _pyproject(distribution)["project"].get("scripts")
    }

    assert declaring == {"hypercorn-cli"}
    target = _pyproject("hypercorn-cli")["project"]["scripts"]["hypercorn"]
    module_name, _, attribute = target.partition(":")
    assert callable(getattr(importlib.import_module(module_name), attribute))
