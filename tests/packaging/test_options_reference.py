"""docs/options.md is generated from the option table and must match it."""

from __future__ import annotations

from tools import options_reference

from hypercorn_protocol.config import OPTIONS


def test_every_option_has_a_description() -> None:
    assert sorted(OPTIONS - set(options_reference.DESCRIPTIONS)) == []
    assert sorted(set(options_reference.DESCRIPTIONS) - OPTIONS) == []


def test_options_page_is_up_to_date() -> None:
    assert options_reference.DOC.read_text() == options_reference.render(), (
        "docs/options.md is out of date: run `hatch run python tools/options_reference.py`"
    )


def test_the_page_lists_every_option_with_its_flags() -> None:
    page = options_reference.DOC.read_text()
    for name in OPTIONS:
        assert f"| `{name}` |" in page
    assert "`--reuse-port`" in page
    assert "`-b`/`--bind`" in page
