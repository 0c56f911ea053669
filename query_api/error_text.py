"""Error messages in the reader's language.

The API's messages are written in English in the code that raises them. For a request that
prefers Chinese (``Accept-Language``: the UI sends the language it shows), an error answer's
message is given from ``locales/zh-CN.json``: each key is a message as the code writes it, with
its f-string's values as ``{named}`` placeholders, and the translation keeps those placeholders.
A value that is itself a message of the catalog (the action of "your role ... may not {what}")
is translated too; a message the catalog does not know stays as it is. ``python -m
query_api.error_text`` lists the messages of the code that the catalog lacks, and keys no code
raises any more.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import string
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["CATALOG", "localize", "localize_document", "messages_in_code", "preferred_locale"]

CATALOG = Path(__file__).with_name("locales") / "zh-CN.json"
# The packages whose errors reach an API's answers.
SOURCES = ("query_api", "storage", "credentials", "prompts", "experiments", "evaluations", "llm", "mail", "tracehouse")
ROOT = Path(__file__).resolve().parent.parent
# Errors besides TracehouseError whose messages people read (the judge's and a model's, stored
# with an evaluation or an experiment; the rules of prompts and datasets, shown as "path:
# message"), with the argument that is the message: LangfuseError(status, error, message).
_USER_FACING = {"LangfuseError": -1, "JudgeError": 0, "ModelError": 0, "PromptRuleError": 1, "DatasetRuleError": 1}
# Calls whose last argument is an action phrase that a message names ("... may not {what}").
_ACTION_CALLS = frozenset({"require", "other_project", "_caller", "_require"})
_FORMATTER = string.Formatter()
# "path: message", the path a field or a thing and its id ("line 3", "item 1f2e..."): the path kept.
_FIELD_ERROR = re.compile(r"(?P<path>[\w.\[\]-]+(?: [\w.-]+)?): (?P<message>.+)\Z", re.DOTALL)


def preferred_locale(accept_language: str | None) -> str | None:
    """The language to answer in: "zh-CN" when ``accept_language`` prefers Chinese to English, else
    None (English)."""
    best: tuple[float, int] | None = None
    chosen = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0 or not (tag.startswith("zh") or tag.startswith("en") or tag == "*"):
            continue
        rank = (quality, -position)
        if best is None or rank > best:
            best, chosen = rank, tag
    return "zh-CN" if chosen is not None and chosen.startswith("zh") else None


def _fields(template: str) -> list[tuple[str, str | None]]:
    return [(literal, name) for literal, name, _, _ in _FORMATTER.parse(template)]


@functools.cache
def _catalog(path: Path = CATALOG) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """The catalog: messages without placeholders by text, the others as patterns (the most
    literal text first, so that a specific message wins over a general one)."""
    entries: dict[str, str] = json.loads(path.read_text())
    exact: dict[str, str] = {}
    patterns: list[tuple[int, re.Pattern[str], str]] = []
    for key, text in entries.items():
        fields = _fields(key)
        if all(name is None for _, name in fields):
            exact[key.replace("{{", "{").replace("}}", "}")] = text.replace("{{", "{").replace("}}", "}")
            continue
        if not re.search(r"[^\W\d_]", "".join(literal for literal, _ in fields)):
            continue  # only placeholders and punctuation ("{path}: {message}"): it names no message
        regex = "".join(
            re.escape(literal) + (f"(?P<{name}>.+?)" if name is not None else "") for literal, name in fields
        )
        literal_chars = sum(len(literal) for literal, _ in fields)
        patterns.append((literal_chars, re.compile(regex + r"\Z", re.DOTALL), text))
    patterns.sort(key=lambda p: -p[0])
    return exact, [(pattern, text) for _, pattern, text in patterns]


def localize(message: str, locale: str | None) -> str:
    """``message`` in ``locale`` ("zh-CN"), or as it is when the catalog does not know it."""
    if locale != "zh-CN" or not message:
        return message
    exact, patterns = _catalog()
    if message in exact:
        return exact[message]
    for pattern, text in patterns:
        match = pattern.match(message)
        if match is not None:
            values = {name: exact.get(value, value) for name, value in match.groupdict().items()}
            return text.format_map(values)
    # A field's error, "path: message" (the rules of prompts and datasets, a schema's check).
    field = _FIELD_ERROR.match(message)
    if field is not None and (said := localize(field["message"], locale)) != field["message"]:
        return f"{field['path']}：{said}"
    return message


def localize_document(doc: Any, locale: str) -> bool:
    """Translate the messages of an error answer in place: ours (``{"error": {"message"}}``),
    Langfuse's (``{"message"}``, its issues' messages) and Prometheus's (``{"error": "..."}``).
    True if anything changed."""
    if not isinstance(doc, dict):
        return False
    changed = False

    def put(holder: dict[str, Any], key: str) -> None:
        nonlocal changed
        value = holder.get(key)
        if isinstance(value, str):
            text = localize(value, locale)
            if text != value:
                holder[key] = text
                changed = True

    error = doc.get("error")
    if isinstance(error, dict):
        put(error, "message")
    elif isinstance(error, list):
        for issue in error:
            if isinstance(issue, dict):
                put(issue, "message")
    elif doc.get("status") == "error":
        put(doc, "error")
    put(doc, "message")
    return changed


def _placeholder(node: ast.expr, taken: set[str]) -> str:
    """A readable name for an f-string's value: its variable, attribute or key."""
    name = "value"
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        name = node.slice.value
    elif isinstance(node, ast.Call) and node.args:
        return _placeholder(node.args[0], taken)
    name = re.sub(r"\W", "_", name.strip("_").lower()) or "value"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}{n}", n + 1
    taken.add(unique)
    return unique


def _template(node: ast.expr) -> str | None:
    """The catalog key of a message argument: a string, or an f-string with named placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if isinstance(node, ast.JoinedStr):
        taken: set[str] = set()
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
            elif isinstance(value, ast.FormattedValue):
                parts.append("{" + _placeholder(value.value, taken) + "}")
        return "".join(parts)
    return None


def _error_names() -> set[str]:
    from tracehouse import errors

    return {
        name
        for name in dir(errors)
        if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), errors.TracehouseError)
    }


def messages_in_code(packages: Iterable[Path] | None = None) -> dict[str, list[str]]:
    """Each message the code raises (a TracehouseError's literal message) and each action phrase
    it names, as catalog keys, with where they are (file:line)."""
    errors = {name: 0 for name in _error_names()} | _USER_FACING
    found: dict[str, list[str]] = {}
    for package in packages if packages is not None else (ROOT / p for p in SOURCES):
        for path in sorted(package.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if callee in errors:
                    if len(node.args) <= errors[callee] or -errors[callee] > len(node.args):
                        continue
                    argument = node.args[errors[callee]]
                elif callee in _ACTION_CALLS:
                    argument = node.args[-1]
                else:
                    continue
                key = _template(argument)
                if key:
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    found.setdefault(key, []).append(f"{where}:{node.lineno}")
    return found


def placeholders(template: str) -> set[str]:
    """The placeholder names of a catalog key or translation."""
    return {name for _, name in _fields(template) if name is not None}


def main() -> int:
    keys = messages_in_code()
    catalog = json.loads(CATALOG.read_text())
    missing = [k for k in sorted(keys) if k not in catalog]
    unused = [k for k in catalog if k not in keys]
    print(f"{len(keys)} messages in the code; the catalog lacks {len(missing)}, has {len(unused)} unused")
    for key in missing:
        print("missing:", json.dumps(key, ensure_ascii=False), keys[key][0])
    for key in unused:
        print("unused:", json.dumps(key, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
