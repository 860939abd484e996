"""Benchmark our server against Hypercorn 0.18, uvicorn, granian and gunicorn, in one run.

Every server runs alone, with one worker pinned to CPU 0 (``taskset -c 0``), while the
load generator is pinned to CPU 1, all on 127.0.0.1 and every step bounded in time.
Servers are interleaved over ``--passes`` (odd passes in order, even passes reversed) so
slow drifts of the machine hit every server alike. Machines are noisy: only ratios
between servers measured in the same run mean much.

Servers (``--servers``):
  project-asyncio, project-uvloop, project-trio
                                    ``$PROJECT_PYTHON -m hypercorn -w 1 -k <worker>`` (the
                                    default HTTP/1.1 parser: httptools when installed)
  project-h11-asyncio, project-h11-uvloop
                                    the same with ``--http h11``
  hypercorn-asyncio, hypercorn-uvloop, hypercorn-trio
                                    Hypercorn 0.18 from the peers virtualenv
  uvicorn-h11-asyncio               uvicorn ``--http h11 --loop asyncio --ws wsproto``
  uvicorn-httptools-uvloop          uvicorn ``--http httptools --loop uvloop --ws websockets``
  uvicorn-zttp-h2                   uvicorn ``--http zttp --http2 --loop uvloop`` (its HTTP/2)
  granian                           granian ``--interface asgi --workers 1`` (Rust)
  granian-wsgi                      granian ``--interface wsgi --workers 1`` (WSGI test only)
  gunicorn-sync                     gunicorn's sync worker, ``-w 1`` (WSGI test only)

Tests (``--tests``, default ``h1,close``):
  h1     wrk -t1 -c64 --latency, keep-alive GET /, hello app
  close  the same with ``Connection: close`` (a new TCP connection per request)
  h2c    h2load -c16 -m32, HTTP/2 prior knowledge, hello app (Hypercorn-style servers)
  h2tls  the same over TLS (ALPN h2; the server gets a self-signed certificate)
  post   wrk -t1 -c16 with post64k.lua, 64 KiB POST to the echo app
  ws     ws_client.py --conns 16 (peers' python, ``websockets``): WebSocket echo round trips
  wsh2   ws_client.py --conns 16 --http2: the same echo, each WebSocket on its own
         HTTP/2 connection (RFC 8441 extended CONNECT over h2c; h2 + wsproto client)
  wsgi   wrk -t1 -c64 --latency, keep-alive GET /, WSGI hello app
  h3     16 gtlsclient connections at once, each ``-n`` many requests (up to the server's
         stream limit in flight), HTTP/3 over QUIC, hello app (Hypercorn-style servers)
  h3dl   gtlsclient downloads of 20 MiB over HTTP/3, one after another; the req/s
         column holds MiB/s (Hypercorn-style servers)
  file   wrk -t1 -c16, keep-alive GET of a 1 MiB file, Starlette's FileResponse: with
         http.response.pathsend where the server has it (ours, granian), else its read loop
  file-readloop
         the same with pathsend hidden from Starlette: its read loop on every server

The HTTP/3 tests and h2tls start the server with a self-signed certificate (made with openssl),
``--certfile/--keyfile`` and ``--quic-bind`` on a free UDP port; the load is Debian's
``gtlsclient`` (ngtcp2-client, a C client), so the client is neither aioquic nor ours.

``--pick TEST=SERVER,SERVER`` (repeatable) narrows the servers of one test, so one
interleaved run can cover a different set of servers per test.

Before each measurement it waits (bounded) for the machine to be idle, and it measures
again (up to ``--attempts`` times) when other processes used more than ``--max-other``
percent of a core during the timed window. Results go to a JSON-lines file (one ``meta``
line, then one line per attempt); the final table keeps the best clean attempt of each
pass and shows the mean over passes and its ratio to Hypercorn 0.18 asyncio and to
uvicorn h11+asyncio, next to the server's CPU time per request (server CPU seconds
over the window / requests), which other load on the machine disturbs far less than
req/s. A last table checks the project's targets on both figures.

Set-up, once per machine::

    python3 benchmarks/run.py --setup

makes the peers' virtualenv (``benchmarks/.peers-venv``, from
``benchmarks/requirements-peers.txt``, which pins every peer) and, when run as root,
installs the load tools with apt (``wrk``, ``nghttp2-client`` for ``h2load``,
``ngtcp2-client`` for ``gtlsclient``);
otherwise it prints the apt command to run.

Usage (from the repository root; any Python >= 3.10 runs this file)::

    python3 benchmarks/run.py --passes 2 --duration 10
    python3 benchmarks/run.py --servers hypercorn-asyncio,uvicorn-h11-asyncio --tests h1
    python3 benchmarks/run.py --summarize benchmarks/results/run-20250101-120000.jsonl

Environment:
  PROJECT_PYTHON  a python whose environment has this project installed; default: the
                  hatch default env of this repository (``hatch env find`` + ``/bin/python``).
  BASELINE_PYTHON a python whose environment has an earlier build of this project (for
                  example a ``git worktree`` of the commit before a change, with its own
                  hatch env): adds ``baseline-asyncio``, ``baseline-uvloop`` and
                  ``baseline-trio``, to show in one run that a change is no slower.
  PEERS_VENV      the peers' virtualenv (default ``benchmarks/.peers-venv``); its python also
                  runs the WebSocket client, so that client is independent of our server.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APPS = os.path.join(HERE, "apps")
POST_LUA = os.path.join(HERE, "post64k.lua")
H2C_CONFIG = os.path.join(HERE, "h2c.toml")
WS_CLIENT = os.path.join(HERE, "ws_client.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PEERS_REQUIREMENTS = os.path.join(HERE, "requirements-peers.txt")
DEFAULT_PEERS_VENV = os.path.join(HERE, ".peers-venv")
LOAD_TOOLS = {
    "wrk": "wrk",
    "h2load": "nghttp2-client",
    "taskset": "util-linux",
    "gtlsclient": "ngtcp2-client",
    "openssl": "openssl",
}
H3_TESTS = ("h3", "h3dl")
TLS_TESTS = ("h2tls",)
# started with benchmarks/h2c.toml (Hypercorn-style servers): h2load does not reconnect
H2_CONFIG_TESTS = ("h2c", "h2tls", "wsh2")
H3_DOWNLOAD = 20 * 1024 * 1024

BASELINES = ("hypercorn-asyncio", "uvicorn-h11-asyncio")
DEFAULT_TESTS = ("h1", "close")
# the project's performance targets: (test, server, reference server, minimum ratio)
TARGETS = (
    ("h1", "project-uvloop", "uvicorn-httptools-uvloop", 1.0),
    ("h1", "project-uvloop", "granian", 1.0),
    ("h1", "project-asyncio", "uvicorn-h11-asyncio", 2.0),
    ("close", "project-uvloop", "uvicorn-httptools-uvloop", 1.0),
    ("post", "project-uvloop", "granian", 1.0),
    ("post", "project-asyncio", "uvicorn-h11-asyncio", 1.0),
    ("ws", "project-uvloop", "granian", 1.2),
    ("ws", "project-asyncio", "hypercorn-asyncio", 1.5),
    ("h2c", "project-asyncio", "hypercorn-asyncio", 5.0),
    ("wsgi", "project-asyncio", "hypercorn-asyncio", 5.0),
    ("wsgi", "project-asyncio", "gunicorn-sync", 1.0),
    ("h3", "project-asyncio", "hypercorn-asyncio", 2.0),
    ("h3dl", "project-asyncio", "hypercorn-asyncio", 2.0),
    ("h1", "project-trio", "project-asyncio", 0.75),
    ("close", "project-trio", "project-asyncio", 0.6),
)

Record = dict[str, Any]


# ------------------------------------------------------------------ what is measured
@dataclass(frozen=True)
class Test:
    """One load test: which app it needs and how the load generator is run."""

    name: str
    app: str
    tool: str  # "wrk", "h2load", "ws"/"wsh2" (ws_client.py), "h3" or "h3dl" (gtlsclient)
    conns: int
    wrk_args: tuple[str, ...] = ()
    title: str = ""


TESTS: dict[str, Test] = {
    t.name: t
    for t in (
        Test("h1", "hello:app", "wrk", 64, title="HTTP/1.1 hello, keep-alive (wrk -t1 -c64)"),
        Test(
            "close",
            "hello:app",
            "wrk",
            64,
            ("-H", "Connection: close"),
            title="HTTP/1.1 hello, Connection: close (wrk -t1 -c64)",
        ),
        Test("h2c", "hello:app", "h2load", 16, title="HTTP/2 h2c hello (h2load -c16 -m32)"),
        Test(
            "h2tls",
            "hello:app",
            "h2load",
            16,
            title="HTTP/2 over TLS hello (h2load -c16 -m32, ALPN h2)",
        ),
        Test(
            "post",
            "echo:app",
            "wrk",
            16,
            ("-s", POST_LUA),
            title="64 KiB POST echo (wrk -t1 -c16)",
        ),
        Test(
            "ws",
            "ws_echo:app",
            "ws",
            16,
            title="WebSocket echo round trips (ws_client.py, 16 conns)",
        ),
        Test(
            "wsh2",
            "ws_echo:app",
            "wsh2",
            16,
            title="WebSocket over HTTP/2 echo round trips (RFC 8441, 16 h2c conns)",
        ),
        Test("wsgi", "wsgi_hello:app", "wrk", 64, title="WSGI hello, keep-alive (wrk -t1 -c64)"),
        Test(
            "h3",
            "hello:app",
            "h3",
            16,
            title="HTTP/3 hello (16 gtlsclient connections, many streams each)",
        ),
        Test(
            "h3dl",
            "download:app",
            "h3dl",
            1,
            title="HTTP/3 20 MiB download, MiB/s in the req/s column (gtlsclient)",
        ),
        Test(
            "file",
            "files:app",
            "wrk",
            16,
            title="1 MiB FileResponse, pathsend where offered (wrk -t1 -c16)",
        ),
        Test(
            "file-readloop",
            "files:readloop",
            "wrk",
            16,
            title="1 MiB FileResponse, Starlette's read loop (wrk -t1 -c16)",
        ),
    )
}


@dataclass(frozen=True)
class Server:
    """A server under test: how to start it for an app on a port, and what it supports."""

    name: str
    argv: Callable[[str, int, bool], list[str]]  # (app, port, h2c config?) -> argv
    tests: tuple[str, ...]
    project: bool = False
    tls_flags: tuple[str, str] = ("--certfile", "--keyfile")  # how it takes cert and key


def hypercorn_argv(
    launcher: Sequence[str], worker: str, *extra: str
) -> Callable[[str, int, bool], list[str]]:
    """Command line of a Hypercorn-compatible CLI (ours or 0.18) with one worker."""

    def argv(app: str, port: int, h2c: bool) -> list[str]:
        config = ["-c", H2C_CONFIG] if h2c else []
        return [*launcher, "-w", "1", "-k", worker, *extra, *config, "-b", f"127.0.0.1:{port}", app]

    return argv


def uvicorn_argv(
    launcher: Sequence[str], http: str, loop: str, ws: str
) -> Callable[[str, int, bool], list[str]]:
    """Command line of uvicorn with one in-process worker and no access log."""

    def argv(app: str, port: int, h2c: bool) -> list[str]:
        return [
            *launcher,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--http",
            http,
            "--loop",
            loop,
            "--ws",
            ws,
            app,
        ]

    return argv


def granian_argv(launcher: Sequence[str], interface: str) -> Callable[[str, int, bool], list[str]]:
    """Command line of granian with one worker (its access log is off by default)."""

    def argv(app: str, port: int, h2c: bool) -> list[str]:
        return [
            *launcher,
            "--interface",
            interface,
            "--workers",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            app,
        ]

    return argv


def gunicorn_argv(launcher: Sequence[str]) -> Callable[[str, int, bool], list[str]]:
    """Command line of gunicorn's default (sync) worker, one process."""

    def argv(app: str, port: int, h2c: bool) -> list[str]:
        return [*launcher, "-w", "1", "-b", f"127.0.0.1:{port}", app]

    return argv


