"""Reloading for programs that call ``serve()`` themselves (``config.use_reloader``).

The ``hypercorn`` command reloads by replacing worker processes. A script that runs
``asyncio.run(serve(app, config))`` has no supervisor, so its driver polls the source
files with :class:`SourceWatcher` and, once an edit compiles, shuts down gracefully
and starts the same command again with :func:`restart_process`. An edit that does not
compile is reported and the running server keeps serving.
"""

from __future__ import annotations

import logging
import os
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

#: Seconds between two scans.
POLL_INTERVAL = 0.5
_LOGGER = logging.getLogger("hypercorn.error")


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    names = {paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(str(Path(name).resolve()) for name in names if name)


class SourceWatcher:
    """Modification times of the program's own ``.py`` files (not the stdlib's or
    installed packages').
    """

    def __init__(self, files: Iterable[str] | None = None) -> None:
        self._mtimes: dict[str, float] = {}
        self._excluded = _library_dirs()
        for path in files if files is not None else self._module_files():
            self._remember(path)

    def _module_files(self) -> list[str]:
        found = []
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if isinstance(filename, str) and filename.endswith(".py"):
                found.append(filename)
        return found

    def _remember(self, path: str) -> None:
        resolved = str(Path(path).resolve())
        if resolved.startswith(self._excluded):
            return
        try:
            self._mtimes[resolved] = os.stat(resolved).st_mtime
        except OSError:
            pass

    @property
    def files(self) -> list[str]:
        return sorted(self._mtimes)

    def changes(self) -> list[str]:
        """Files modified (or removed) since the last call."""
        changed = []
        for path, seen in self._mtimes.items():
            try:
                current = os.stat(path).st_mtime
            except OSError:
                current = -1.0
            if current != seen:
                self._mtimes[path] = current
                changed.append(path)
        return changed


def compile_errors(paths: Iterable[str]) -> list[str]:
    """One line per file among ``paths`` that no longer compiles."""
    errors = []
    for path in paths:
        try:
            source = Path(path).read_bytes()
        except OSError:
            continue  # removed: the import will say what is wrong
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as error:
            errors.append(f"{path}:{error.lineno}: {error.msg}")
    return errors


def edit_ready(watcher: SourceWatcher) -> bool:
    """One poll: True once an edit compiles; a broken edit is logged and ignored."""
    changed = watcher.changes()
    if not changed:
        return False
    errors = compile_errors(changed)
    for error in errors:
        _LOGGER.error("Not reloading: %s", error)
    if errors:
        return False
    _LOGGER.info("Reloading: %s changed", ", ".join(changed))
    return True


def restart_process() -> None:
    """Replace this process with a fresh run of the same command line."""
    arguments = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    os.execv(sys.executable, [sys.executable, *arguments[1:]])


__all__ = ["POLL_INTERVAL", "SourceWatcher", "compile_errors", "edit_ready", "restart_process"]
