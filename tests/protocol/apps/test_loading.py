"""Application paths: parsing, importing, factories, ASGI/WSGI detection and every error."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hypercorn_protocol.apps.loading import (
    ASGIWrapper,
    is_asgi,
    load_application,
    load_object,
    parse_application_path,
    wrap_app,
)
from hypercorn_protocol.apps.wsgi import WSGIWrapper
from hypercorn_protocol.errors import NoAppError
from hypercorn_protocol.typing import ASGIReceive, ASGIScope, ASGISend
from tests.helpers.apps import loadable

LOADABLE = "tests.helpers.apps.loadable"


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    """Undo the sys.path entries and modules each load adds."""
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


def write_module(directory: Path, name: str, source: str) -> Path:
    """Write ``<directory>/<name>.py`` and make the import system see it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return path


ASGI_SOURCE = """
    async def app(scope, receive, send):
        pass

    def wsgi(environ, start_response):
        return []
"""


def load_error(path: str) -> str:
    with pytest.raises(NoAppError) as info:
        load_application(path, 1024)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("path", "mode", "module", "attribute"),
    [
        ("main", None, "main", "app"),
        ("main:app", None, "main", "app"),
        ("main:", None, "main", "app"),
        ("pkg.main:api", None, "pkg.main", "api"),
        ("asgi:main:app", "asgi", "main", "app"),
        ("wsgi:main", "wsgi", "main", "app"),
        ("src/app.py:application", None, "src/app.py", "application"),
        ("main:create_app('a:b')", None, "main", "create_app('a:b')"),
        ("C:\\srv\\app.py:app", None, "C:\\srv\\app.py", "app"),
        ("wsgi:C:/srv/app.py:make()", "wsgi", "C:/srv/app.py", "make()"),
        ("C:\\srv\\app.py", None, "C:\\srv\\app.py", "app"),
    ],
)
def test_parse_application_path(path: str, mode: str | None, module: str, attribute: str) -> None:
    parsed = parse_application_path(path)
    assert (parsed.mode, parsed.module, parsed.attribute) == (mode, module, attribute)


def test_unknown_mode_prefix_is_an_error() -> None:
    message = load_error("http:main:app")
    assert message == (
        "Cannot load application from 'http:main:app': unknown mode 'http' "
        "(expected 'asgi:' or 'wsgi:')"
    )


def test_empty_module_is_an_error() -> None:
    assert "no module given" in load_error(":app")


# --------------------------------------------------------------------------- loading


def test_module_colon_app_imports_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "cwd_main", ASGI_SOURCE)
    monkeypatch.chdir(tmp_path)
    wrapper = load_application("cwd_main:app", 1024)
    assert isinstance(wrapper, ASGIWrapper)
    assert wrapper.app is sys.modules["cwd_main"].app
    assert sys.path[0] == str(tmp_path)


def test_no_colon_means_attribute_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "bare_main", ASGI_SOURCE)
    monkeypatch.chdir(tmp_path)
    assert load_object("bare_main") is sys.modules["bare_main"].app


def test_dotted_module_and_wsgi_detection() -> None:
    wrapper = load_application(f"{LOADABLE}:wsgi_app", 4096)
    assert isinstance(wrapper, WSGIWrapper)
    assert wrapper.app is loadable.wsgi_app
    assert wrapper.max_body_size == 4096


@pytest.mark.parametrize("absolute", [False, True])
def test_file_path_puts_its_directory_first_and_imports_the_stem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, absolute: bool
) -> None:
    source = write_module(tmp_path / "project" / "src", "file_server", ASGI_SOURCE)
    monkeypatch.chdir(tmp_path)
    module_part = str(source) if absolute else "project/src/file_server.py"
    wrapper = load_application(f"{module_part}:app", 1024)
    assert sys.path[0] == str(tmp_path / "project" / "src")
    assert isinstance(wrapper, ASGIWrapper)
    assert wrapper.app is sys.modules["file_server"].app


