"""Reloading on source edits: one watcher for ``--reload`` and for ``serve()``.

What is watched (:class:`SourceFilter`): the application's ``.py`` files, never the
standard library or installed packages. ``--reload`` watches the tree the application
is imported from (:func:`app_root`), even when a virtual environment lives inside it;
``serve()`` with ``config.use_reloader`` watches every file of the program outside the
libraries.

How (:func:`make_watcher`): with `watchfiles <https://watchfiles.helpmanual.io>`_
installed (``pip install 'hypercorn-cli[reload]'``) and a tree to watch, the operating
system reports changes to any ``.py`` file in it; otherwise the files of the modules
already imported are polled for a new modification time every ``POLL_INTERVAL``.

Before anything is replaced, the edited code is imported in a fresh interpreter
(:class:`ImportCheck`): the supervisor loads the application before it replaces
workers; a program that calls ``serve()`` has no supervisor, so its driver polls a
:class:`ProgramReloader` (compile, then import the edited modules), shuts down
gracefully and starts the same command again (:func:`restart_process`). Either way a
broken edit (a syntax error, an import error) is logged and the running server keeps
serving.
"""

from __future__ import annotations

import logging
import os
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from hypercorn_protocol.apps.loading import parse_application_path

#: Seconds between two scans of the polling watcher.
POLL_INTERVAL = 0.5
_LOGGER = logging.getLogger("hypercorn.error")


class Watcher(Protocol):
    """Something that reports which watched files changed since it was last asked."""

    def changes(self) -> list[str]:
        """Paths changed since the last call (empty when none); never blocks."""
        ...

    def watch_more(self, files: Iterable[str]) -> None:
        """Also watch ``files`` (modules the new code imports)."""
        ...

    def close(self) -> None:
        """Stop watching."""
        ...


def app_root(application_path: str) -> Path:
    """The directory the application's top-level module or package is imported from."""
    module = parse_application_path(application_path).module
    if module.endswith(".py") or "/" in module or os.sep in module:
        return Path(module).resolve().parent
    top = sys.modules.get(module.split(".")[0])
    filename = getattr(top, "__file__", None)
    if not isinstance(filename, str):
        return Path.cwd()
    path = Path(filename).resolve()
    if path.stem == "__init__":
        return path.parent.parent
    return path.parent