def build_servers(
    project_python: str, peers_venv: str, baseline_python: str = ""
) -> dict[str, Server]:
    """All known servers, ours first (and an earlier build of ours), then the peers."""
    ours = [project_python, "-m", "hypercorn"]
    hyper = [os.path.join(peers_venv, "bin", "hypercorn")]
    uvi = [os.path.join(peers_venv, "bin", "uvicorn")]
    granian = [os.path.join(peers_venv, "bin", "granian")]
    gunicorn = [os.path.join(peers_venv, "bin", "gunicorn")]
    every = (
        *("h1", "close", "h2c", "h2tls", "post", "ws", "wsh2", "wsgi", "file", "file-readloop"),
        *H3_TESTS,
    )
    no_h2 = ("h1", "close", "post", "ws", "file", "file-readloop")
    servers: list[Server] = [
        Server("project-asyncio", hypercorn_argv(ours, "asyncio"), every, project=True),
        Server("project-uvloop", hypercorn_argv(ours, "uvloop"), every, project=True),
        Server("project-trio", hypercorn_argv(ours, "trio"), every, project=True),
        # project-* take the default parser (httptools when installed); these pin h11
        Server(
            "project-h11-asyncio",
            hypercorn_argv(ours, "asyncio", "--http", "h11"),
            every,
            project=True,
        ),
        Server(
            "project-h11-uvloop",
            hypercorn_argv(ours, "uvloop", "--http", "h11"),
            every,
            project=True,
        ),
    ]
    if baseline_python:  # an earlier build of this project, to show a change is no slower
        before = [baseline_python, "-m", "hypercorn"]
        servers += [
            Server(f"baseline-{worker}", hypercorn_argv(before, worker), every)
            for worker in ("asyncio", "uvloop", "trio")
        ]
    servers += [
        Server("hypercorn-asyncio", hypercorn_argv(hyper, "asyncio"), every),
        Server("hypercorn-uvloop", hypercorn_argv(hyper, "uvloop"), every),
        Server("hypercorn-trio", hypercorn_argv(hyper, "trio"), every),
        # the WebSocket implementations of the team's baseline: wsproto with h11, websockets
        # with httptools
        Server("uvicorn-h11-asyncio", uvicorn_argv(uvi, "h11", "asyncio", "wsproto"), no_h2),
        Server(
            "uvicorn-httptools-uvloop",
            uvicorn_argv(uvi, "httptools", "uvloop", "websockets"),
            no_h2,
        ),
        Server(
            "uvicorn-zttp-h2",
            lambda app, port, h2c: [
                *uvicorn_argv(uvi, "zttp", "uvloop", "websockets")(app, port, h2c)[:-1],
                "--http2",
                app,
            ],
            ("h1", "h2c", "h2tls"),
            tls_flags=("--ssl-certfile", "--ssl-keyfile"),
        ),
        Server(
            "granian",
            granian_argv(granian, "asgi"),
            ("h1", "close", "h2c", "h2tls", "post", "ws", "file", "file-readloop"),
            tls_flags=("--ssl-certificate", "--ssl-keyfile"),
        ),
        Server("granian-wsgi", granian_argv(granian, "wsgi"), ("wsgi",)),
        Server("gunicorn-sync", gunicorn_argv(gunicorn), ("wsgi",)),
    ]
    return {s.name: s for s in servers}