def test_directory_path_imports_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path / "web" / "dirpkg", "__init__", ASGI_SOURCE)
    monkeypatch.chdir(tmp_path)
    assert load_object("web/dirpkg:app") is sys.modules["dirpkg"].app


def test_factory_call() -> None:
    obj = load_object(f"{LOADABLE}:create_app()")
    assert isinstance(obj, loadable.NamedASGIApp)
    assert (obj.name, obj.debug) == ("default", False)


def test_factory_call_with_literal_arguments() -> None:
    obj = load_object(f"{LOADABLE}:create_app('prod', debug=True)")
    assert isinstance(obj, loadable.NamedASGIApp)
    assert (obj.name, obj.debug) == ("prod", True)


def test_dotted_attribute() -> None:
    assert load_object(f"{LOADABLE}:namespace.app") is loadable.namespace.app


def test_factory_result_is_detected_as_asgi() -> None:
    assert isinstance(load_application(f"{LOADABLE}:create_app()", 1024), ASGIWrapper)


def test_asgi_prefix_forces_asgi() -> None:
    # A sync callable returning a coroutine looks like WSGI to detection.
    assert isinstance(load_application(f"{LOADABLE}:legacy_style", 1024), WSGIWrapper)
    wrapper = load_application(f"asgi:{LOADABLE}:legacy_style", 1024)
    assert isinstance(wrapper, ASGIWrapper)
    assert wrapper.app is loadable.legacy_style


def test_wsgi_prefix_forces_wsgi() -> None:
    wrapper = load_application(f"wsgi:{LOADABLE}:app", 10)
    assert isinstance(wrapper, WSGIWrapper)
    forced: object = wrapper.app
    assert forced is loadable.app


# --------------------------------------------------------------------------- errors


def test_module_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_error("no_such_module_xyz:app") == (
        "Cannot load application from 'no_such_module_xyz:app': "
        "module 'no_such_module_xyz' not found"
    )


def test_missing_parent_package_is_module_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_error("no_such_pkg_xyz.main") == (
        "Cannot load application from 'no_such_pkg_xyz.main': "
        "module 'no_such_pkg_xyz.main' not found"
    )


def test_failing_import_inside_the_module_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "needs_dep", "import missing_dependency_xyz\napp = None\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoAppError) as info:
        load_application("needs_dep:app", 1024)
    assert str(info.value) == (
        "Cannot load application from 'needs_dep:app': ModuleNotFoundError: "
        "No module named 'missing_dependency_xyz' (raised while importing 'needs_dep')"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_syntax_error_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_module(tmp_path, "broken_syntax", "x = 1\n\ndef app(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    message = load_error("broken_syntax:app")
    assert message.startswith(
        f"Cannot load application from 'broken_syntax:app': syntax error in {source}, line 3: "
    )


def test_error_raised_by_module_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "raises_on_import", "raise RuntimeError('no config\\nfound')\n")
    monkeypatch.chdir(tmp_path)
    # Where it was raised, so the one line is enough to find it (no traceback needed).
    assert load_error("raises_on_import") == (
        "Cannot load application from 'raises_on_import': importing 'raises_on_import' "
        f"raised RuntimeError: no config found (at {tmp_path / 'raises_on_import.py'}:1)"
    )


def test_file_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_error("nowhere/app.py:app") == (
        "Cannot load application from 'nowhere/app.py:app': file 'nowhere/app.py' not found"
    )


def test_attribute_not_found() -> None:
    assert load_error(f"{LOADABLE}:missing") == (
        f"Cannot load application from '{LOADABLE}:missing': attribute 'missing' not found "
        f"in module '{LOADABLE}'"
    )


def test_default_attribute_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "no_app_attr", "application = None\n")
    monkeypatch.chdir(tmp_path)
    assert "attribute 'app' not found in module 'no_app_attr'" in load_error("no_app_attr")


