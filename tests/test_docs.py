"""The docs stay true: every setting is documented, the README shows the set-up commands."""

from __future__ import annotations

from pathlib import Path

from vident.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = DOCS.parent / "README.md"


def test_every_setting_is_documented() -> None:
    page = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in page, f"setting {name} is not in docs/configuration.md"
        assert f"`VIDENT_{name.upper()}`" in page


def test_readme_shows_both_setup_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
