"""``hypercorn.trio``: serve an app on trio (implemented in ``hypercorn_trio``).

trio is optional: without it, importing this module raises an ``ImportError`` that says
which extra to install instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypercorn._lazy import lazy_exports

_MISSING_HINT = (
    "hypercorn.trio needs the trio backend, which is not installed: pip install 'hypercorn[trio]'"
)

try:
    import hypercorn_trio  # noqa: F401
    import trio  # noqa: F401
except ModuleNotFoundError as exc:
    # Only a missing backend gets the hint; a module missing deeper down is a real bug.
    if exc.name not in ("trio", "hypercorn_trio"):
        raise
    raise ImportError(_MISSING_HINT, name=exc.name) from exc

if TYPE_CHECKING:
    from hypercorn_trio import serve as serve

__all__ = ["serve"]

__getattr__, __dir__ = lazy_exports(__name__, {"serve": "hypercorn_trio"})