def test_dotted_attribute_not_found_names_the_missing_part() -> None:
    assert "attribute 'namespace.nope' not found" in load_error(f"{LOADABLE}:namespace.nope.app")


def _raise_line(module_name: str, function: str) -> str:
    """``file:line`` of the ``raise`` in ``function`` of ``module_name``."""
    module = importlib.import_module(module_name)
    lines, first = inspect.getsourcelines(getattr(module, function))
    offset = next(i for i, line in enumerate(lines) if line.lstrip().startswith("raise "))
    return f"{module.__file__}:{first + offset}"


def test_factory_raising() -> None:
    with pytest.raises(NoAppError) as info:
        load_object(f"{LOADABLE}:failing_factory()")
    assert str(info.value) == (
        f"Cannot load application from '{LOADABLE}:failing_factory()': calling "
        "'failing_factory()' raised ValueError: DATABASE_URL is not set "
        f"(at {_raise_line(LOADABLE, 'failing_factory')})"
    )
    assert isinstance(info.value.__cause__, ValueError)


def test_async_factory_is_refused_without_leaking_a_coroutine() -> None:
    # filterwarnings=error turns an un-awaited coroutine's RuntimeWarning into a failure.
    assert "'async_factory' is an async factory" in load_error(f"{LOADABLE}:async_factory()")


def test_not_callable() -> None:
    assert load_error(f"{LOADABLE}:not_callable") == (
        f"Cannot load application from '{LOADABLE}:not_callable': 'not_callable' in module "
        f"'{LOADABLE}' is not callable (got int)"
    )


def test_calling_a_non_callable_factory() -> None:
    assert "'not_callable' in module" in load_error(f"{LOADABLE}:not_callable()")


@pytest.mark.parametrize(
    "attribute",
    ["__import__('os').system('true')", "create_app()()", "apps[0]", "create_app().app", "1 + 1"],
)
def test_arbitrary_expressions_are_not_evaluated(attribute: str) -> None:
    assert "unsupported attribute expression" in load_error(f"{LOADABLE}:{attribute}")


def test_non_literal_factory_arguments_are_refused() -> None:
    assert "must be literals" in load_error(f"{LOADABLE}:create_app(name=open('x'))")


# --------------------------------------------------------------------------- detection


async def asgi_function(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    pass


def wsgi_function(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    return []


class AsyncCallable:
    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        pass


class SyncCallable:
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []


def sync_decorator(
    func: Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]],
) -> Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]:
    @functools.wraps(func)
    def wrapper(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> Awaitable[None]:
        return func(scope, receive, send)

    return wrapper


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (asgi_function, True),
        (AsyncCallable(), True),
        (functools.partial(asgi_function), True),
        (functools.partial(functools.partial(AsyncCallable())), True),
        (sync_decorator(asgi_function), True),
        (wsgi_function, False),
        (SyncCallable(), False),
        (functools.partial(wsgi_function), False),
        (AsyncCallable, False),  # the class: calling it builds an instance
        (42, False),
    ],
)
def test_is_asgi(app: object, expected: bool) -> None:
    assert is_asgi(app) is expected


def test_wrap_app_detects_and_keeps_wrappers() -> None:
    asgi = wrap_app(asgi_function, 100, None)
    assert isinstance(asgi, ASGIWrapper)
    assert asgi.app is asgi_function
    wsgi = wrap_app(wsgi_function, 100, None)
    assert isinstance(wsgi, WSGIWrapper)
    assert (wsgi.app, wsgi.max_body_size) == (wsgi_function, 100)
    assert wrap_app(wsgi, 5, "asgi") is wsgi
    assert isinstance(wrap_app(asgi_function, 100, "wsgi"), WSGIWrapper)


def test_wrap_app_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        wrap_app(asgi_function, 100, "http")  # type: ignore[arg-type]
