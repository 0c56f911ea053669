"""The UI's message catalogs stay complete: every key the code asks for is in en.json and
zh-CN.json, no catalog keeps an unused key, translations keep their {placeholders}, and no
user-visible literal in the UI's code bypasses the catalogs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ui.catalog import CATALOGS, UI, bare_literals, keys_in_code, placeholders


def catalog(name: str) -> dict[str, str]:
    return json.loads((CATALOGS / name).read_text())


def test_every_key_is_in_both_catalogs_and_none_is_unused() -> None:
    keys = set(keys_in_code())
    for name in ("en.json", "zh-CN.json"):
        entries = catalog(name)
        missing = sorted(keys - set(entries))
        unused = sorted(set(entries) - keys)
        assert not missing, f"{name} lacks {missing[:10]} (python -m ui.catalog lists them)"
        assert not unused, f"{name} has unused keys {unused[:10]}"
    assert all(k == v for k, v in catalog("en.json").items()), "en.json maps each key to itself"


def test_translations_keep_their_placeholders_and_say_something() -> None:
    zh = catalog("zh-CN.json")
    for key, text in zh.items():
        assert text.strip(), f"empty translation of {key!r}"
        assert placeholders(text) == placeholders(key), f"{key!r} -> {text!r}: placeholders differ"
    same = [k for k, v in zh.items() if k == v]
    # Names and code stay as they are; anything else left in English is a missing translation.
    assert set(same) <= {"API", "Base URL", "Fatal", "Host", "Tracehouse", "production, staging"}, same


def test_no_user_visible_literal_outside_the_catalogs() -> None:
    assert bare_literals() == []


def test_the_checks_catch_a_literal_and_a_new_key(tmp_path: Path) -> None:
    """The checks above can fail: a page with a bare sentence and a key no catalog has."""
    ui = tmp_path / "ui"
    shutil.copytree(UI, ui, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    page = ui / "pages.js"
    extra = '[h("p", { text: "Nothing to see here" }), h("p", { text: t("A brand new key") })]'
    page.write_text(page.read_text() + f"\nexport const extra = () => {extra};\n")
    assert ("pages.js", page.read_text().count("\n"), '"Nothing to see here"') in bare_literals(ui)
    assert "A brand new key" in keys_in_code(ui) and "A brand new key" not in catalog("zh-CN.json")
