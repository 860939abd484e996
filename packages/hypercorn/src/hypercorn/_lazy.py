"""PEP 562 lazy re-exports.

The meta-package only re-exports names implemented in the sibling packages. Resolving
them on first attribute access keeps ``import hypercorn`` cheap and means importing a
meta-package module never fails just because one backend is missing or broken.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    module_name: str, sources: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a module's ``__getattr__`` and ``__dir__`` for lazily re-exported names.

    Args:
        module_name: ``__name__`` of the re-exporting module.
        sources: exported name -> dotted name of the module that implements it.

    Returns:
        The ``(__getattr__, __dir__)`` pair to assign at module level.
    """

    def __getattr__(name: str) -> Any:
        try:
            source = sources[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(source), name)
        # Cache on the module so later lookups never come back here.
        setattr(sys.modules[module_name], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(sources))

    return __getattr__, __dir__


def with_trio_hint(lazy_getattr: Callable[[str], Any], module_name: str) -> Callable[[str], Any]:
    """Wrap a lazy ``__getattr__`` so that ``TrioWSGIMiddleware`` without trio names the extra.

    Only a missing backend gets the hint; a module missing deeper down is a real bug.
    """
    hint = (
        f"{module_name}.TrioWSGIMiddleware needs the trio backend, which is not "
        "installed: pip install 'hypercorn[trio]'"
    )

    def __getattr__(name: str) -> Any:
        try:
            return lazy_getattr(name)
        except ModuleNotFoundError as exc:
            if name == "TrioWSGIMiddleware" and exc.name in ("trio", "hypercorn_trio"):
                raise ImportError(hint, name=exc.name) from exc
            raise

    return __getattr__
