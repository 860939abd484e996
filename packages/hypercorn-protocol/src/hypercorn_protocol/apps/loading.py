"""Find the application named on the command line and decide whether it is ASGI or WSGI.

An application path is ``[asgi:|wsgi:]<module>[:<attribute>]``:

* ``<module>`` is a dotted module name (``pkg.main``) or a filesystem path
  (``src/app.py``, ``src/pkg``). A path's parent directory is put at ``sys.path[0]`` and
  the module is imported by its stem; for a dotted name the current directory is put
  there, so ``hypercorn main:app`` works from a console script.
* ``<attribute>`` defaults to ``app``. It may be dotted (``api.app``) and may end in a
  call with literal arguments (``create_app()``, ``create_app("prod", debug=False)``),
  which is how application factories are used. Nothing else is evaluated: no ``eval``.
* ``asgi:`` / ``wsgi:`` force the interface; without them :func:`is_asgi` decides.

Every failure is a :class:`~hypercorn_protocol.errors.NoAppError` with a one-line
message that says which of these went wrong, with the original error chained.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from hypercorn_protocol.apps.wsgi import WSGIWrapper
from hypercorn_protocol.errors import NoAppError
from hypercorn_protocol.typing import ASGIApp

Mode: TypeAlias = Literal["asgi", "wsgi"]

_MODES: tuple[Mode, ...] = ("asgi", "wsgi")
_DEFAULT_ATTRIBUTE = "app"
# "C:\..." or "C:/..." must not be mistaken for a mode prefix or the attribute separator.
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True)
class ASGIWrapper:
    """An ASGI 3 application, ready to be served as is.

    Attributes:
        app: The ``async (scope, receive, send)`` callable.
    """

    app: ASGIApp


AppWrapper: TypeAlias = ASGIWrapper | WSGIWrapper


@dataclass(frozen=True, slots=True)
class ApplicationPath:
    """A parsed application path (see the module docstring).

    Attributes:
        mode: ``"asgi"``, ``"wsgi"`` or ``None`` (detect).
        module: The module part, a dotted name or a filesystem path.
        attribute: The attribute expression, ``"app"`` when none was given.
    """

    mode: Mode | None
    module: str
    attribute: str


def parse_application_path(path: str) -> ApplicationPath:
    """Split ``[mode:]module[:attribute]`` into its parts.

    Args:
        path: The application path as the user wrote it.

    Returns:
        The parsed parts.

    Raises:
        NoAppError: The path is empty or has an unknown mode prefix.
    """
    rest = path.strip()
    mode: Mode | None = None
    prefix, sep, remainder = rest.partition(":")
    if sep and prefix in _MODES:
        mode = "asgi" if prefix == "asgi" else "wsgi"
        rest = remainder
    elif sep and not _WINDOWS_DRIVE.match(rest) and ":" in remainder.partition("(")[0]:
        # Three parts before any call arguments: the first one can only be a mode.
        raise NoAppError(
            f"Cannot load application from {path!r}: unknown mode {prefix!r} "
            "(expected 'asgi:' or 'wsgi:')"
        )
    start = 2 if _WINDOWS_DRIVE.match(rest) else 0
    index = rest.find(":", start)
    if index == -1:
        module, attribute = rest, ""
    else:
        module, attribute = rest[:index], rest[index + 1 :]
    module, attribute = module.strip(), attribute.strip()
    if not module:
        raise NoAppError(f"Cannot load application from {path!r}: no module given")
    return ApplicationPath(mode, module, attribute or _DEFAULT_ATTRIBUTE)


def load_object(path: str) -> object:
    """Import the object an application path names (any mode prefix is ignored).

    Args:
        path: ``module:attribute``, ``path/to/file.py:attribute`` or just ``module``.

    Returns:
        The object, after calling it if the attribute ends in ``(...)``.

    Raises:
        NoAppError: With a one-line message saying what went wrong.
    """
    parsed = parse_application_path(path)
    module = _import_module(path, parsed.module)
    obj = _resolve_attribute(path, module, parsed.attribute)
    if not callable(obj):
        raise NoAppError(
            f"Cannot load application from {path!r}: {parsed.attribute!r} in module "
            f"{module.__name__!r} is not callable (got {type(obj).__name__})"
        )
    return obj


def load_application(path: str, wsgi_max_body_size: int) -> AppWrapper:
    """Load and wrap the application an application path names.

    Args:
        path: The application path (see the module docstring).
        wsgi_max_body_size: Largest request body buffered for a WSGI app, in bytes.

    Returns:
        An :class:`ASGIWrapper` or a :class:`~hypercorn_protocol.apps.wsgi.WSGIWrapper`.

    Raises:
        NoAppError: The application could not be loaded.
    """
    parsed = parse_application_path(path)
    return wrap_app(load_object(path), wsgi_max_body_size, parsed.mode)


def is_asgi(app: object) -> bool:
    """Tell whether ``app`` is an ASGI 3 application.

    True for a coroutine function, an object whose ``__call__`` is one, and either of
    those wrapped in :func:`functools.partial` or a ``functools.wraps`` decorator.
    A class is never an app (calling it builds an instance).

    Args:
        app: Any callable.
    """
    while isinstance(app, functools.partial):
        app = app.func
    if inspect.isclass(app):
        return False
    if _is_coroutine_function(app):
        return True
    # Look __call__ up on the type, as the call itself does.
    return callable(app) and _is_coroutine_function(type(app).__call__)


def wrap_app(app: Any, wsgi_max_body_size: int, mode: Mode | None) -> AppWrapper:
    """Wrap ``app`` for serving, detecting ASGI vs WSGI unless ``mode`` says.

    Args:
        app: An ASGI or WSGI callable (an existing wrapper is returned unchanged).
        wsgi_max_body_size: Largest request body buffered for a WSGI app, in bytes.
        mode: ``"asgi"``, ``"wsgi"`` or ``None`` to detect with :func:`is_asgi`.

    Returns:
        The wrapper the drivers serve.
    """
    if isinstance(app, ASGIWrapper | WSGIWrapper):
        return app
    if mode is None:
        mode = "asgi" if is_asgi(app) else "wsgi"
    if mode == "asgi":
        return ASGIWrapper(app)
    if mode == "wsgi":
        return WSGIWrapper(app, wsgi_max_body_size)
    raise ValueError(f"mode must be 'asgi', 'wsgi' or None, not {mode!r}")


def _is_coroutine_function(func: object) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    try:
        unwrapped = inspect.unwrap(func)  # type: ignore[arg-type]
    except ValueError:  # a __wrapped__ cycle
        return False
    return unwrapped is not func and inspect.iscoroutinefunction(unwrapped)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _raised_at(error: BaseException) -> str:
    """Where ``error`` was raised: `` (at file:line)``, or two frames when the innermost
    one is outside the application (``os.environ[...]`` fails inside os.py)."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<frozen ") and frame.filename != __file__
    ]
    if not frames:
        return ""
    places = [frames[-1]]
    library = (sys.prefix, sys.base_prefix, os.path.dirname(os.__file__))
    if frames[-1].filename.startswith(library):
        caller = next((f for f in reversed(frames) if not f.filename.startswith(library)), None)
        if caller is not None:
            places.insert(0, caller)
    return " (at " + " -> ".join(f"{f.filename}:{f.lineno}" for f in places) + ")"


