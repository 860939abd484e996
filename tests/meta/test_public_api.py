"""Every public import path of Hypercorn 0.18 (reference §0) works from the meta-package."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

# (module, name, implementing module): the whole of Hypercorn 0.18's public import surface.
PUBLIC_API = [
    ("hypercorn", "Config", "hypercorn_protocol.config"),
    ("hypercorn.config", "Config", "hypercorn_protocol.config"),
    ("hypercorn.config", "Sockets", "hypercorn_protocol.binding"),
    ("hypercorn.config", "SocketTypeError", "hypercorn_protocol.binding"),
    ("hypercorn.asyncio", "serve", "hypercorn_asyncio"),
    ("hypercorn.trio", "serve", "hypercorn_trio"),
    ("hypercorn.run", "run", "hypercorn_cli.run"),
    ("hypercorn.__main__", "main", "hypercorn_cli.__main__"),
    ("hypercorn.middleware", "DispatcherMiddleware", "hypercorn_protocol.middleware"),
    ("hypercorn.middleware", "HTTPToHTTPSRedirectMiddleware", "hypercorn_protocol.middleware"),
    ("hypercorn.middleware", "ProxyFixMiddleware", "hypercorn_protocol.middleware"),
    ("hypercorn.middleware", "AsyncioWSGIMiddleware", "hypercorn_asyncio.wsgi"),
    ("hypercorn.middleware", "TrioWSGIMiddleware", "hypercorn_trio.wsgi"),
    (
        "hypercorn.middleware.dispatcher",
        "AsyncioDispatcherMiddleware",
        "hypercorn_protocol.middleware.dispatcher",
    ),
    (
        "hypercorn.middleware.dispatcher",
        "TrioDispatcherMiddleware",
        "hypercorn_protocol.middleware.dispatcher",
    ),
    ("hypercorn.logging", "Logger", "hypercorn_protocol.logging"),
    ("hypercorn.logging", "AccessLogAtoms", "hypercorn_protocol.logging"),
    ("hypercorn.statsd", "StatsdLogger", "hypercorn_protocol.statsd"),
    ("hypercorn.typing", "ASGIFramework", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "Scope", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "HTTPScope", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "WebsocketScope", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "LifespanScope", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "WWWScope", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "ASGIReceiveCallable", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "ASGISendCallable", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "ASGIReceiveEvent", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "ASGISendEvent", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "Framework", "hypercorn_protocol.typing"),
    ("hypercorn.typing", "WSGIFramework", "hypercorn_protocol.typing"),
    ("hypercorn.utils", "LifespanFailureError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "LifespanTimeoutError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "NoAppError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "ShutdownError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "UnexpectedMessageError", "hypercorn_protocol.errors"),
    ("hypercorn.utils", "wrap_app", "hypercorn_protocol.app_loading"),
    ("hypercorn.utils", "load_application", "hypercorn_protocol.app_loading"),
    ("hypercorn.utils", "is_asgi", "hypercorn_protocol.app_loading"),
    ("hypercorn.app_wrappers", "ASGIWrapper", "hypercorn_protocol.app_loading"),
    ("hypercorn.app_wrappers", "WSGIWrapper", "hypercorn_protocol.wsgi"),
]


@pytest.mark.parametrize(
    ("module", "name", "source"), PUBLIC_API, ids=[f"{m}.{n}" for m, n, _ in PUBLIC_API]
)
def test_public_name_imports_and_is_the_implementation(module: str, name: str, source: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module} import {name} as imported", namespace)

    assert namespace["imported"] is getattr(importlib.import_module(source), name)


def test_hypercorn_exports_only_config_and_version() -> None:
    import hypercorn

    assert set(hypercorn.__all__) == {"Config", "__version__"}


def test_middleware_lists_hypercorns_five_names() -> None:
    import hypercorn.middleware

    assert set(hypercorn.middleware.__all__) == {
        "AsyncioWSGIMiddleware",
        "DispatcherMiddleware",
        "HTTPToHTTPSRedirectMiddleware",
        "ProxyFixMiddleware",
        "TrioWSGIMiddleware",
    }


def _loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement};print(','.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return [name for name in result.stdout.strip().split(",") if name]


def test_importing_hypercorn_middleware_does_not_import_trio() -> None:
    statement = (
        "import hypercorn.middleware, hypercorn.middleware.dispatcher;"
        "from hypercorn.middleware import DispatcherMiddleware, ProxyFixMiddleware,"
        " HTTPToHTTPSRedirectMiddleware;"
        "from hypercorn.middleware.dispatcher import TrioDispatcherMiddleware;"
        "import hypercorn.middleware.wsgi, hypercorn.middleware.proxy_fix,"
        " hypercorn.middleware.http_to_https"
    )

    assert _loaded_after(statement, ("trio", "hypercorn_trio")) == []


def test_importing_hypercorn_statsd_opens_no_socket_module() -> None:
    statement = "from hypercorn.statsd import StatsdLogger"

    modules = ("hypercorn_protocol.binding", "hypercorn_protocol.server.binding")
    assert _loaded_after(statement, modules) == []


def test_trio_wsgi_middleware_without_trio_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hypercorn.middleware

    monkeypatch.delattr(hypercorn.middleware, "TrioWSGIMiddleware", raising=False)
    monkeypatch.delitem(sys.modules, "hypercorn_trio.wsgi", raising=False)
    monkeypatch.delitem(sys.modules, "hypercorn_trio", raising=False)
    monkeypatch.setitem(sys.modules, "trio", None)

    with pytest.raises(ImportError, match=r"pip install 'hypercorn\[trio\]'"):
        hypercorn.middleware.TrioWSGIMiddleware  # noqa: B018
