"""Memory soak: many requests against one worker of the real ``hypercorn``; RSS must stay flat.

The server is ``$PROJECT_PYTHON -m hypercorn -w 1 -k <worker> ws_echo:app`` (from
``benchmarks/apps``; ``--app`` and ``--app-dir`` pick another app that answers HTTP GETs
with 200 and echoes WebSocket text). Requests go in blocks of ``--every`` (default
10,000), each block split evenly and run concurrently over four kinds of traffic:

  h1-keepalive  HTTP/1.1 GETs on a few persistent connections
  h1-close      HTTP/1.1 GETs with ``Connection: close`` (a new TCP connection each)
  h2c           HTTP/2 (prior knowledge) GETs, many streams per connection
  ws            WebSocket echo round trips on connections opened and closed per block

After every block the script sums the resident set size (``VmRSS``) of the server's
whole process tree (the supervisor and everything under it) and prints it. The first
``--warmup`` requests fill caches and allocator arenas; the sample taken when they are
done is the baseline, and the largest later sample may exceed it by less than
``--max-growth`` MiB. It exits 1 when it does not, or when any request failed. At the
end it lists the server's processes with the CPU time each used during the soak (a
process that used none did nothing for the traffic).

Load (``--load``): ``tools`` uses ``h2load`` (Debian ``nghttp2-client``) for the three
HTTP kinds; ``python`` uses stdlib sockets for HTTP/1.1 and the ``h2`` package for h2c;
``auto`` (default) picks ``tools`` when ``h2load`` is on PATH. WebSocket traffic always
comes from the small stdlib client below. None of the load uses this project's code.

Usage (from the repository root; any Python >= 3.10 runs this file; Linux, it reads
``/proc``)::

    python3 benchmarks/soak.py                       # 200,000 requests, asyncio worker
    python3 benchmarks/soak.py -k trio --requests 50000 --json soak-trio.json

``PROJECT_PYTHON`` is a python whose environment has this project installed; default:
the python running this file if it has the project, else the hatch default env of this
repository (``python3 -m hatch env find``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
APPS = os.path.join(HERE, "apps")
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KINDS = ("h1-keepalive", "h1-close", "h2c", "ws")
TIMEOUT = 30.0  # seconds for any one socket operation or h2load run


@dataclass
class Outcome:
    """What one kind of traffic did in one block."""

    kind: str
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # a kind runs in threads

    def ok(self) -> None:
        with self.lock:
            self.succeeded += 1

    def fail(self, message: str, count: int = 1) -> None:
        with self.lock:
            self.failed += count
            if len(self.errors) < 5:  # enough to diagnose, bounded
                self.errors.append(message)


@dataclass
class Sample:
    """The server's memory after a block."""

    requests: int
    rss: int  # bytes, all of the server's processes
    processes: dict[int, int]  # pid -> RSS bytes
    failed: int
    seconds: float


# ------------------------------------------------------------------ processes and memory
def process_tree(root: int) -> list[int]:
    """``root`` and every process below it, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return sorted(tree)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def describe(pid: int) -> str:
    """A short name for a server process, from its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    line = " ".join(argv)
    if "resource_tracker" in line:
        return "multiprocessing resource tracker"
    if "child_main" in line or "spawn_main" in line or "forkserver" in line:
        return "worker"  # hypercorn_cli's subprocess worker (or multiprocessing's, before)
    if "hypercorn" in line:
        return "supervisor"
    return os.path.basename(argv[0])


# ------------------------------------------------------------------ stdlib clients
class Reader:
    """Buffered reads from a socket with exact-size and delimiter reads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed early")
        self.buffer += chunk

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def until(self, marker: bytes) -> bytes:
        while (index := self.buffer.find(marker)) < 0:
            if len(self.buffer) > 65536:
                raise ConnectionError("response head too large")
            self._fill()
        data = bytes(self.buffer[: index + len(marker)])
        del self.buffer[: index + len(marker)]
        return data


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(reader: Reader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length body: (status, body)."""
    head = reader.until(b"\r\n\r\n").decode("latin-1")
    status = int(head.split(" ", 2)[1])
    match = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if match is None:
        raise ConnectionError(f"no content-length in {head!r}")
    return status, reader.exactly(int(match.group(1)))