def _import_module(path: str, module_part: str) -> Any:
    is_file_path = module_part.endswith(".py") or "/" in module_part or os.sep in module_part
    if is_file_path:
        location = os.path.realpath(module_part)
        if module_part.endswith(".py") and not os.path.isfile(location):
            raise NoAppError(
                f"Cannot load application from {path!r}: file {module_part!r} not found"
            )
        if not os.path.exists(location):
            raise NoAppError(f"Cannot load application from {path!r}: {module_part!r} not found")
        directory, name = os.path.split(location)
        import_name = os.path.splitext(name)[0] if os.path.isfile(location) else name
    else:
        directory = os.getcwd()
        import_name = module_part
    if not sys.path or sys.path[0] != directory:
        sys.path.insert(0, directory)

    try:
        return importlib.import_module(import_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (import_name == missing or import_name.startswith(missing + ".")):
            raise NoAppError(
                f"Cannot load application from {path!r}: module {import_name!r} not found"
            ) from error
        raise NoAppError(
            f"Cannot load application from {path!r}: {_one_line(error)} "
            f"(raised while importing {import_name!r})"
        ) from error
    except SyntaxError as error:
        where = f"{error.filename or import_name}, line {error.lineno}"
        raise NoAppError(
            f"Cannot load application from {path!r}: syntax error in {where}: {error.msg}"
        ) from error
    except Exception as error:
        raise NoAppError(
            f"Cannot load application from {path!r}: importing {import_name!r} raised "
            f"{_one_line(error)}{_raised_at(error)}"
        ) from error


def _parse_attribute(path: str, attribute: str) -> tuple[list[str], ast.Call | None]:
    """Split ``a.b.c(args)`` into ``["a", "b", "c"]`` and the call node, if any."""
    unsupported = NoAppError(
        f"Cannot load application from {path!r}: unsupported attribute expression "
        f"{attribute!r} (use 'name', 'obj.attr' or 'factory(...)' with literal arguments)"
    )
    try:
        node = ast.parse(attribute, mode="eval").body
    except SyntaxError:
        raise unsupported from None
    call: ast.Call | None = None
    if isinstance(node, ast.Call):
        call, node = node, node.func
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise unsupported
    names.append(node.id)
    names.reverse()
    return names, call


def _literal_arguments(
    path: str, attribute: str, call: ast.Call
) -> tuple[list[Any], dict[str, Any]]:
    try:
        args = [ast.literal_eval(arg) for arg in call.args]
        kwargs = {}
        for keyword in call.keywords:
            if keyword.arg is None:  # **mapping
                raise ValueError
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except ValueError:
        raise NoAppError(
            f"Cannot load application from {path!r}: the arguments of {attribute!r} must be "
            "literals (strings, numbers, True/False/None, lists, dicts)"
        ) from None
    return args, kwargs


def _resolve_attribute(path: str, module: Any, attribute: str) -> object:
    names, call = _parse_attribute(path, attribute)
    obj: object = module
    for depth, name in enumerate(names):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            dotted = ".".join(names[: depth + 1])
            raise NoAppError(
                f"Cannot load application from {path!r}: attribute {dotted!r} not found in "
                f"module {module.__name__!r}"
            ) from None
    if call is None:
        return obj
    args, kwargs = _literal_arguments(path, attribute, call)
    factory = ".".join(names)
    if not callable(obj):
        raise NoAppError(
            f"Cannot load application from {path!r}: {factory!r} in module "
            f"{module.__name__!r} is not callable (got {type(obj).__name__})"
        )
    try:
        result = obj(*args, **kwargs)
    except Exception as error:
        raise NoAppError(
            f"Cannot load application from {path!r}: calling {attribute!r} raised "
            f"{_one_line(error)}{_raised_at(error)}"
        ) from error
    if inspect.iscoroutine(result):
        result.close()  # never awaited on purpose; closing avoids a RuntimeWarning
        raise NoAppError(
            f"Cannot load application from {path!r}: {factory!r} is an async factory; "
            "it must return the application, not a coroutine"
        )
    return result


__all__ = [
    "ASGIWrapper",
    "AppWrapper",
    "ApplicationPath",
    "Mode",
    "is_asgi",
    "load_application",
    "load_object",
    "parse_application_path",
    "wrap_app",
]
