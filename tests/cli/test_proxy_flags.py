"""``--proxy-protocol`` and ``--proxy-allow-ips`` set their ``Config`` options.

``run`` is replaced by a recorder: these tests check the ``Config`` the supervisor would
get (the drivers do not read the options yet).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import hypercorn_cli.run
from hypercorn_cli import main
from hypercorn_protocol.config import Config


@pytest.fixture
def configs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Config]:
    recorded: list[Config] = []

    def record(config: Config, **options: object) -> int:
        recorded.append(config)
        return 0

    monkeypatch.setattr(hypercorn_cli.run, "run", record)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return recorded


def test_defaults(configs: list[Config]) -> None:
    assert main(["app:app"]) == 0
    (config,) = configs
    assert config.proxy_protocol is False
    assert config.proxy_allow_ips == ["127.0.0.1", "::1"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--proxy-allow-ips", "10.0.0.1"], ["10.0.0.1"]),
        (["--proxy-allow-ips", "10.0.0.0/8,fd00::/8"], ["10.0.0.0/8", "fd00::/8"]),
        (["--proxy-allow-ips", "10.0.0.1", "--proxy-allow-ips", "*"], ["10.0.0.1", "*"]),
        (["--proxy-allow-ips", " 10.0.0.1 , ::1 ,"], ["10.0.0.1", "::1"]),
    ],
)
def test_allow_ips_are_comma_separated_and_repeatable(
    configs: list[Config], args: list[str], expected: list[str]
) -> None:
    assert main([*args, "--proxy-protocol", "app:app"]) == 0
    (config,) = configs
    assert config.proxy_protocol is True
    assert config.proxy_allow_ips == expected


def test_flag_replaces_the_config_file_list(configs: list[Config], tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        'proxy_protocol = true\nproxy_allow_ips = ["192.0.2.1", "192.0.2.2"]\n'
    )
    assert main(["-c", "c.toml", "app:app"]) == 0
    assert configs[-1].proxy_protocol is True
    assert configs[-1].proxy_allow_ips == ["192.0.2.1", "192.0.2.2"]

    assert main(["-c", "c.toml", "--proxy-allow-ips", "10.0.0.1", "app:app"]) == 0
    assert configs[-1].proxy_allow_ips == ["10.0.0.1"]


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "example.com", "10.0.0.256", "10.0.0.1,bad"])
def test_bad_entry_is_a_usage_error(
    configs: list[Config], capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    assert main(["--proxy-allow-ips", entry, "app:app"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "usage: hypercorn [OPTIONS] APPLICATION"
    assert err[1].startswith("Error: ")
    assert "proxy_allow_ips" in err[1]
    assert configs == []