def h1_python(port: int, count: int, keep_alive: bool, outcome: Outcome) -> None:
    """``count`` GETs on one connection (keep-alive) or one connection each."""
    request = b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n"
    closing = b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
    sock: socket.socket | None = None
    try:
        for _ in range(count):
            try:
                if sock is None:
                    sock = connect(port)
                    reader = Reader(sock)
                sock.sendall(request if keep_alive else closing)
                status, _ = read_response(reader)
                if not keep_alive:
                    if sock.recv(1):  # the server closes after the response
                        raise ConnectionError("bytes after a Connection: close response")
                    sock.close()
                    sock = None
            except OSError as exc:
                outcome.fail(repr(exc))
                if sock is not None:
                    sock.close()
                sock = None
                continue
            if status == 200:
                outcome.ok()
            else:
                outcome.fail(f"status {status}")
    finally:
        if sock is not None:
            sock.close()


def h2c_python(port: int, count: int, outcome: Outcome, streams: int = 16) -> None:
    """``count`` GETs over one HTTP/2 connection, ``streams`` at a time (``h2`` package)."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    headers = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "soak")]
    sent = done = 0
    statuses: dict[int, int] = {}
    try:
        with connect(port) as sock:
            conn.initiate_connection()
            while done < count:
                while sent < count and sent - done < streams:
                    conn.send_headers(conn.get_next_available_stream_id(), headers, end_stream=True)
                    sent += 1
                sock.sendall(conn.data_to_send())
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("connection closed early")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        statuses[event.stream_id] = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        done += 1
                        if statuses.pop(event.stream_id, 0) == 200:
                            outcome.ok()
                        else:
                            outcome.fail(f"stream {event.stream_id} did not answer 200")
                    elif isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
                        raise ConnectionError(repr(event))
            conn.close_connection()
            sock.sendall(conn.data_to_send())
    except OSError as exc:
        outcome.fail(repr(exc), count - done)


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (payloads here are < 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def ws_read(reader: Reader) -> tuple[int, bytes]:
    first, second = reader.exactly(2)
    size = second & 0x7F
    if size == 126:
        size = int.from_bytes(reader.exactly(2), "big")
    elif size == 127:
        size = int.from_bytes(reader.exactly(8), "big")
    return first & 0x0F, reader.exactly(size)


def ws_python(port: int, count: int, outcome: Outcome) -> None:
    """Open a WebSocket, do ``count`` echo round trips, close it cleanly."""
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        "GET /ws HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    done = 0
    try:
        with connect(port) as sock:
            reader = Reader(sock)
            sock.sendall(handshake)
            head = reader.until(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"handshake answered {head[:40]!r}")
            for index in range(count):
                message = f"soak message {index}".encode()
                sock.sendall(ws_frame(0x1, message))
                opcode, payload = ws_read(reader)
                done += 1
                if opcode == 0x1 and payload == message:
                    outcome.ok()
                else:
                    outcome.fail(f"echo was opcode {opcode} {payload[:40]!r}")
            sock.sendall(ws_frame(0x8, (1000).to_bytes(2, "big")))
            opcode, _ = ws_read(reader)
            if opcode != 0x8:
                raise ConnectionError(f"close answered with opcode {opcode}")
    except OSError as exc:
        outcome.fail(repr(exc), count - done)


# ------------------------------------------------------------------ h2load
_H2LOAD_REQUESTS = re.compile(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded")
_H2LOAD_2XX = re.compile(r"status codes: (\d+) 2xx")


def h2load(port: int, count: int, args: list[str], outcome: Outcome) -> None:
    """Run ``h2load -n count ARGS`` and count its 2xx answers."""
    argv = ["h2load", "-n", str(count), *args, f"http://127.0.0.1:{port}/"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT * 4)
    except subprocess.TimeoutExpired:
        outcome.fail(f"{' '.join(argv)} timed out", count)
        return
    requests, codes = _H2LOAD_REQUESTS.search(done.stdout), _H2LOAD_2XX.search(done.stdout)
    ok = int(codes.group(1)) if codes and requests else 0
    with outcome.lock:
        outcome.succeeded += ok
    if ok < count:
        outcome.fail(f"{' '.join(argv)}: {ok} of {count} 2xx; {done.stdout[-300:]!r}", count - ok)


# ------------------------------------------------------------------ one block
def split(total: int, parts: int) -> list[int]:
    """``total`` into ``parts`` near-equal positive counts (empty parts dropped)."""
    counts = [total // parts + (1 if index < total % parts else 0) for index in range(parts)]
    return [count for count in counts if count]


def run_block(port: int, size: int, load: str, pool: ThreadPoolExecutor) -> list[Outcome]:
    """``size`` requests, a quarter of each kind, all kinds at once."""
    outcomes = {kind: Outcome(kind) for kind in KINDS}
    jobs: list[Callable[[], None]] = []
    keepalive, close, h2c, ws = (size // 4 + (1 if index < size % 4 else 0) for index in range(4))
    if load == "tools":
        for kind, count, args in (
            ("h1-keepalive", keepalive, ["--h1", "-c", str(min(8, keepalive))]),
            ("h1-close", close, ["--h1", "-c", str(min(8, close)), "-H", "Connection: close"]),
            ("h2c", h2c, ["-c", str(min(4, h2c)), "-m", "16"]),
        ):
            if count:
                jobs.append(partial(h2load, port, count, args, outcomes[kind]))
    else:
        jobs += [
            partial(h1_python, port, n, True, outcomes["h1-keepalive"]) for n in split(keepalive, 4)
        ]
        jobs += [partial(h1_python, port, n, False, outcomes["h1-close"]) for n in split(close, 4)]
        jobs += [partial(h2c_python, port, n, outcomes["h2c"]) for n in split(h2c, 2)]
    jobs += [partial(ws_python, port, n, outcomes["ws"]) for n in split(ws, 4)]
    for future in [pool.submit(job) for job in jobs]:
        future.result()
    return list(outcomes.values())


# ------------------------------------------------------------------ the server
def default_project_python() -> str:
    """``$PROJECT_PYTHON``, this python if it has the project, else the hatch default env's."""
    if env := os.environ.get("PROJECT_PYTHON"):
        return env
    import importlib.util

    if importlib.util.find_spec("hypercorn_cli") is not None:
        return sys.executable
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hatch", "env", "find"],
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    python: str, worker: str, port: int, app: str, app_dir: str
) -> subprocess.Popen[bytes]:
    argv = [python, "-m", "hypercorn", "-w", "1", "-k", worker]
    argv += ["-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", app]
    server = subprocess.Popen(argv, cwd=app_dir, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}: {' '.join(argv)}")
        try:
            with connect(port) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
                if read_response(Reader(sock))[0] == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("the server did not answer within 60 s")


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000, help="total (200000)")
    parser.add_argument("--every", type=int, default=10_000, help="block size (10000)")
    parser.add_argument(
        "--warmup", type=int, default=30_000, help="requests before the baseline (30000)"
    )
    parser.add_argument(
        "--max-growth", type=float, default=5.0, help="MiB allowed above the baseline (5)"
    )
    parser.add_argument("-k", "--worker-class", default="asyncio", help="asyncio|uvloop|trio")
    parser.add_argument(
        "--app", default="ws_echo:app", help="HTTP hello + WebSocket echo app (ws_echo:app)"
    )
    parser.add_argument("--app-dir", default=APPS, help="where --app is imported from")
    parser.add_argument("--load", choices=("auto", "tools", "python"), default="auto")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.every <= 0 or args.requests < args.every or args.warmup >= args.requests:
        parser.error("need 0 < --every <= --requests and --warmup < --requests")
    if not os.path.isdir("/proc"):
        parser.error("this script reads /proc (Linux)")
    load = args.load
    if load == "auto":
        load = "tools" if shutil.which("h2load") else "python"
    if load == "tools" and not shutil.which("h2load"):
        parser.error("--load tools needs h2load (apt install nghttp2-client)")
    if load == "python":
        import importlib.util

        if importlib.util.find_spec("h2") is None:
            parser.error(
                "--load python needs the h2 package (run this with the hatch env's python)"
            )
    python = default_project_python()
    if not python or not os.path.exists(python):
        parser.error("set PROJECT_PYTHON to a python with this project installed")

    port = free_port()
    server = start_server(python, args.worker_class, port, args.app, args.app_dir)
    print(
        f"# soak: {args.requests} requests, worker {args.worker_class}, load {load}, "
        f"port {port}, server pid {server.pid}",
        flush=True,
    )
    cpu_start = {pid: cpu_seconds(pid) for pid in process_tree(server.pid)}
    samples: list[Sample] = []
    failures: list[str] = []
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            done = 0
            while done < args.requests:
                size = min(args.every, args.requests - done)
                outcomes = run_block(port, size, load, pool)
                done += size
                time.sleep(0.2)  # let the last connections finish closing
                pids = process_tree(server.pid)
                per_process = {pid: rss_bytes(pid) for pid in pids}
                total = sum(per_process.values())
                failed = sum(outcome.failed for outcome in outcomes)
                for outcome in outcomes:
                    failures.extend(f"{outcome.kind}: {error}" for error in outcome.errors)
                seconds = round(time.monotonic() - started, 1)
                samples.append(Sample(done, total, per_process, failed, seconds))
                parts = " ".join(f"{pid}={rss / MIB:.1f}" for pid, rss in per_process.items())
                print(
                    f"requests {done:>7}  rss {total / MIB:7.2f} MiB  ({parts})  "
                    f"failed {failed}  {time.monotonic() - started:6.1f} s",
                    flush=True,
                )
        pids = process_tree(server.pid)
        cpu = {pid: cpu_seconds(pid) - cpu_start.get(pid, 0.0) for pid in pids}
        names = {pid: describe(pid) for pid in pids}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    after_warmup = [sample for sample in samples if sample.requests >= args.warmup]
    baseline = after_warmup[0].rss
    peak = max(sample.rss for sample in after_warmup)
    growth = (peak - baseline) / MIB
    failed_total = sum(sample.failed for sample in samples)
    elapsed = time.monotonic() - started
    print(f"# {args.requests} requests in {elapsed:.1f} s ({args.requests / elapsed:.0f}/s)")
    print(
        f"# baseline at {after_warmup[0].requests} requests: {baseline / MIB:.2f} MiB; "
        f"peak after it {peak / MIB:.2f} MiB; growth {growth:.2f} MiB "
        f"(limit {args.max_growth} MiB); exit code {server.returncode}"
    )
    for pid in pids:
        note = "  (idle: under 0.05 s of CPU during the soak)" if cpu[pid] < 0.05 else ""
        print(f"# process {pid} {names[pid]}: cpu {cpu[pid]:.2f} s{note}")
    for failure in failures[:20]:
        print(f"# failure {failure}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "requests": args.requests,
                    "worker_class": args.worker_class,
                    "load": load,
                    "warmup": args.warmup,
                    "baseline": baseline,
                    "peak": peak,
                    "growth_mib": round(growth, 3),
                    "failed": failed_total,
                    "samples": [asdict(sample) for sample in samples],
                    "processes": {str(pid): {"name": names[pid], "cpu": cpu[pid]} for pid in pids},
                },
                file,
                indent=1,
            )
    ok = growth < args.max_growth and failed_total == 0
    print("# PASS" if ok else "# FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
