"""nginx in front of the real ``hypercorn`` command.

nginx runs unprivileged-port, from a configuration written to the test's directory
(``nginx -p DIR -c DIR/nginx.conf -e DIR/error.log -g 'daemon off;'``): no system
configuration, no system log. The ``server`` part is ``hypercorn.conf`` beside this
file, the same text docs/deployment.md shows, with ports and paths swapped in.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli._support import Server, free_port, hypercorn_command
from tests.frameworks._support import ROOT, Certs, make_certs

FRAGMENT = Path(__file__).with_name("hypercorn.conf")
STREAM_FRAGMENT = Path(__file__).with_name("stream.conf")
#: Debian's nginx has the stream module as a separate package (libnginx-mod-stream).
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
APP = "tests.nginx.app:app"


def find_nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


NGINX = find_nginx()

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx not found (`apt-get install nginx`; .ci/run installs it)"
)


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    http_port: int
    https_port: int
    directory: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def configure(directory: Path, upstream: str, certs: Certs) -> tuple[str, int, int]:
    """nginx.conf for ``directory``: the documented fragment with real ports and paths."""
    http_port, https_port = free_port(), free_port()
    fragment = FRAGMENT.read_text()
    for documented, actual in (
        ("server 127.0.0.1:8000;", f"server {upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/ssl/example.com.pem", str(certs.cert_file)),
        ("/etc/ssl/example.com.key", str(certs.key_file)),
    ):
        assert documented in fragment, documented
        fragment = fragment.replace(documented, actual)
    temp = directory / "temp"
    temp.mkdir()
    # As root, nginx's workers would switch to an unprivileged user that cannot read
    # the test's directory (or connect to its unix socket); keep them root here.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = f"""{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{fragment}
}}
"""
    return conf, http_port, https_port


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("nginx-certs"))


StartNginx = Callable[[str], Nginx]


@pytest.fixture
def start_nginx(tmp_path: Path, certs: Certs) -> Iterator[StartNginx]:
    """Start nginx in front of ``upstream`` (``host:port`` or ``unix:/path``)."""
    started: list[Nginx] = []

    def start(upstream: str) -> Nginx:
        assert NGINX is not None
        directory = tmp_path / f"nginx{len(started)}"
        directory.mkdir()
        conf, http_port, https_port = configure(directory, upstream, certs)
        (directory / "nginx.conf").write_text(conf)
        process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(directory),
                "-c",
                str(directory / "nginx.conf"),
                "-e",
                str(directory / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        nginx = Nginx(process, http_port, https_port, directory)
        started.append(nginx)
        try:
            wait_listening(http_port, process)
            wait_listening(https_port, process)
        except BaseException:
            print(nginx.error_log())
            raise
        return nginx

    yield start
    for nginx in started:
        if nginx.process.poll() is None:
            nginx.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                nginx.process.wait(10)
            except subprocess.TimeoutExpired:
                nginx.process.kill()
                nginx.process.wait()


@dataclass
class Upstream:
    server: Server
    address: str  # as nginx's ``server`` wants it


StartUpstream = Callable[..., Upstream]


@pytest.fixture
def start_upstream() -> Iterator[StartUpstream]:
    """Start ``hypercorn -k BACKEND ... tests.nginx.app:app`` on TCP or a unix socket."""
    servers: list[Server] = []
    directories: list[str] = []

    def start(
        backend: str = "asyncio",
        *,
        unix: bool = False,
        workers: int = 1,
        args: tuple[str, ...] = (),
        scheme: str = "http",
    ) -> Upstream:
        if unix:
            # a short path: sun_path holds 108 bytes, and tmp_path can be longer
            directory = tempfile.mkdtemp(prefix="hcn-")
            directories.append(directory)
            bind = f"unix:{directory}/hypercorn.sock"
            address = bind
            ready = f"Running on {bind}"
        else:
            port = free_port()
            bind = address = f"127.0.0.1:{port}"
            ready = f"Running on {scheme}://{bind}"
        server = Server(
            [*hypercorn_command(), "-k", backend, "-b", bind, "-w", str(workers), *args, APP],
            ROOT,
        )
        servers.append(server)
        server.wait_for(ready, count=workers, timeout=60)
        return Upstream(server, address)

    yield start
    for server in servers:
        server.close()
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


StartStreamNginx = Callable[[str], int]


@pytest.fixture
def start_stream_nginx(tmp_path: Path) -> Iterator[StartStreamNginx]:
    """Start nginx's stream proxy (``stream.conf``) in front of ``upstream``; its port."""
    if not STREAM_MODULE.exists():
        pytest.skip(f"nginx's stream module is missing ({STREAM_MODULE}: libnginx-mod-stream)")
    processes: list[subprocess.Popen[bytes]] = []

    def start(upstream: str) -> int:
        assert NGINX is not None
        directory = tmp_path / f"stream{len(processes)}"
        directory.mkdir()
        port = free_port()
        fragment = STREAM_FRAGMENT.read_text()
        for documented, actual in (
            ("listen 443;", f"listen 127.0.0.1:{port};"),
            ("proxy_pass 127.0.0.1:8443;", f"proxy_pass {upstream};"),
        ):
            assert documented in fragment, documented
            fragment = fragment.replace(documented, actual)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text(
            f"""load_module {STREAM_MODULE};
{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 512; }}
{fragment}
"""
        )
        process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(directory),
                "-c",
                str(directory / "nginx.conf"),
                "-e",
                str(directory / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        wait_listening(port, process)
        return port

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
