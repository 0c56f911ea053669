"""The UI's message catalogs, read from its code: every ``t("…")`` key, and the string literals
that a person would see but that bypass the catalogs. ``python -m ui.catalog`` rewrites en.json
from the code (keys sorted) and lists what zh-CN.json lacks; tests/test_i18n.py keeps both true."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

__all__ = ["CATALOGS", "UI", "bare_literals", "keys_in_code", "placeholders"]

UI = Path(__file__).parent
CATALOGS = UI / "locales"

# A JS string literal: "…", '…' or `…` (templates without nested backticks), escapes kept.
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`')
_KEY = re.compile(r'\bt\(\s*("(?:[^"\\\n]|\\.)*")')
_LINE_COMMENT = re.compile(r"^\s*//[^\n]*", re.M)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Literals people see: sentences, labels, and anything in a visible property.
_VISIBLE_PROP = re.compile(r'(?:\btext|placeholder|title|"aria-label"|alt|label)\s*:(?:[^,;{}()]*\?[^,;{}()]*:?)?\s*$')
_WORDS = re.compile(r"^[A-Z][a-z]+(?:[ ,.:?!…]|$)|[A-Za-z]{2,} [a-z]{2,}")
_NOT_TEXT_PROP = re.compile(r"(?:\bclass|type|rel|role|autocomplete|name|id|value|key|method|accept)\s*:\s*$")
# A word between a template's placeholders (" tokens", "(mean)"), in a template that is not code or style.
_TEMPLATE_WORD = re.compile(r"^(?!.*(?:[=;]|\w\(|\w:\w|^\?|^[a-z-]+:|^part ))(?=.*(?:^|[ (])[a-z]{3,}(?:[ )]|$))")
# Paths, selectors, media types and code.
_NOT_TEXT_STARTS = ("/", "#", ".", "http", "th-", "data-", "application/", "text/", "image/", "from ", "import ")
# A line that ends with this comment holds code for people to copy, not text to translate.
CODE_MARK = "// code, not text"
# Strings that are code, not text: headers, keys, formats, names of things that are the same everywhere.
TECHNICAL = {
    "Accept",
    "Content-Type",
    "X-CSRF-Token",
    "Authorization",
    "Enter",
    "Escape",
    "ArrowDown",
    "ArrowUp",
    "Tracehouse",
    "Langfuse",
    "Dify",
    "Grafana",
    "OpenTelemetry",
    "OpenAI",
    "Anthropic",
    "Python",
    "JavaScript",
    "Content-Disposition",
    "Basic",
    "Bearer",
    "Home",
    "End",
    "image",
    "audio",
    "video",
    # A boolean score's value, as Langfuse stores and shows it in any language.
    "True",
    "False",
}


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))  # same offsets and lines as the file


def _code(path: Path) -> str:
    """The file with its comments blanked out."""
    return _BLOCK_COMMENT.sub(_blank, _LINE_COMMENT.sub(_blank, path.read_text()))


def _sources(ui: Path = UI) -> list[Path]:
    return sorted(p for p in ui.glob("*.js") if p.name != "i18n.js")


def keys_in_code(ui: Path = UI) -> dict[str, list[str]]:
    """Every catalog key the UI's code (in ``ui``) asks for, with the files that ask."""
    found: dict[str, list[str]] = {}
    for path in [*_sources(ui), ui / "i18n.js"]:
        for match in _KEY.finditer(_code(path)):
            found.setdefault(json.loads(match.group(1)), []).append(path.name)
    # The error titles in i18n.js are keys too (looked up by code).
    i18n = _code(ui / "i18n.js")
    block = i18n[i18n.index("ERROR_TITLES") : i18n.index("};", i18n.index("ERROR_TITLES"))]
    for value in re.findall(r':\s*("(?:[^"\\]|\\.)*")', block):
        found.setdefault(json.loads(value), []).append("i18n.js")
    found.setdefault("Something went wrong", []).append("i18n.js")
    words = i18n[i18n.index("WORDS = new Set([") : i18n.index("]);", i18n.index("WORDS = new Set(["))]
    for value in re.findall(r'"(?:[^"\\]|\\.)*"', words):
        found.setdefault(json.loads(value), []).append("i18n.js")
    return found