def _library_dirs() -> list[Path]:
    # The standard library's and installed packages' directories.
    paths = sysconfig.get_paths()
    names = {paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return sorted({Path(name).resolve() for name in names if name})


def _excluded_dirs(root: Path) -> list[Path]:
    # Library locations inside the root (a virtual environment in the project) are
    # skipped; those containing the root (an app installed in site-packages) cannot be.
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    candidates.update(sysconfig.get_paths().values())
    candidates.update(getattr(site, "getsitepackages", list)())
    candidates.add(site.getusersitepackages())
    paths = {Path(candidate).resolve() for candidate in candidates}
    return sorted(path for path in paths if root in path.parents)


class SourceFilter:
    """Decides whether a file is one of the application's sources.

    Args:
        root: The application's directory (``--reload``: see :func:`app_root`); library
            locations inside it are skipped. None (``serve()`` with ``use_reloader``):
            any file outside the standard library and installed packages.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.excluded = _library_dirs() if root is None else _excluded_dirs(root)

    def __call__(self, filename: str) -> bool:
        """Whether ``filename`` is a ``.py`` file under the root and outside libraries."""
        if not filename.endswith(".py"):
            return False
        path = Path(filename).resolve()
        if self.root is not None and self.root not in path.parents:
            return False
        if "__pycache__" in path.parts:
            return False
        return not any(excluded == path or excluded in path.parents for excluded in self.excluded)

    def select(self, filenames: Iterable[str]) -> set[str]:
        """The application's sources among ``filenames``."""
        return {str(Path(name).resolve()) for name in filenames if self(name)}


def loaded_sources(source_filter: SourceFilter) -> set[str]:
    """The application's sources among the modules this process has imported."""
    names = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    return source_filter.select(name for name in names if isinstance(name, str))


class PollingWatcher:
    """Compares modification times of known files every ``interval`` seconds."""

    def __init__(self, files: Iterable[str], interval: float = POLL_INTERVAL) -> None:
        self.interval = interval
        self.mtimes: dict[str, float | None] = {}
        self.next_scan = time.monotonic() + interval
        self.watch_more(files)

    @staticmethod
    def _mtime(path: str) -> float | None:
        try:
            return os.stat(path).st_mtime_ns / 1e9
        except OSError:
            return None

    def watch_more(self, files: Iterable[str]) -> None:
        for path in files:
            if path not in self.mtimes:
                self.mtimes[path] = self._mtime(path)

    def changes(self) -> list[str]:
        now = time.monotonic()
        if now < self.next_scan:
            return []
        self.next_scan = now + self.interval
        changed = []
        for path, seen in self.mtimes.items():
            current = self._mtime(path)
            if current != seen:
                self.mtimes[path] = current
                changed.append(path)
        return changed

    def close(self) -> None:
        pass


class WatchfilesWatcher:
    """Collects changes that ``watchfiles`` reports from a background thread."""

    def __init__(self, root: Path, source_filter: SourceFilter, watchfiles: Any) -> None:
        self._changed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._filter = source_filter

        def accept(change: object, path: str) -> bool:
            return source_filter(path)

        def run() -> None:
            for batch in watchfiles.watch(
                root,
                watch_filter=accept,
                debounce=200,
                step=50,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                with self._lock:
                    self._changed.extend(path for _, path in batch)

        self._thread = threading.Thread(target=run, name="hypercorn-reload", daemon=True)
        self._thread.start()

    def watch_more(self, files: Iterable[str]) -> None:
        pass  # the whole tree is watched already

    def changes(self) -> list[str]:
        with self._lock:
            changed, self._changed = self._changed, []
        return sorted(set(changed))

    def close(self) -> None:
        self._stop.set()


def make_watcher(root: Path, source_filter: SourceFilter) -> tuple[Watcher, str]:
    """A watcher for ``root`` and the name of its method (``watchfiles`` or ``polling``)."""
    try:
        import watchfiles
    except ImportError:
        return PollingWatcher(loaded_sources(source_filter)), "polling"
    return WatchfilesWatcher(root, source_filter, watchfiles), "watchfiles"


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


class ImportCheck:
    """Edited code imported in a fresh interpreter, run in the background
    (:mod:`hypercorn_protocol.server.import_check`).

    Args:
        arguments: ``[APP_PATH, WSGI_MAX_BODY_SIZE]`` or ``["--modules", NAME, ...]``.
        env: The interpreter's environment (this process's when None).
    """

    def __init__(self, arguments: Sequence[str], env: dict[str, str] | None = None) -> None:
        # Files, not pipes: nobody reads while the check runs, and a full pipe would
        # block it.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in result()/cancel()
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hypercorn_protocol.server.import_check", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            text=True,
            env=env,
        )

    @classmethod
    def of_application(cls, application_path: str, wsgi_max_body_size: int) -> ImportCheck:
        """Load the application as a worker would (``--reload``)."""
        return cls([application_path, str(wsgi_max_body_size)])

    @classmethod
    def of_modules(cls, names: Iterable[str]) -> ImportCheck:
        """Import these modules, with this process's ``sys.path`` (``serve()``)."""
        path = os.pathsep.join(entry for entry in sys.path if entry)
        return cls(["--modules", *names], env={**os.environ, "PYTHONPATH": path})

    def result(self) -> tuple[bool, str, list[str]] | None:
        """None while running; then (succeeded, error line, imported module files)."""
        if self.process.poll() is None:
            return None
        out, err = self._read(self._out), self._read(self._err)
        lines = [line for line in err.splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit code {self.process.returncode}"
        return self.process.returncode == 0, message, out.splitlines()

    @staticmethod
    def _read(file: IO[str]) -> str:
        file.seek(0)
        text = file.read()
        file.close()
        return text

    def cancel(self) -> None:
        """Stop the check (a newer edit makes it moot)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._out.close()
        self._err.close()


class ProgramReloader:
    """``serve()``'s reloader: polled by the driver every ``POLL_INTERVAL``.

    It watches the program's own imported files; an edit must compile, and the edited
    modules must import in a fresh interpreter (:class:`ImportCheck`; an edit of the
    ``__main__`` script is only compiled, as importing it would start a server). A broken
    edit is logged ("Not reloading: ...") and the server keeps serving.
    """

    def __init__(self) -> None:
        self.watcher: Watcher = PollingWatcher(loaded_sources(SourceFilter()), interval=0.0)
        self._check: ImportCheck | None = None
        self._changed: list[str] = []

    def poll(self) -> bool:
        """True once an edit compiles and imports: time to restart."""
        changed = self.watcher.changes()
        if changed:
            self.close()
            errors = compile_errors(changed)
            for error in errors:
                _LOGGER.error("Not reloading: %s", error)
            if errors:
                return False
            self._changed = changed
            modules = _module_names(changed)
            if not modules:
                return self._reloading()
            self._check = ImportCheck.of_modules(modules)
        if self._check is None:
            return False
        result = self._check.result()
        if result is None:
            return False
        self._check = None
        succeeded, message, _ = result
        if not succeeded:
            _LOGGER.error("Not reloading: %s", message)
            return False
        return self._reloading()

    def _reloading(self) -> bool:
        _LOGGER.info("Reloading: %s changed", ", ".join(self._changed))
        return True

    def close(self) -> None:
        """Stop a running import check."""
        if self._check is not None:
            self._check.cancel()
            self._check = None


def _module_names(paths: Iterable[str]) -> list[str]:
    # The imported modules (never ``__main__``) whose files are ``paths``.
    wanted = {str(Path(path).resolve()) for path in paths}
    names = []
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if name == "__main__" or not isinstance(filename, str):
            continue
        if str(Path(filename).resolve()) in wanted:
            names.append(name)
    return sorted(names)


def restart_process() -> None:
    """Replace this process with a fresh run of the same command line."""
    arguments = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    os.execv(sys.executable, [sys.executable, *arguments[1:]])


__all__ = [
    "POLL_INTERVAL",
    "ImportCheck",
    "PollingWatcher",
    "ProgramReloader",
    "SourceFilter",
    "Watcher",
    "WatchfilesWatcher",
    "app_root",
    "compile_errors",
    "loaded_sources",
    "make_watcher",
    "restart_process",
]
