"""Run the Autobahn|Testsuite fuzzing client against our server, once per worker class.

Usage (from the repository root)::

    hatch run conformance:autobahn                      # every case, every worker class
    hatch run conformance:autobahn --worker-class trio  # one worker class
    hatch run conformance:autobahn --cases '1.*' '9.*'  # a subset while iterating

For each worker class in turn (asyncio, uvloop and trio, the last two when
importable) this starts ``hypercorn -k CLASS -b 127.0.0.1:0 echo_app.py:app``, learns
the port from its startup line, writes ``<reports>/CLASS/fuzzingclient.json`` covering
the selected cases (all of them, compression included, by default), runs
``wstest -m fuzzingclient`` (installed by ``setup_py27.sh`` on first use), then stops
the server. At the end it reads each ``<reports>/CLASS/servers/index.json`` and prints
the verdict counts. The exit status is 1 when any case is FAILED (its behaviour or its
closing behaviour), when a report is missing, when a server died, or when a run
exceeded ``--timeout``; the servers are stopped whatever happens.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
WORKER_CLASSES = ("asyncio", "uvloop", "trio")
#: The verdicts Autobahn gives a case's behaviour, in the order the summary prints them.
BEHAVIOURS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
#: Closing-handshake verdicts that are not failures of the server.
CLEAN_CLOSES = frozenset({"OK", "INFORMATIONAL"})
_RUNNING = re.compile(rb"Running on http://127\.0\.0\.1:(\d+)")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class RunError(Exception):
    """The run could not be carried out (not a conformance failure)."""


def _die(message: str) -> NoReturn:
    print(f"run.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------- processes
def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and everything it spawned."""
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    # The workers of a multi-process server may outlive the parent; sweep the group.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _hypercorn_command() -> list[str]:
    # Prefer the command installed next to this interpreter (the hatch env's).
    beside = Path(sys.executable).with_name("hypercorn")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("hypercorn")
    if found is None:
        _die("no `hypercorn` command; run this with the hatch env: hatch run conformance:autobahn")
    return [found]


@dataclass
class Server:
    """One running ``hypercorn`` with the echo app."""

    worker_class: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def agent(self) -> str:
        """The name Autobahn files this server's results under."""
        return f"hypercorn-{self.worker_class}"

    @property
    def url(self) -> str:
        """The WebSocket URL the fuzzing client connects to."""
        return f"ws://127.0.0.1:{self.port}"


@contextmanager
def serve(worker_class: str, log_dir: Path) -> Iterator[Server]:
    """Start our server with the echo app on a free loopback port; stop it on exit."""
    log = log_dir / f"server-{worker_class}.log"
    command = [
        *_hypercorn_command(),
        "--worker-class",
        worker_class,
        "--bind",
        "127.0.0.1:0",  # the kernel picks a free port; the startup line tells us which
        "--error-logfile",
        "-",
        "--log-level",
        "INFO",
        f"{HERE / 'echo_app.py'}:app",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=HERE,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(process, log)
        yield Server(worker_class, process, port, log)
    finally:
        _stop_group(process)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        match = _RUNNING.search(log.read_bytes())
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:]
    raise RunError(f"{process.args!r} did not start (log {log}):\n{tail}")


def ensure_wstest(explicit: str | None) -> str:
    """The ``wstest`` launcher: the one given, or the one ``setup_py27.sh`` installs."""
    if explicit:
        return explicit
    result = subprocess.run(
        [str(HERE / "setup_py27.sh")], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    lines = result.stdout.decode().split()
    if result.returncode != 0 or not lines:
        _die("setup_py27.sh could not install Autobahn|Testsuite (see its messages above)")
    return lines[-1]


def run_wstest(wstest: str, spec: Path, log: Path, timeout: float) -> bool:
    """Run the fuzzing client; False when it had to be stopped at ``timeout``."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [wstest, "-m", "fuzzingclient", "-s", str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=spec.parent,
            start_new_session=True,
        )
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        finally:
            _stop_group(process)
    if process.returncode != 0:
        raise RunError(f"wstest exited with {process.returncode}; see {log}")
    return True


def write_spec(
    path: Path, servers: Sequence[Server], cases: list[str], exclude: list[str], outdir: Path
) -> None:
    """Write the fuzzing client's configuration for ``servers``."""
    spec = {
        "options": {"failByDrop": False},  # as the Hypercorn 0.18 baseline was measured
        "outdir": str(outdir),
        "servers": [{"agent": server.agent, "url": server.url} for server in servers],
        "cases": cases,
        "exclude-cases": exclude,
        "exclude-agent-cases": {},
    }
    path.write_text(json.dumps(spec, indent=2) + "\n")


# ------------------------------------------------------------------------- summary
def _case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split(".") if part.isdigit())


def _failed(result: dict[str, Any]) -> bool:
    return bool(result.get("behavior") == "FAILED" or result.get("behaviorClose") == "FAILED")


def _why(outdir: Path, result: dict[str, Any]) -> str:
    """The case report's own one-line explanation of a failure, when it has one."""
    name = result.get("reportfile")
    if not name:
        return ""
    try:
        report = json.loads((outdir / str(name)).read_text())
    except (OSError, ValueError):
        return ""
    texts = [str(report.get(key) or "") for key in ("result", "resultClose")]
    return " / ".join(text for text in texts if text)


