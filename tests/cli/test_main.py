"""``hypercorn_cli.main``: flags and config sources become one ``Config``.

``run`` is replaced by a recorder, so these tests see exactly the ``Config`` the
supervisor would get, without serving.
"""

from __future__ import annotations

import socket
import ssl
import sys
from pathlib import Path

import pytest

import hypercorn_cli.run
from hypercorn_cli import main
from hypercorn_cli._workers import WorkerClassError, check_worker, resolve_worker
from hypercorn_protocol.config import Config
from tests.cli._support import ASGI_APP, free_port


class Recorder:
    """Stands in for ``hypercorn_cli.run.run``."""

    def __init__(self) -> None:
        self.configs: list[Config] = []

    def __call__(self, config: Config, **options: object) -> int:
        self.configs.append(config)
        return 0

    @property
    def config(self) -> Config:
        (config,) = self.configs
        return config


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(hypercorn_cli.run, "run", recorder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return recorder


def test_no_flags_keeps_the_defaults(recorder: Recorder) -> None:
    assert main(["app:app"]) == 0

    config = recorder.config
    defaults = Config()
    assert config.application_path == "app:app"
    assert config.bind == defaults.bind == ["127.0.0.1:8000"]
    assert config.workers == defaults.workers
    assert config.keep_alive_timeout == defaults.keep_alive_timeout
    assert config.worker_class == "asyncio"


@pytest.mark.parametrize(
    ("args", "attribute", "expected"),
    [
        (["-b", "0.0.0.0:80", "--bind", "[::]:80"], "bind", ["0.0.0.0:80", "[::]:80"]),
        (["--insecure-bind", "127.0.0.1:81"], "insecure_bind", ["127.0.0.1:81"]),
        (["--quic-bind", "127.0.0.1:4433"], "quic_bind", ["127.0.0.1:4433"]),
        (["-k", "uvloop"], "worker_class", "uvloop"),
        (["--worker-class", "trio"], "worker_class", "trio"),
        (["-w", "0"], "workers", 0),
        (["--workers", "4"], "workers", 4),
        (["--certfile", "c.pem"], "certfile", "c.pem"),
        (["--keyfile", "k.pem"], "keyfile", "k.pem"),
        (["--keyfile-password", "secret"], "keyfile_password", "secret"),
        (["--ca-certs", "ca.pem"], "ca_certs", "ca.pem"),
        (["--ciphers", "ECDHE+CHACHA20"], "ciphers", "ECDHE+CHACHA20"),
        (["--access-logfile", "-"], "accesslog", "-"),
        (["--access-logformat", "%(h)s"], "access_log_format", "%(h)s"),
        (["--error-logfile", "err.log"], "errorlog", "err.log"),
        (["--log-file", "err.log"], "errorlog", "err.log"),
        (["--log-level", "DEBUG"], "loglevel", "DEBUG"),
        (["--log-config", "json:log.json"], "logconfig", "json:log.json"),
        (["--keep-alive", "10"], "keep_alive_timeout", 10.0),
        (["--keep-alive", "2.5"], "keep_alive_timeout", 2.5),
        (["--graceful-timeout", "7"], "graceful_timeout", 7.0),
        (["--read-timeout", "30"], "read_timeout", 30.0),
        (["--request-header-timeout", "2.5"], "request_header_timeout", 2.5),
        (["--request-header-timeout", "off"], "request_header_timeout", None),
        (["--request-body-timeout", "30"], "request_body_timeout", 30.0),
        (["--response-write-timeout", "none"], "response_write_timeout", None),
        (["--max-request-body-size", "1048576"], "max_request_body_size", 1048576),
        (["--max-request-body-size", "off"], "max_request_body_size", None),
        (["--websocket-ping-interval", "15"], "websocket_ping_interval", 15.0),
        (["--keep-alive-max-requests", "50"], "keep_alive_max_requests", 50),
        (["--startup-timeout", "2.5"], "startup_timeout", 2.5),
        (["--shutdown-timeout", "9"], "shutdown_timeout", 9.0),
        (["--websocket-max-message-size", "1024"], "websocket_max_message_size", 1024),
        (["--root-path", "/api/"], "root_path", "/api"),
        (
            ["--server-name", "a.test", "--server-name", "b.test"],
            "server_names",
            ["a.test", "b.test"],
        ),
        (["--backlog", "2048"], "backlog", 2048),
        (["--max-requests", "1000"], "max_requests", 1000),
        (["--max-requests", "1000", "--max-requests-jitter", "50"], "max_requests_jitter", 50),
        (["--debug"], "debug", True),
        (["--reload"], "use_reloader", True),
        (["--no-daemon"], "daemon", False),
        (["-D"], "daemon", True),
        (["-p", "server.pid"], "pid_path", "server.pid"),
        (["-u", "1000"], "user", 1000),
        (["-g", "1000"], "group", 1000),
        (["-m", "022"], "umask", 0o022),
        (["--umask", "0o077"], "umask", 0o077),
        (["--statsd-host", "localhost:8125"], "statsd_host", "localhost:8125"),
        (["--statsd-prefix", "web"], "statsd_prefix", "web"),
        (["--verify-mode", "CERT_REQUIRED"], "verify_mode", ssl.CERT_REQUIRED),
        (["--proxy-protocol"], "proxy_protocol", True),
        (
            ["--proxy-allow-ips", "10.0.0.0/8,fd00::/8", "--proxy-allow-ips", "*"],
            "proxy_allow_ips",
            ["10.0.0.0/8", "fd00::/8", "*"],
        ),
        (["--metrics-bind", "127.0.0.1:9100"], "metrics_bind", "127.0.0.1:9100"),
    ],
)
def test_flag_sets_its_config_attribute(
    recorder: Recorder, args: list[str], attribute: str, expected: object
) -> None:
    assert main([*args, "app:app"]) == 0

    assert getattr(recorder.config, attribute) == expected


def test_max_requests_jitter_does_not_take_max_requests(recorder: Recorder) -> None:
    assert main(["--max-requests", "1000", "app:app"]) == 0

    assert recorder.config.max_requests == 1000
    assert recorder.config.max_requests_jitter == 0


def test_deprecated_alias_still_works_and_warns(
    recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--access-log", "access.log", "app:app"]) == 0

    assert recorder.config.accesslog == "access.log"
    assert capsys.readouterr().err == (
        "Warning: --access-log is deprecated, use --access-logfile\n"
    )


def test_toml_config_is_overridden_only_by_given_flags(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "hypercorn.toml").write_text(
        'bind = ["127.0.0.1:9000", "127.0.0.1:9001"]\n'
        "keep_alive_timeout = 20\n"
        'statsd_prefix = "from-file"\n'
        "server_names = ['file.test']\n"
        "workers = 3\n"
    )

    assert main(["-c", "hypercorn.toml", "-w", "2", "--server-name", "flag.test", "app:app"]) == 0

    config = recorder.config
    assert config.workers == 2  # flag wins
    assert config.server_names == ["flag.test"]  # a list flag replaces the file's list
    assert config.bind == ["127.0.0.1:9000", "127.0.0.1:9001"]  # file value kept
    assert config.keep_alive_timeout == 20
    assert config.statsd_prefix == "from-file"  # an absent flag never resets it


def test_python_file_config(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("graceful_timeout = 9\nworkers = 0\n")

    assert main(["-c", "file:settings.py", "app:app"]) == 0

    assert recorder.config.graceful_timeout == 9
    assert recorder.config.workers == 0


def test_python_module_config_imports_from_the_current_directory(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cli_settings_module.py").write_text("backlog = 7\n")
    monkeypatch.delitem(sys.modules, "cli_settings_module", raising=False)

    assert main(["-c", "python:cli_settings_module", "app:app"]) == 0

    assert recorder.config.backlog == 7
    monkeypatch.delitem(sys.modules, "cli_settings_module", raising=False)


def test_application_argument_wins_over_the_config_file(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('application_path = "other:app"\n')

    assert main(["-c", "c.toml", "app:app"]) == 0

    assert recorder.config.application_path == "app:app"


def test_unknown_config_key_is_a_one_line_warning(
    recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.toml").write_text("keep_alive_timout = 3\n")

    assert main(["-c", "c.toml", "app:app"]) == 0

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("Warning: ")
    assert "keep_alive_timout" in err[0]


@pytest.mark.parametrize(
    "args",
    [
        ["-w", "-1", "app:app"],
        ["--keep-alive", "soon", "app:app"],
        ["-k", "gevent", "app:app"],
        ["-m", "9", "app:app"],
        ["--verify-mode", "CERT_SOMETIMES", "app:app"],
        ["--proxy-allow-ips", "10.0.0.1/8", "app:app"],
        ["--proxy-allow-ips", "proxy.example", "app:app"],
        ["--metrics-bind", "9100", "app:app"],
        ["--no-such-flag", "app:app"],
        [],
    ],
)
def test_bad_command_line_is_the_usage_line_and_one_error_and_exit_2(
    recorder: Recorder, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(args) == 2

    err = capsys.readouterr().err.splitlines()
    assert err[0] == "usage: hypercorn [OPTIONS] APPLICATION"
    assert len(err) == 2
    assert err[1].startswith("Error: ")
    assert recorder.configs == []


def test_bad_worker_class_in_config_file_is_one_line(
    recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.toml").write_text('worker_class = "gevent"\n')

    assert main(["-c", "c.toml", "app:app"]) == 2

    assert capsys.readouterr().err.startswith("Error: ")


def test_help_exits_0(recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0

    out = capsys.readouterr().out
    assert "--bind" in out
    assert "--worker-class" in out


# ---------------------------------------------------------------- with the real run()


@pytest.fixture
def in_app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cli_main_app.py").write_text(ASGI_APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "cli_main_app", raising=False)
    return tmp_path


def test_bad_app_path_is_one_line_and_leaves_nothing_bound(
    in_app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()

    assert main(["-b", f"127.0.0.1:{port}", "cli_main_app:missing"]) == 2

    assert capsys.readouterr().err.startswith("Error: ")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_port_in_use_leaves_nothing_bound(
    in_app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    free = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        busy_port = busy.getsockname()[1]

        code = main(["-b", f"127.0.0.1:{free}", "-b", f"127.0.0.1:{busy_port}", "cli_main_app:app"])

    assert code == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"Error: cannot bind 127.0.0.1:{busy_port}: address already in use"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", free))


def test_missing_backend_names_its_extra(
    in_app_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)

    assert main(["-k", "uvloop", "cli_main_app:app"]) == 2

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "pip install 'hypercorn[uvloop]'" in err[0]


def test_missing_httptools_names_its_extra(
    in_app_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)

    assert main(["--http", "httptools", "cli_main_app:app"]) == 2

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "pip install 'hypercorn[fast]'" in err[0]


def test_unknown_http_parser_is_a_usage_error(
    in_app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--http", "picohttp", "cli_main_app:app"]) == 2

    assert "picohttp" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["trio", "hypercorn_trio"])
def test_missing_trio_names_its_extra(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    monkeypatch.delitem(sys.modules, "hypercorn_trio.run", raising=False)

    with pytest.raises(WorkerClassError, match=r"pip install 'hypercorn\[trio\]'"):
        resolve_worker("trio")
    with pytest.raises(WorkerClassError, match=r"pip install 'hypercorn\[trio\]'"):
        check_worker("trio")


def test_check_worker_accepts_the_installed_backends_and_refuses_unknown_ones() -> None:
    for worker_class in ("asyncio", "uvloop", "trio"):
        check_worker(worker_class)
    with pytest.raises(WorkerClassError, match="unknown worker class 'gevent'"):
        check_worker("gevent")


def test_asyncio_worker_is_the_driver_function() -> None:
    from hypercorn_asyncio.run import asyncio_worker, uvloop_worker

    assert resolve_worker("asyncio") is asyncio_worker
    assert resolve_worker("uvloop") is uvloop_worker


def test_pyproject_tool_hypercorn_table(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "site"\n\n[tool.hypercorn]\nkeep_alive_timeout = 12\nworkers = 3\n'
    )

    assert main(["-c", "pyproject.toml", "-w", "2", "app:app"]) == 0

    assert recorder.config.keep_alive_timeout == 12  # from the file
    assert recorder.config.workers == 2  # the flag wins


def test_pyproject_without_tool_hypercorn_is_one_line(
    recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "site"\n')

    assert main(["-c", "pyproject.toml", "app:app"]) != 0

    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "[tool.hypercorn]" in err
