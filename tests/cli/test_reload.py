"""``--reload``: edits are served, broken edits are not, with and without watchfiles."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from hypercorn_protocol.server.reloading import PollingWatcher, SourceFilter, app_root
from tests.cli._support import PID_APP, StartServer, ask, free_port, wait_for_reply

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _edit(path: Path, text: str) -> None:
    path.write_text(text)
    # A later mtime even on file systems with coarse timestamps.
    later = time.time() + 2
    os.utime(path, (later, later))


def _version(text: str) -> str:
    return PID_APP.replace('VERSION = "v1"', text)


@pytest.mark.slow
def test_reload_serves_edits_and_keeps_old_workers_through_a_syntax_error(
    start_server: StartServer, app_dir: Path
) -> None:
    pytest.importorskip("watchfiles")
    port = free_port()
    (app_dir / "version.py").write_text('VERSION = "v1"\n')
    (app_dir / "pidapp.py").write_text(_version("from version import VERSION"))
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "1", "--reload")
    server.wait_for("(watchfiles)")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    first = ask(port)
    assert first.version == "v1"

    _edit(app_dir / "version.py", 'VERSION = "v2"\n')  # an imported module, not the app file
    second = wait_for_reply(port, lambda reply: reply.version == "v2")
    assert second.pid != first.pid

    _edit(app_dir / "version.py", 'VERSION = "v3\n')
    (line,) = server.wait_for("Reload failed")
    assert "version.py" in line
    assert "syntax error" in line
    assert {ask(port) for _ in range(10)} == {second}  # the old worker keeps serving

    _edit(app_dir / "version.py", 'VERSION = "v3"\n')
    assert wait_for_reply(port, lambda reply: reply.version == "v3").pid != second.pid
    assert server.stop() == 0


@pytest.mark.slow
def test_reload_polls_without_watchfiles_and_needs_no_worker_count(
    start_server: StartServer, app_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    hidden = tmp_path_factory.mktemp("no_watchfiles")
    (hidden / "watchfiles.py").write_text("raise ImportError('watchfiles hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hidden), *sys.path]))}
    port = free_port()
    server = start_server("pidapp:app", "-b", f"127.0.0.1:{port}", "-w", "0", "--reload", env=env)
    server.wait_for("(polling)")
    server.wait_for(f"Running on http://127.0.0.1:{port}")
    first = ask(port)
    assert first.pid != server.process.pid  # -w 0 --reload: one supervised worker

    _edit(app_dir / "pidapp.py", _version('VERSION = "v2"'))

    assert wait_for_reply(port, lambda reply: reply.version == "v2").pid != first.pid
    assert server.stop() == 0


def test_source_filter_keeps_the_app_tree_and_skips_libraries(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("")
    sources = SourceFilter(tmp_path)

    assert sources(str(tmp_path / "pkg" / "mod.py"))
    assert not sources(str(tmp_path / "pkg" / "data.txt"))
    assert not sources(str(tmp_path.parent / "elsewhere.py"))
    assert not sources(os.__file__)  # the standard library
    assert not sources(pytest.__file__)  # an installed package


def test_app_root_of_a_file_path(tmp_path: Path) -> None:
    assert app_root(f"{tmp_path}/src/app.py:app") == tmp_path / "src"


def test_polling_watcher_reports_changed_and_removed_files(tmp_path: Path) -> None:
    kept, edited, removed = (tmp_path / name for name in ("kept.py", "edited.py", "removed.py"))
    for path in (kept, edited, removed):
        path.write_text("x = 1\n")
    watcher = PollingWatcher([str(kept), str(edited), str(removed)], interval=0)
    assert watcher.changes() == []

    _edit(edited, "x = 2\n")
    removed.unlink()

    assert sorted(watcher.changes()) == sorted([str(edited), str(removed)])
    assert watcher.changes() == []