# ------------------------------------------------------------------ processes and CPU
def process_tree(root: int) -> list[int]:
    """PIDs of ``root`` and all its live descendants, from the ppid field in /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ")"
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children[ppid].append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by the given processes."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def tree_rss_mib(pids: Sequence[int]) -> float:
    """Sum of the resident set sizes of the given processes, in MiB."""
    kib = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kib += int(line.split()[1])
        except OSError:
            continue
    return round(kib / 1024, 1)


def rss_each_mib(pids: Sequence[int]) -> list[float]:
    """The resident set size of each of the given processes (in their order), in MiB."""
    sizes = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        sizes.append(round(int(line.split()[1]) / 1024, 1))
        except OSError:
            continue
    return sizes


def machine_busy_seconds() -> float:
    """CPU seconds spent busy (user, nice, system, irq, softirq) over all CPUs since boot."""
    with open("/proc/stat") as f:
        first = f.readline().split()  # the aggregate "cpu" line
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in first[1:8])
    return (user + nice + system + irq + softirq) / CLK_TCK


def other_processes_cpu(exclude: set[int]) -> float:
    """CPU seconds used so far by every user process not in ``exclude``, reaped children included.

    The difference of two readings is the CPU that other work on the machine used in
    between: a process that exits in between moves its time into its parent's
    ``cutime``/``cstime`` while its earlier reading is subtracted, so only the time it
    used in between remains. Kernel threads (children of kthreadd, PID 2) are left out:
    at tens of thousands of requests per second, ksoftirqd moves the benchmark's own
    loopback packets.
    """
    stats: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude:
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            stats[int(entry)] = (int(fields[1]), fields)
    ticks = 0
    for pid, (ppid, fields) in stats.items():
        if pid != 2 and ppid != 2:  # utime, stime, cutime, cstime
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / CLK_TCK


def wait_until_quiet(max_wait: float, threshold_pct: float = 15.0) -> tuple[float, float]:
    """Wait (at most ``max_wait`` s) until the machine uses < ``threshold_pct`` of a core.

    Returns:
        The seconds waited and the busy percentage of the last one-second sample.
    """
    start = time.monotonic()
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy_pct = (machine_busy_seconds() - before) * 100
        waited = time.monotonic() - start
        if busy_pct < threshold_pct or waited >= max_wait:
            return round(waited, 1), round(busy_pct, 1)


def children_cpu_seconds() -> float:
    """CPU seconds used by this script's waited-for children (the load generators)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ server lifecycle
_live: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """A port on 127.0.0.1 that nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(argv: list[str], cpu: int, log_path: str) -> subprocess.Popen[bytes]:
    """Start a server pinned to ``cpu`` in its own process group (so we can stop it whole)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *argv],
            cwd=APPS,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _live[proc.pid] = proc
    return proc


