"""``--reload``: notice edits to the application's source files.

What is watched: the ``.py`` files under the application's directory (the directory
its top-level module or package is imported from), never the standard library or
installed packages, even when a virtual environment lives inside that directory.

How: with `watchfiles <https://watchfiles.helpmanual.io>`_ installed
(``pip install 'hypercorn-cli[reload]'``) the operating system reports changes to any
``.py`` file in that tree; without it, the files of the modules the application
imported are polled for a new modification time every ``POLL_INTERVAL`` seconds.

Before workers are replaced, the new code is imported in a separate interpreter
(``hypercorn_cli._import_check``): if that fails, the error is logged and the running
workers keep serving until the next edit.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from hypercorn_protocol.apps.loading import parse_application_path

#: Seconds between two scans of the polling watcher.
POLL_INTERVAL = 0.5


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
    """Decides whether a file is one of the application's sources."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.excluded = _excluded_dirs(root)

    def __call__(self, filename: str) -> bool:
        """Whether ``filename`` is a ``.py`` file under the root and outside libraries."""
        if not filename.endswith(".py"):
            return False
        path = Path(filename).resolve()
        if self.root not in path.parents:
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


class ImportCheck:
    """The application imported in a fresh interpreter, run in the background."""

    def __init__(self, application_path: str, wsgi_max_body_size: int) -> None:
        # Files, not pipes: nobody reads while the check runs, and a full pipe would
        # block it.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in result()/cancel()
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypercorn_cli._import_check",
                application_path,
                str(wsgi_max_body_size),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            text=True,
        )

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