def bare_literals(ui: Path = UI) -> list[tuple[str, int, str]]:
    """(file, line, literal) of each user-visible literal outside t(…) in the UI's code (in ``ui``)."""
    return [(path.name, line, raw) for path, line, _, raw in _bare(ui)]


def _strip_placeholders(template: str) -> str:
    """A template literal's text without its ${…} parts (which may nest braces and templates)."""
    out, i, depth = [], 0, 0
    while i < len(template):
        if depth == 0 and template.startswith("${", i):
            depth, i = 1, i + 2
            continue
        if depth:
            depth += {"{": 1, "}": -1}.get(template[i], 0)
        else:
            out.append(template[i])
        i += 1
    return "".join(out)


def _bare(ui: Path = UI) -> list[tuple[Path, int, int, str]]:
    out = []
    source = {path: path.read_text() for path in _sources(ui)}
    css_classes = set(re.findall(r"\.([a-z][a-z0-9-]*)", (ui / "style.css").read_text()))
    for path in _sources(ui):
        code = _code(path)
        for match in _LITERAL.finditer(code):
            start = match.start()
            before = code[max(0, start - 120) : start]
            if re.search(r"\bt\(\s*$", before):
                continue
            raw = match.group(0)
            line_start = code.rfind("\n", 0, start) + 1
            line_end = code.find("\n", start)
            if CODE_MARK in source[path][line_start : line_end if line_end >= 0 else None]:
                continue
            text = re.sub(r"\\.", " ", _strip_placeholders(raw[1:-1]) if raw[0] == "`" else raw[1:-1])
            if not re.search(r"[A-Za-z]{2}", text) or text.strip() in TECHNICAL:
                continue
            if text.startswith(_NOT_TEXT_STARTS) or re.search(r"\b(import|from)\s*$", before):
                continue
            if re.search(r"[\[(]\s*$", before) and raw[0] != "`" and not _WORDS.search(text):
                continue
            if _NOT_TEXT_PROP.search(before) or re.search(r"(?:querySelector(?:All)?|\bform)\(\s*$", before):
                continue
            if re.fullmatch(r"[a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)+", text) and set(text.split()) <= css_classes:
                continue  # class names passed along
            visible_prop = bool(_VISIBLE_PROP.search(before))
            # A template's words sit between its placeholders: any word at all is text.
            if visible_prop or _WORDS.search(text) or (raw[0] == "`" and _TEMPLATE_WORD.search(text)):
                out.append((path, code.count("\n", 0, start) + 1, start, raw))
    return out


def placeholders(text: str) -> set[str]:
    """The {name} placeholders of a message ({{double braces}} are text, shown as they are)."""
    return set(re.findall(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})", text))


def main() -> int:
    keys = keys_in_code()
    (CATALOGS / "en.json").write_text(json.dumps({k: k for k in sorted(keys)}, ensure_ascii=False, indent=1) + "\n")
    zh_path = CATALOGS / "zh-CN.json"
    zh = json.loads(zh_path.read_text()) if zh_path.exists() else {}
    missing = [k for k in sorted(keys) if k not in zh]
    unused = [k for k in zh if k not in keys]
    print(f"{len(keys)} keys; zh-CN lacks {len(missing)}, has {len(unused)} unused")
    for k in missing:
        print("missing:", json.dumps(k, ensure_ascii=False))
    for k in unused:
        print("unused:", json.dumps(k, ensure_ascii=False))
    for file, line, literal in bare_literals():
        print(f"bare: {file}:{line}: {literal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