def stop_server(proc: subprocess.Popen[bytes], grace: float = 8.0) -> None:
    """SIGINT the server's process group, then SIGKILL whatever is left of it."""
    _live.pop(proc.pid, None)
    pids = process_tree(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in pids[1:]:  # a descendant that left the group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _stop_all() -> None:
    for proc in list(_live.values()):
        stop_server(proc, grace=2.0)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


@contextlib.contextmanager
def running_server(argv: list[str], cpu: int, log_path: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server for the duration of a ``with`` block; it is stopped on any exit."""
    proc = start_server(argv, cpu, log_path)
    try:
        yield proc
    finally:
        stop_server(proc)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float, tls: bool = False) -> bool:
    """Poll ``GET /`` until the server answers 200 (or exits, or ``timeout`` passes)."""
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    deadline = time.monotonic() + timeout
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # our own test cert
    context.set_alpn_protocols(["http/1.1"])
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=2.0) as raw,
                context.wrap_socket(raw) if tls else raw as s,
            ):
                s.sendall(request)
                if re.match(rb"HTTP/1\.[01] 200 ", s.recv(4096)):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


# ------------------------------------------------------------------ load generators
def to_ms(text: str) -> float:
    """wrk's durations ("612.00us", "1.20ms", "2.00s", "1.00m") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return float(match.group(1)) * scale


def parse_wrk(out: str) -> Record:
    """Req/s, request count, p50/p99 latency and errors from wrk --latency output."""
    res: Record = {"rps": None, "requests": None, "p50_ms": None, "p99_ms": None, "errors": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        res["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        res["requests"] = int(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M):
            res[f"p{pct}_ms"] = round(to_ms(m.group(1)), 3)
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["errors"] += sum(int(v) for v in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        res["errors"] += int(m.group(1))
    return res


def parse_h2load(out: str, log_path: str) -> Record:
    """Req/s and errors from h2load's summary; p50/p99 from its per-request log."""
    res: Record = {"rps": None, "requests": None, "p50_ms": None, "p99_ms": None, "errors": 0}
    if m := re.search(r"finished in \S+, ([\d.]+) req/s", out):
        res["rps"] = float(m.group(1))
    counts = (
        r"requests: \d+ total, \d+ started, \d+ done, "
        r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout"
    )
    if m := re.search(counts, out):
        res["requests"] = int(m.group(1))
        res["errors"] = sum(int(v) for v in m.groups()[1:])
    latencies: list[int] = []  # log lines: start time, status, duration in microseconds
    with contextlib.suppress(OSError), open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                latencies.append(int(parts[2]))
    if latencies:
        latencies.sort()
        res["p50_ms"] = latencies[len(latencies) // 2] / 1000
        res["p99_ms"] = latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)] / 1000
    return res


def run_client(argv: list[str], cpu: int, timeout: float) -> tuple[str, float]:
    """Run a load generator pinned to ``cpu``; returns its output and the CPU it used."""
    before = children_cpu_seconds()
    try:
        done = subprocess.run(
            ["taskset", "-c", str(cpu), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        out = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:  # run() has already killed it
        out = f"timed out after {timeout}s: {exc.stdout!r}"
    return out, children_cpu_seconds() - before


def wrk_argv(test: Test, port: int, seconds: float) -> list[str]:
    """The wrk command line for a test."""
    return [
        "wrk",
        "-t1",
        f"-c{test.conns}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        *test.wrk_args,
        f"http://127.0.0.1:{port}/",
    ]


def ws_client_argv(test: Test, port: int, opts: Options) -> list[str]:
    """The WebSocket client's command line (the peers' python, so not our code)."""
    return [
        os.path.join(opts.peers_venv, "bin", "python"),
        WS_CLIENT,
        f"ws://127.0.0.1:{port}/",
        "--conns",
        str(test.conns),
        "--duration",
        str(opts.duration),
        "--warmup",
        str(opts.warmup),
        *(["--http2"] if test.tool == "wsh2" else []),
    ]


def measure_ws(test: Test, port: int, opts: Options, server_pids: Sequence[int]) -> Record:
    """Run ws_client.py, reading server and other CPU exactly when its timed window opens
    and closes (it says so on stdout), so warm-up and handshakes stay out of the figures."""
    proc = subprocess.Popen(
        ["taskset", "-c", str(opts.client_cpu), *ws_client_argv(test, port, opts)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    exclude = {os.getpid(), proc.pid, *server_pids}  # taskset execs: proc.pid is the client
    marks: dict[str, tuple[float, float, float]] = {}
    lines: list[str] = []
    deadline = time.monotonic() + opts.duration + opts.warmup + 40
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break  # the client closed its stdout: it is done
            line = line.strip()
            if line in ("window-start", "window-end"):
                marks[line] = (
                    tree_cpu_seconds(server_pids),
                    other_processes_cpu(exclude),
                    time.monotonic(),
                )
            else:
                lines.append(line)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    res: Record = {"rps": None, "requests": None, "p50_ms": None, "p99_ms": None, "errors": 0}
    client_cpu = 0.0
    try:
        res.update(json.loads(lines[-1]))
        client_cpu = float(res.pop("client_cpu_s"))
    except (IndexError, ValueError, KeyError):
        res["rps"] = None
    nothing = (0.0, 0.0, 0.0)
    start, end = marks.get("window-start", nothing), marks.get("window-end", nothing)
    if res["rps"] is None or len(marks) != 2:
        res["rps"] = None
        res["raw_tail"] = "\n".join(lines)[-600:]
        start = end = nothing
    wall = max(end[2] - start[2], 1e-9)
    res["wall_s"] = round(wall, 2)
    res["server_cpu_s"] = round(end[0] - start[0], 3)
    res["server_cpu_pct"] = round(100 * (end[0] - start[0]) / wall, 1)
    res["client_cpu_pct"] = round(100 * client_cpu / wall, 1)
    res["other_pct"] = round(100 * (end[1] - start[1]) / wall, 1)
    return res


def measure(test: Test, port: int, opts: Options, server_pids: Sequence[int]) -> Record:
    """Warm up, then run one timed measurement; returns load and CPU figures."""
    if test.tool in ("ws", "wsh2"):
        return measure_ws(test, port, opts, server_pids)
    if test.tool == "h3":
        return measure_h3(test, port, opts, server_pids)
    if test.tool == "h3dl":
        return measure_h3_download(test, port, opts, server_pids)
    log_path = ""
    if test.tool == "wrk":
        run_client(wrk_argv(test, port, opts.warmup), opts.client_cpu, opts.warmup + 30)
        argv = wrk_argv(test, port, opts.duration)
    else:  # h2load has its own warm-up phase, excluded from its figures
        with tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log", delete=False) as tf:
            log_path = tf.name
        argv = [
            "h2load",
            f"-c{test.conns}",
            "-m32",
            "-D",
            str(max(1, round(opts.duration))),
            "--warm-up-time",
            str(max(1, round(opts.warmup))),
            "--log-file",
            log_path,
            f"{'https' if test.name in TLS_TESTS else 'http'}://127.0.0.1:{port}/",
        ]
    # this script is left out too: the load generator's time lands in its cutime
    exclude = {os.getpid(), *server_pids}
    cpu0, other0, t0 = tree_cpu_seconds(server_pids), other_processes_cpu(exclude), time.monotonic()
    out, client_cpu = run_client(argv, opts.client_cpu, opts.duration + opts.warmup + 30)
    wall = time.monotonic() - t0
    server_cpu = tree_cpu_seconds(server_pids) - cpu0
    other = other_processes_cpu(exclude) - other0
    if test.tool == "wrk":
        res = parse_wrk(out)
    else:
        res = parse_h2load(out, log_path)
        os.unlink(log_path)
    if res["rps"] is None:
        res["raw_tail"] = out[-600:]
    res["wall_s"] = round(wall, 2)
    res["server_cpu_s"] = round(server_cpu, 3)
    res["server_cpu_pct"] = round(100 * server_cpu / wall, 1)
    res["client_cpu_pct"] = round(100 * client_cpu / wall, 1)
    res["other_pct"] = round(100 * other / wall, 1)
    return res


# ------------------------------------------------------------------ HTTP/3 (gtlsclient)
def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nobody has bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def certificate(opts: Options) -> tuple[str, str]:
    """A self-signed P-256 certificate for 127.0.0.1 / localhost (made once per run)."""
    cert, key = os.path.join(opts.logdir, "cert.pem"), os.path.join(opts.logdir, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
                key,
                "-out",
                cert,
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
    return cert, key


def gtlsclient_argv(
    port: int, urls: Sequence[str], requests: int = 0, download: str = ""
) -> list[str]:
    """gtlsclient on one QUIC connection: ``requests`` streams over ``urls`` (wrapped)."""
    argv = [
        "gtlsclient",
        "--quiet",
        "--exit-on-all-streams-close",
        "--no-quic-dump",
        "--no-http-dump",
        "--sni=localhost",
        "--timeout=10s",
        "--handshake-timeout=5s",
    ]
    if requests:
        argv.append(f"--nstreams={requests}")
    if download:
        argv.append(f"--download={download}")
    return [*argv, "127.0.0.1", str(port), *urls]


def scratch_dir() -> str:
    """A directory for downloaded bodies, in memory when the machine has /dev/shm."""
    return tempfile.mkdtemp(
        prefix="bench-h3-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )


def wait_ready_h3(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``GET /`` over HTTP/3 until it answers the hello body (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    folder = scratch_dir()
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            body = os.path.join(folder, "index.html")
            with contextlib.suppress(OSError):
                os.unlink(body)
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                argv = gtlsclient_argv(port, [f"https://127.0.0.1:{port}/"], download=folder)
                subprocess.run(argv, capture_output=True, timeout=10, check=False)
                with open(body, "rb") as f:
                    if f.read() == b"Hello, world!":
                        return True
            time.sleep(0.2)
        return False
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_lanes(
    port: int, lanes: int, per_lane: int, cpu: int, timeout: float
) -> tuple[float, int, str]:
    """``lanes`` gtlsclient connections at once, ``per_lane`` requests each, on ``cpu``.

    Returns:
        The wall time until the last one finished, how many failed (non-zero exit or
        killed at ``timeout``), and the end of the first failure's output.
    """
    url = f"https://127.0.0.1:{port}/"
    argv = ["taskset", "-c", str(cpu), *gtlsclient_argv(port, [url], requests=per_lane)]
    failed, tail = 0, ""
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        procs = []
        for _ in range(lanes):
            log = stack.enter_context(tempfile.TemporaryFile())
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
            procs.append((proc, log))
        for proc, log in procs:
            try:
                code = proc.wait(timeout=max(0.1, started + timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if code != 0:
                failed += 1
                if not tail:
                    log.seek(0)
                    output = log.read()[-400:].decode(errors="replace")
                    tail = f"gtlsclient exit {code}: {output}"
    return time.monotonic() - started, failed, tail


def measure_h3(test: Test, port: int, opts: Options, server_pids: Sequence[int]) -> Record:
    """Requests/s of ``test.conns`` concurrent gtlsclient connections of many streams each.

    A warm-up run of 50 requests per connection sizes the timed run so that it lasts
    about ``--duration`` seconds. A failed connection's requests all count as errors.
    """
    warm, _, _ = run_lanes(port, test.conns, 50, opts.client_cpu, opts.warmup + 60)
    rate = test.conns * 50 / max(warm, 1e-3)
    per_lane = max(50, min(500_000, round(rate * opts.duration / test.conns)))
    exclude = {os.getpid(), *server_pids}
    cpu0, other0, client0 = (
        tree_cpu_seconds(server_pids),
        other_processes_cpu(exclude),
        children_cpu_seconds(),
    )
    wall, failed, tail = run_lanes(
        port, test.conns, per_lane, opts.client_cpu, opts.duration * 4 + 60
    )
    server_cpu = tree_cpu_seconds(server_pids) - cpu0
    other = other_processes_cpu(exclude) - other0
    client_cpu = children_cpu_seconds() - client0
    done = (test.conns - failed) * per_lane
    res: Record = {
        "rps": done / wall if done else None,
        "requests": done,
        "p50_ms": None,
        "p99_ms": None,
        "errors": failed * per_lane,
        "per_connection": per_lane,
    }
    if tail:
        res["raw_tail"] = tail
    return _cpu_figures(res, wall, server_cpu, client_cpu, other)


def measure_h3_download(test: Test, port: int, opts: Options, server_pids: Sequence[int]) -> Record:
    """MiB/s of 20 MiB HTTP/3 downloads, one connection after another, for ``--duration`` s.

    Each body is checked byte for byte; a wrong or missing one is an error, not a
    download. ``p50_ms`` / ``p99_ms`` are the times of single downloads.
    """
    url = f"https://127.0.0.1:{port}/bytes/{H3_DOWNLOAD}"
    expected = bytes(range(256)) * (H3_DOWNLOAD // 256)
    folder = scratch_dir()
    body_path = os.path.join(folder, str(H3_DOWNLOAD))
    argv = ["taskset", "-c", str(opts.client_cpu), *gtlsclient_argv(port, [url], download=folder)]

    def download() -> tuple[float, str]:
        with contextlib.suppress(OSError):
            os.unlink(body_path)
        started = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            return time.monotonic() - started, "timed out"
        seconds = time.monotonic() - started
        try:
            with open(body_path, "rb") as f:
                good = f.read() == expected
        except OSError:
            good = False
        if done.returncode != 0 or not good:
            return seconds, f"exit {done.returncode}, body ok: {good}: {done.stdout[-300:]!r}"
        return seconds, ""

    try:
        if opts.warmup > 0:
            download()
        exclude = {os.getpid(), *server_pids}
        cpu0, other0, client0 = (
            tree_cpu_seconds(server_pids),
            other_processes_cpu(exclude),
            children_cpu_seconds(),
        )
        t0 = time.monotonic()
        times: list[float] = []
        errors, tail = 0, ""
        while errors < 3 and (not times or time.monotonic() - t0 < opts.duration):
            seconds, error = download()
            if error:
                errors += 1
                tail = tail or error
            else:
                times.append(seconds)
        wall = time.monotonic() - t0
        server_cpu = tree_cpu_seconds(server_pids) - cpu0
        other = other_processes_cpu(exclude) - other0
        client_cpu = children_cpu_seconds() - client0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times.sort()
    res: Record = {
        "rps": len(times) * H3_DOWNLOAD / (1024 * 1024) / wall if times else None,
        "requests": len(times),
        "p50_ms": round(times[len(times) // 2] * 1000, 1) if times else None,
        "p99_ms": round(times[-1] * 1000, 1) if times else None,
        "errors": errors,
        "unit": "MiB/s",
    }
    if tail:
        res["raw_tail"] = tail
    return _cpu_figures(res, wall, server_cpu, client_cpu, other)


def _cpu_figures(res: Record, wall: float, server: float, client: float, other: float) -> Record:
    """Add the window's wall time and the CPU shares of server, client and others."""
    res["wall_s"] = round(wall, 2)
    res["server_cpu_s"] = round(server, 3)
    res["server_cpu_pct"] = round(100 * server / wall, 1)
    res["client_cpu_pct"] = round(100 * client / wall, 1)
    res["other_pct"] = round(100 * other / wall, 1)
    return res


# ------------------------------------------------------------------ the run
@dataclass
class Options:
    """Settings of one benchmark run (from the command line)."""

    servers: list[str]
    tests: list[str]
    passes: int
    duration: float
    warmup: float
    attempts: int
    max_other: float
    quiet_wait: float
    ready_timeout: float
    server_cpu: int
    client_cpu: int
    out: str
    project_python: str
    peers_venv: str
    picks: dict[str, list[str]] = field(default_factory=dict)  # test -> its only servers
    logdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="bench-logs-"))


def write_record(path: str, record: Record) -> None:
    """Append one JSON line (opened per write, so an interrupted run keeps what it has)."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def version_of(python: str, dist: str) -> str | None:
    """Installed version of a distribution in another environment, or None."""
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def tool_version(argv: list[str]) -> str | None:
    """First output line of a tool's version command, or None."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else None


def meta_record(opts: Options, run_id: str) -> Record:
    """Where and with what the run happened, written as the first line of the results."""
    peers_py = os.path.join(opts.peers_venv, "bin", "python")
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "kind": "meta",
        "run_id": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "servers": opts.servers,
        "tests": opts.tests,
        "picks": opts.picks,
        "passes": opts.passes,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": model,
            "kernel": platform.release(),
            "server_cpu": opts.server_cpu,
            "client_cpu": opts.client_cpu,
        },
        "versions": {
            "project_python": tool_version([opts.project_python, "--version"])
            if any(name.startswith("project-") for name in opts.servers)
            else None,
            "peers_python": tool_version([peers_py, "--version"]),
            **{
                d: version_of(peers_py, d)
                for d in (
                    "hypercorn",
                    "uvicorn",
                    "zttp",
                    "granian",
                    "gunicorn",
                    "uvloop",
                    "httptools",
                    "websockets",
                    "wsproto",
                )
            },
            "peers_trio": version_of(peers_py, "trio"),
            "project_trio": version_of(opts.project_python, "trio")
            if opts.project_python
            else None,
            # without httptools the project's HTTP/1.1 runs on h11 (about 2x the CPU)
            "project_httptools": version_of(opts.project_python, "httptools")
            if opts.project_python
            else None,
            "project_uvloop": version_of(opts.project_python, "uvloop")
            if opts.project_python
            else None,
            "wrk": tool_version(["wrk", "-v"]),
            "h2load": tool_version(["h2load", "--version"])
            if any(t in ("h2c", "h2tls") for t in opts.tests)
            else None,
            "peers_aioquic": version_of(peers_py, "aioquic"),
            "project_aioquic": version_of(opts.project_python, "aioquic")
            if opts.project_python
            else None,
            "ngtcp2-client": tool_version(["dpkg-query", "-W", "-f=${Version}", "ngtcp2-client"])
            if any(t in H3_TESTS for t in opts.tests)
            else None,
        },
    }


def run(opts: Options, servers: dict[str, Server]) -> list[Record]:
    """Measure every (server, test) pair ``opts.passes`` times; returns the result records."""
    run_id = time.strftime("%Y%m%d-%H%M%S")
    write_record(opts.out, meta_record(opts, run_id))
    records: list[Record] = []
    print(f"# results -> {opts.out}; server logs -> {opts.logdir}", flush=True)
    for pass_no in range(1, opts.passes + 1):
        order = opts.servers if pass_no % 2 else opts.servers[::-1]
        for name in order:
            server = servers[name]
            tests = [t for t in opts.tests if runs(opts, name, t, server)]
            # one server start per (app, config): the HTTP/2 tests need their own config
            # file, h2tls TLS, HTTP/3 TLS and a QUIC socket
            groups: dict[tuple[str, bool, bool, bool], list[Test]] = defaultdict(list)
            for t in tests:
                key = (TESTS[t].app, t in H2_CONFIG_TESTS, t in TLS_TESTS, t in H3_TESTS)
                groups[key].append(TESTS[t])
            for (app, h2c, tls, quic), group in groups.items():
                records += run_group(opts, server, app, h2c, tls, quic, group, pass_no, run_id)
    print(f"# done -> {opts.out}", flush=True)
    return records


def runs(opts: Options, name: str, test: str, server: Server) -> bool:
    """Whether this run measures ``test`` on the server called ``name``."""
    return test in server.tests and name in opts.picks.get(test, [name])


def run_group(
    opts: Options,
    server: Server,
    app: str,
    h2c: bool,
    tls: bool,
    quic: bool,
    tests: list[Test],
    pass_no: int,
    run_id: str,
) -> list[Record]:
    """Start one server for one app and run the given tests against it.

    With ``tls`` the server gets a certificate; with ``quic`` also a QUIC socket, and the
    tests load that.
    """
    port = free_port()
    argv = server.argv(app, port, h2c)
    if tls or quic:
        cert, key = certificate(opts)
        cert_flag, key_flag = server.tls_flags
        argv += [cert_flag, cert, key_flag, key]
    if quic:
        quic_port = free_udp_port()
        argv += ["--quic-bind", f"127.0.0.1:{quic_port}"]
    log_path = os.path.join(opts.logdir, f"{server.name}-p{pass_no}-{port}.log")
    base: Record = {"kind": "result", "run_id": run_id, "pass": pass_no, "server": server.name}
    records: list[Record] = []
    with running_server(argv, opts.server_cpu, log_path) as proc:
        if quic:
            ready = wait_ready_h3(quic_port, proc, opts.ready_timeout)
            port = quic_port  # what the HTTP/3 tests load
        else:
            ready = wait_ready(port, proc, opts.ready_timeout, tls=tls)
        if not ready:
            print(f"p{pass_no} {server.name}: not ready (log: {log_path})", flush=True)
            for test in tests:
                rec = {**base, "test": test.name, "attempt": 1, "rps": None, "error": "not ready"}
                write_record(opts.out, rec)
                records.append(rec)
            return records
        time.sleep(0.5)  # let start-up work (imports, lifespan) settle
        for test in tests:
            for attempt in range(1, opts.attempts + 1):
                waited, idle_busy = wait_until_quiet(opts.quiet_wait)
                pids = process_tree(proc.pid)
                res = measure(test, port, opts, pids)
                clean = res["other_pct"] <= opts.max_other
                rec = {
                    **base,
                    "test": test.name,
                    "attempt": attempt,
                    "clean": clean,
                    **res,
                    "rss_mib": tree_rss_mib(process_tree(proc.pid)),
                    # the server's own process first, then its children (workers)
                    "rss_each_mib": rss_each_mib(process_tree(proc.pid)),
                    "quiet_wait_s": waited,
                    "busy_before_pct": idle_busy,
                }
                write_record(opts.out, rec)
                records.append(rec)
                print(progress_line(rec), flush=True)
                if clean or res["rps"] is None or proc.poll() is not None:
                    break
    return records


def progress_line(rec: Record) -> str:
    """One line per attempt, printed while the run goes on."""

    def num(key: str, fmt: str) -> str:
        value = rec.get(key)
        return format(value, fmt) if value is not None else "-"

    line = (
        f"p{rec['pass']}.{rec['attempt']} {rec['server']:26} {rec['test']:6} "
        f"rps={num('rps', '9.0f')} p50={num('p50_ms', '.2f')}ms p99={num('p99_ms', '.2f')}ms "
        f"err={rec.get('errors')} srv={rec['server_cpu_pct']}% cli={rec['client_cpu_pct']}% "
        f"other={rec['other_pct']}%{'' if rec['clean'] else ' (polluted)'}"
    )
    if rec.get("raw_tail"):
        line += "\n   output: " + rec["raw_tail"].replace("\n", " | ")[:400]
    return line


# ------------------------------------------------------------------ the table
def cpu_us_per_request(rec: Record) -> float | None:
    """Server CPU microseconds per request: its CPU share over the window / the request rate.

    As a rate it also fits h2load, whose CPU window includes its warm-up. Other load
    on the machine slows the server down but hardly changes what a request costs it.
    """
    if not rec.get("rps") or rec.get("server_cpu_pct") is None:
        return None
    return float(rec["server_cpu_pct"]) * 1e4 / float(rec["rps"])


def best_per_pass(records: Sequence[Record]) -> dict[tuple[str, str], list[Record]]:
    """Per (server, test), the best clean attempt of each pass (else its best attempt)."""
    best: dict[tuple[str, str, int], Record] = {}
    for rec in records:
        if rec.get("kind") != "result" or rec.get("rps") is None:
            continue
        key = (rec["server"], rec["test"], rec["pass"])
        old = best.get(key)
        rank = (rec.get("clean", True), rec["rps"])
        if old is None or rank > (old.get("clean", True), old["rps"]):
            best[key] = rec
    per: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for (server, test_name, _), rec in sorted(best.items(), key=lambda kv: kv[0][2]):
        per[(server, test_name)].append(rec)
    return per


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the known values, or None."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def ratio(value: float | None, ref: float | None) -> str:
    """``value / ref`` to two places, or n/a."""
    return f"{value / ref:.2f}" if value and ref else "n/a"


def summarize(records: Sequence[Record]) -> str:
    """Markdown tables (one per test) of mean req/s and server CPU per request over passes,
    their ratios to the baselines, and a last table checking the targets.

    Of each (server, test, pass) the best clean attempt counts; a pass with no clean
    attempt counts its best attempt and the server is marked with ``*``. In the CPU
    ratios a higher number is better too: it is the reference's CPU per request over
    this server's.
    """
    per = best_per_pass(records)
    servers: list[str] = []
    for server, _ in per:
        if server not in servers:
            servers.append(server)
    rps = {key: mean([r["rps"] for r in rs]) for key, rs in per.items()}
    cpu = {key: mean([cpu_us_per_request(r) for r in rs]) for key, rs in per.items()}
    lines: list[str] = []
    for test in TESTS.values():
        rows = [s for s in servers if (s, test.name) in per]
        if not rows:
            continue
        lines += [
            f"### {test.title}",
            "",
            "| server | req/s (mean) | passes | min-max | p50 ms | p99 ms | errors "
            "| server CPU | x hypercorn-asyncio | x uvicorn-h11-asyncio "
            "| CPU us/req | CPU x hypercorn-asyncio | CPU x uvicorn-h11-asyncio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for server in rows:
            key = (server, test.name)
            rs = per[key]
            vals = [r["rps"] for r in rs]
            top = max(rs, key=lambda r: r["rps"])
            ratios = [ratio(rps[key], rps.get((base, test.name))) for base in BASELINES]
            cpu_ratios = [ratio(cpu.get((base, test.name)), cpu[key]) for base in BASELINES]
            flag = "" if all(r.get("clean", True) for r in rs) else "*"
            lat = [f"{top[k]:.2f}" if top.get(k) is not None else "-" for k in ("p50_ms", "p99_ms")]
            us = f"{cpu[key]:.0f}" if cpu[key] is not None else "-"
            lines.append(
                f"| {server}{flag} | {rps[key]:,.0f} | {len(vals)} "
                f"| {min(vals):,.0f}-{max(vals):,.0f} | {lat[0]} | {lat[1]} "
                f"| {sum(int(r.get('errors') or 0) for r in rs)} "
                f"| {top['server_cpu_pct']:.0f}% | {ratios[0]} | {ratios[1]} "
                f"| {us} | {cpu_ratios[0]} | {cpu_ratios[1]} |"
            )
        lines.append("")
    if any(line.startswith("| ") and "* |" in line for line in lines):
        lines += ["`*` a pass had no attempt without other load on the machine.", ""]
    lines += memory_table(records)
    lines += target_table(rps, cpu)
    return "\n".join(lines)


#: The memory target of ``-w 1`` (issue 12): the whole process tree, after the run.
MEMORY_TARGET_MIB = 45.0


def memory_table(records: Sequence[Record]) -> list[str]:
    """Lines of the memory table: each server's RSS after its last measurement.

    The last record of a server is taken after every test it ran, so it shows what the
    load left behind; each process of the tree is listed (the server's own first).
    """
    last: dict[str, Record] = {}
    for rec in records:
        if rec.get("kind") == "result" and rec.get("rss_mib") is not None:
            last[rec["server"]] = rec
    if not last:
        return []
    lines = [
        "### Memory (RSS after the last test)",
        "",
        f"| server | processes | RSS per process (MiB) | total MiB | <= {MEMORY_TARGET_MIB:.0f} |",
        "|---|---:|---|---:|---|",
    ]
    for server, rec in last.items():
        each = rec.get("rss_each_mib") or []
        per_process = " + ".join(f"{v:.1f}" for v in each) if each else "-"
        total = float(rec["rss_mib"])
        met = "yes" if total <= MEMORY_TARGET_MIB else "no"
        lines.append(f"| {server} | {len(each) or '-'} | {per_process} | {total:.1f} | {met} |")
    return [*lines, ""]


def target_table(
    rps: dict[tuple[str, str], float | None], cpu: dict[tuple[str, str], float | None]
) -> list[str]:
    """Lines of the targets table: each ratio on req/s and on CPU per request."""
    lines = [
        "### Targets",
        "",
        "| test | server | vs | needs | x req/s | met | x CPU/req | met |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    shown = False
    for test, server, ref, need in TARGETS:
        if (server, test) not in rps or (ref, test) not in rps:
            continue
        shown = True
        by_rps = ratio(rps[(server, test)], rps[(ref, test)])
        by_cpu = ratio(cpu.get((ref, test)), cpu.get((server, test)))
        met = [
            "-" if r == "n/a" else ("yes" if float(r) >= need else "NO") for r in (by_rps, by_cpu)
        ]
        lines.append(
            f"| {test} | {server} | {ref} | {need:.1f} "
            f"| {by_rps} | {met[0]} | {by_cpu} | {met[1]} |"
        )
    return [*lines, ""] if shown else []


def load_records(paths: Sequence[str]) -> list[Record]:
    """Records of one or more JSON-lines result files."""
    records: list[Record] = []
    for path in paths:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


# ------------------------------------------------------------------ command line
def default_project_python() -> str:
    """``$PROJECT_PYTHON``, else the python of this repository's hatch default env."""
    if env := os.environ.get("PROJECT_PYTHON"):
        return env
    if shutil.which("hatch") is None:
        return ""
    try:
        done = subprocess.run(
            ["hatch", "env", "find"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = done.stdout.strip().splitlines()
    return os.path.join(lines[0], "bin", "python") if done.returncode == 0 and lines else ""


def project_runnable(python: str) -> bool:
    """Whether ``python -m hypercorn`` can run in that environment."""
    if not python or not os.path.exists(python):
        return False
    code = "import importlib.util as u, sys; sys.exit(u.find_spec('hypercorn.__main__') is None)"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def setup(peers_venv: str) -> int:
    """Make the peers' virtualenv and install the load tools (apt, as root)."""
    python = os.path.join(peers_venv, "bin", "python")
    if not os.path.exists(python):
        print(f"# creating {peers_venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", peers_venv], check=True)
    print(f"# installing {PEERS_REQUIREMENTS}", flush=True)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", PEERS_REQUIREMENTS], check=True
    )
    missing = sorted({pkg for tool, pkg in LOAD_TOOLS.items() if shutil.which(tool) is None})
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"# apt-get install {' '.join(missing)}", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)
    elif missing:
        print(f"# install the load tools: sudo apt-get install -y {' '.join(missing)}")
        return 1
    print("# ready: python3 benchmarks/run.py --tests h1,close,h2c,post,ws,wsgi")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--servers", default="", help="comma-separated names (default: all runnable)")
    p.add_argument("--tests", default=",".join(DEFAULT_TESTS), help="of: " + ",".join(TESTS))
    p.add_argument(
        "--pick",
        action="append",
        default=[],
        metavar="TEST=SERVERS",
        help="run TEST only on these comma-separated servers (repeatable)",
    )
    p.add_argument("--passes", type=int, default=2, help="interleaved passes over the servers")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per timed measurement")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each")
    p.add_argument("--attempts", type=int, default=3, help="max measurements of a polluted test")
    p.add_argument(
        "--max-other",
        type=float,
        default=25.0,
        help="percent of a core used by other processes above which a measurement is polluted",
    )
    p.add_argument("--quiet-wait", type=float, default=30.0, help="max s to wait for an idle box")
    p.add_argument("--ready-timeout", type=float, default=20.0, help="max s for a server to start")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--out", default="", help="JSON-lines file (default benchmarks/results/...)")
    p.add_argument("--list", action="store_true", help="print the server commands and exit")
    p.add_argument("--summarize", nargs="+", metavar="JSONL", help="print the table of results")
    p.add_argument(
        "--setup", action="store_true", help="make the peers' virtualenv, install the load tools"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    if args.summarize:
        print(summarize(load_records(args.summarize)))
        return 0
    peers_venv = os.environ.get("PEERS_VENV", DEFAULT_PEERS_VENV)
    if args.setup:
        return setup(peers_venv)
    project_python = default_project_python()
    baseline_python = os.environ.get("BASELINE_PYTHON", "")
    servers = build_servers(project_python or "<PROJECT_PYTHON>", peers_venv, baseline_python)
    tests = [t for t in args.tests.split(",") if t]
    if unknown := [t for t in tests if t not in TESTS]:
        sys.exit(f"unknown test(s) {unknown}; known: {list(TESTS)}")
    if args.list:
        for server in servers.values():
            print(f"{server.name}: {' '.join(server.argv('hello:app', 8000, False))}")
        return 0
    explicit = [s for s in args.servers.split(",") if s]
    if unknown := [s for s in explicit if s not in servers]:
        sys.exit(f"unknown server(s) {unknown}; known: {list(servers)}")
    picks: dict[str, list[str]] = {}
    for pick in args.pick:
        test, _, names = pick.partition("=")
        picks[test] = [n for n in names.split(",") if n]
        if test not in tests:
            sys.exit(f"--pick {pick!r}: {test!r} is not among --tests")
        if unknown := [s for s in picks[test] if s not in servers]:
            sys.exit(f"--pick {pick!r}: unknown server(s) {unknown}")
    chosen = [
        name
        for name in explicit or list(servers)
        if any(t in servers[name].tests and name in picks.get(t, [name]) for t in tests)
    ]
    if any(servers[s].project for s in chosen) and not project_runnable(project_python):
        if explicit:
            sys.exit(f"`{project_python or '$PROJECT_PYTHON'} -m hypercorn` cannot run here")
        print("# skipping project-* servers: `python -m hypercorn` is not runnable", flush=True)
        chosen = [s for s in chosen if not servers[s].project]
    peer_bins = {
        a for s in chosen if not servers[s].project for a in servers[s].argv("a", 1, False)[:1]
    }
    tools = ["taskset", "wrk"] + (["h2load"] if {"h2c", "h2tls"} & set(tests) else [])
    if any(t in H3_TESTS for t in tests):
        tools += ["gtlsclient", "openssl"]
    if "h2tls" in tests:
        tools.append("openssl")
    if {"ws", "wsh2"} & set(tests):
        peer_bins.add(os.path.join(peers_venv, "bin", "python"))
    if missing := [t for t in tools if shutil.which(t) is None] + [
        b for b in peer_bins if not os.path.exists(b)
    ]:
        sys.exit(f"missing {missing}: run `python3 benchmarks/run.py --setup` first")
    out = args.out or os.path.join(HERE, "results", time.strftime("run-%Y%m%d-%H%M%S.jsonl"))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    opts = Options(
        servers=chosen,
        tests=tests,
        passes=args.passes,
        duration=args.duration,
        warmup=args.warmup,
        attempts=args.attempts,
        max_other=args.max_other,
        quiet_wait=args.quiet_wait,
        ready_timeout=args.ready_timeout,
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        out=out,
        project_python=project_python,
        peers_venv=peers_venv,
        picks=picks,
    )
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    try:
        records = run(opts, servers)
    except KeyboardInterrupt:
        print("\n# interrupted; partial results in", out, file=sys.stderr)
        return 130
    finally:
        _stop_all()
    print(f"# wall time {time.monotonic() - started:.0f} s\n")
    print(summarize(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