def summarize(reports: Sequence[tuple[str, Path]]) -> bool:
    """Print verdict counts per server and every failure; True when nothing failed.

    Args:
        reports: ``(agent, outdir)`` pairs; ``outdir`` holds that run's ``index.json``.
    """
    ok = True
    header = f"{'server':<18}{'cases':>6}" + "".join(f"{name:>15}" for name in BEHAVIOURS)
    print(header + f"{'close not OK':>14}")
    failures: list[str] = []
    notes: list[str] = []
    for agent, outdir in reports:
        index_path = outdir / "index.json"
        try:
            index: dict[str, dict[str, dict[str, Any]]] = json.loads(index_path.read_text())
        except (OSError, ValueError):
            index = {}
        results = index.get(agent)
        if not results:
            print(f"{agent:<18}  no results in {index_path}")
            ok = False
            continue
        behaviours = Counter(str(r.get("behavior")) for r in results.values())
        unclean = {
            case: r for case, r in results.items() if r.get("behaviorClose") not in CLEAN_CLOSES
        }
        row = f"{agent:<18}{len(results):>6}" + "".join(
            f"{behaviours.get(name, 0):>15}" for name in BEHAVIOURS
        )
        print(row + f"{len(unclean):>14}")
        unknown = set(behaviours) - set(BEHAVIOURS)
        if unknown:
            notes.append(f"  {agent}: other verdicts {sorted(unknown)}")
        for case in sorted(results, key=_case_key):
            result = results[case]
            verdict = f"{result.get('behavior')}, close {result.get('behaviorClose')}"
            if _failed(result):
                ok = False
                failures.append(f"  {agent} {case}: {verdict}: {_why(outdir, result)}")
            elif case in unclean:
                notes.append(f"  {agent} {case}: {verdict}")
    if failures:
        print("\nFAILED cases:")
        print("\n".join(failures))
    if notes:
        print("\nnot failures, but worth a look:")
        print("\n".join(notes))
    for _, outdir in reports:
        print(f"report: {outdir / 'index.html'}")
    return ok


# ---------------------------------------------------------------------------- main
def _worker_classes(requested: list[str] | None) -> list[str]:
    def importable(name: str) -> bool:
        return name == "asyncio" or importlib.util.find_spec(name) is not None

    if requested:
        missing = [name for name in requested if not importable(name)]
        if missing:
            _die(f"worker class(es) {missing} requested but not importable here")
        return requested
    return [name for name in WORKER_CLASSES if importable(name)]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "-k",
        "--worker-class",
        action="append",
        choices=WORKER_CLASSES,
        help="worker class to test (repeatable; default: every importable one)",
    )
    parser.add_argument(
        "--cases", nargs="+", default=["*"], help="case patterns to run (default: every case)"
    )
    parser.add_argument("--exclude", nargs="+", default=[], help="case patterns to skip")
    parser.add_argument(
        "--reports",
        type=Path,
        default=HERE / "reports",
        help="where the spec, logs and reports go (default: conformance/autobahn/reports)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds the fuzzing client may take per worker class (default: 3600)",
    )
    parser.add_argument("--wstest", help="a wstest launcher to use instead of setup_py27.sh's")
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="only summarize the existing report for the selected worker classes",
    )
    return parser.parse_args(argv)


def fuzz(worker_class: str, wstest: str, workdir: Path, args: argparse.Namespace) -> list[str]:
    """Run the fuzzing client against one worker class; return what went wrong."""
    workdir.mkdir(parents=True, exist_ok=True)
    outdir = workdir / "servers"
    if outdir.exists():
        shutil.rmtree(outdir)  # never summarize a previous run's results
    problems: list[str] = []
    with serve(worker_class, workdir) as server:
        spec = workdir / "fuzzingclient.json"
        write_spec(spec, [server], args.cases, args.exclude, outdir)
        print(f"{server.agent}: {server.url}; wstest log {workdir / 'wstest.log'}", flush=True)
        started = time.monotonic()
        if not run_wstest(wstest, spec, workdir / "wstest.log", args.timeout):
            problems.append(f"{server.agent}: the fuzzing client took over {args.timeout:.0f} s")
        if server.process.poll() is not None:
            problems.append(f"{server.agent}: the server exited during the run ({server.log})")
        print(f"{server.agent}: done in {time.monotonic() - started:.0f} s", flush=True)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzing client against each worker class; 0 when no case FAILED."""
    args = _parse(argv)
    worker_classes = _worker_classes(args.worker_class)
    reports_dir: Path = args.reports.resolve()
    reports = [(f"hypercorn-{name}", reports_dir / name / "servers") for name in worker_classes]
    if args.summary_only:
        return 0 if summarize(reports) else 1

    wstest = ensure_wstest(args.wstest)
    # SIGTERM (CI cancelling the job) unwinds like Ctrl+C so the servers are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    problems: list[str] = []
    try:
        for name in worker_classes:
            problems += fuzz(name, wstest, reports_dir / name, args)
    except RunError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("run.py: interrupted; servers stopped", file=sys.stderr)
        return 130
    print()
    ok = summarize(reports)
    for problem in problems:
        print(f"FAILED: {problem}")
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
