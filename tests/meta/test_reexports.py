"""The ``hypercorn`` meta-package re-exports the implementations, unchanged."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import subprocess
import sys
import types
from collections.abc import Sequence

import pytest

import hypercorn

# (meta-package module, name, implementing module)
REEXPORTS = [
    ("hypercorn", "Config", "hypercorn_protocol.config"),
    ("hypercorn.config", "Config", "hypercorn_protocol.config"),
    ("hypercorn.config", "Sockets", "hypercorn_protocol.binding"),
    ("hypercorn.config", "SocketTypeError", "hypercorn_protocol.binding"),
    ("hypercorn.asyncio", "serve", "hypercorn_asyncio"),
    ("hypercorn.asyncio.run", "worker_serve", "hypercorn_asyncio.run"),
    ("hypercorn.asyncio.run", "asyncio_worker", "hypercorn_asyncio.run"),
    ("hypercorn.asyncio.run", "uvloop_worker", "hypercorn_asyncio.run"),
    ("hypercorn.utils", "LifespanFailureError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "LifespanTimeoutError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "NoAppError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "ShutdownError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "UnexpectedMessageError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "load_application", "hypercorn_protocol.app_loading"),
    ("hypercorn.utils", "is_asgi", "hypercorn_protocol.app_loading"),
    ("hypercorn.utils", "wrap_app", "hypercorn_protocol.app_loading"),
    ("hypercorn.logging", "Logger", "hypercorn_protocol.logging"),
    ("hypercorn.logging", "AccessLogAtoms", "hypercorn_protocol.logging"),
    ("hypercorn.app_wrappers", "ASGIWrapper", "hypercorn_protocol.app_loading"),
    ("hypercorn.app_wrappers", "WSGIWrapper", "hypercorn_protocol.wsgi"),
    ("hypercorn.run", "run", "hypercorn_cli.run"),
    ("hypercorn.__main__", "main", "hypercorn_cli.__main__"),
    ("hypercorn.typing", "ASGIFramework", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "Scope", "hypercorn_protocol.typing"),
]


@pytest.mark.parametrize(("module", "name", "source"), REEXPORTS)
def test_reexport_is_the_implementation(module: str, name: str, source: str) -> None:
    exported = getattr(importlib.import_module(module), name)

    assert exported is getattr(importlib.import_module(source), name)


@pytest.mark.parametrize(
    "module",
    sorted({module for module, _, _ in REEXPORTS} | {"hypercorn.typing", "hypercorn.utils"}),
)
def test_all_names_resolve_and_are_listed_by_dir(module: str) -> None:
    imported = importlib.import_module(module)
    names: Sequence[str] = getattr(imported, "__all__", [])

    for name in names:
        assert getattr(imported, name) is not None
        assert name in dir(imported)


def test_from_import_works() -> None:
    from hypercorn.config import Config
    from hypercorn_protocol.config import Config as ImplementationConfig

    assert Config is ImplementationConfig


def test_unknown_name_is_an_attribute_error() -> None:
    import hypercorn.config

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = hypercorn.config.no_such_name


def test_version_is_the_package_version() -> None:
    from hypercorn.__about__ import __version__

    assert hypercorn.__version__ == __version__


def test_import_hypercorn_does_not_import_the_drivers() -> None:
    # Lazy re-exports: ``import hypercorn`` stays cheap and cannot fail on a backend.
    code = (
        "import sys, hypercorn, hypercorn.config, hypercorn.asyncio, hypercorn.run;"
        "loaded = [m for m in ('hypercorn_asyncio', 'hypercorn_cli', 'hypercorn_trio', 'asyncio')"
        " if m in sys.modules];"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )

    assert result.stdout.strip() == ""


# ------------------------------------------------------------------ hypercorn.trio


@pytest.fixture
def fresh_hypercorn_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next ``import hypercorn.trio`` run the module again."""
    monkeypatch.delitem(sys.modules, "hypercorn.trio", raising=False)
    monkeypatch.delitem(sys.modules, "hypercorn.trio.run", raising=False)
    monkeypatch.delattr(hypercorn, "trio", raising=False)


@pytest.mark.usefixtures("fresh_hypercorn_trio")
@pytest.mark.parametrize("missing", ["trio", "hypercorn_trio"])
def test_missing_trio_backend_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes ``import <missing>`` fail

    with pytest.raises(ImportError, match=r"pip install 'hypercorn\[trio\]'") as caught:
        importlib.import_module("hypercorn.trio")

    assert not isinstance(caught.value, ModuleNotFoundError)
    assert caught.value.name == missing


class _BrokenDependencyFinder(importlib.abc.MetaPathFinder):
    """Makes ``import hypercorn_trio`` fail because *another* module is missing."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "hypercorn_trio":
            raise ModuleNotFoundError("No module named 'outcome_x'", name="outcome_x")
        return None


@pytest.mark.usefixtures("fresh_hypercorn_trio")
def test_other_missing_module_is_reraised_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "hypercorn_trio", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenDependencyFinder(), *sys.meta_path])

    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("hypercorn.trio")

    assert caught.value.name == "outcome_x"
    assert "hypercorn[trio]" not in str(caught.value)


@pytest.mark.usefixtures("fresh_hypercorn_trio")
def test_hypercorn_trio_imports_when_trio_is_installed() -> None:
    pytest.importorskip("trio")

    module = importlib.import_module("hypercorn.trio")

    assert "serve" in dir(module)
