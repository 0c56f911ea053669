"""Dataset items in and out of files: JSONL and CSV in; JSONL, CSV and OpenAI fine-tuning JSONL out.

Import is all or nothing: every line is parsed before any item is written, and a bad line is
named by its number.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from experiments.service import DatasetRuleError

__all__ = ["MAX_IMPORT_LINES", "export_items", "parse_import"]

MAX_IMPORT_LINES = 10_000
FIELDS = ("id", "input", "expectedOutput", "metadata", "status", "sourceTraceId", "sourceObservationId")
_ALIASES = {"expected_output": "expectedOutput", "output": "expectedOutput", "source_trace_id": "sourceTraceId",
            "source_observation_id": "sourceObservationId"}  # fmt: skip


def _cell(text: str) -> Any:
    """A CSV cell: JSON when it parses as JSON (objects, lists, numbers), else the text."""
    text = text.strip()
    if text[:1] in '{["' or text in ("true", "false", "null"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


def _row(raw: dict[str, Any], line: int) -> dict[str, Any]:
    row = {_ALIASES.get(k, k): v for k, v in raw.items() if k}
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise DatasetRuleError(f"line {line}", f"unknown fields {', '.join(sorted(unknown))}; use {', '.join(FIELDS)}")
    if "input" not in row:
        raise DatasetRuleError(f"line {line}", "every item needs an input")
    return {k: v for k, v in row.items() if v not in ("", None) or k == "input"}


def parse_import(text: str, fmt: str) -> list[dict[str, Any]]:
    """Items from a file's text (``jsonl`` or ``csv``); DatasetRuleError naming the bad line."""
    rows: list[dict[str, Any]] = []
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise DatasetRuleError(f"line {n}", f"not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise DatasetRuleError(f"line {n}", "each line is a JSON object")
            rows.append(_row(value, n))
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise DatasetRuleError("line 1", "a CSV file starts with a header row (input, expectedOutput, ...)")
        for n, record in enumerate(reader, 2):
            rows.append(_row({k: _cell(v or "") for k, v in record.items() if k is not None}, n))
    else:
        raise DatasetRuleError("format", "jsonl or csv")
    if len(rows) > MAX_IMPORT_LINES:
        raise DatasetRuleError("text", f"at most {MAX_IMPORT_LINES} items per import")
    if not rows:
        raise DatasetRuleError("text", "the file holds no items")
    return rows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _messages(value: Any, role: str) -> list[dict[str, str]]:
    # Chat-shaped values stay chat; anything else becomes one message of that role.
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in value):
        return [{"role": str(m["role"]), "content": _text(m["content"])} for m in value]
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return _messages(value["messages"], role)
    return [{"role": role, "content": _text(value)}]


def export_items(items: list[dict[str, Any]], fmt: str) -> tuple[str, str, str]:
    """(text, content type, file extension) of items in ``jsonl``, ``csv`` or ``openai``."""
    if fmt == "jsonl":
        lines = [orjson.dumps({k: item[k] for k in FIELDS if item.get(k) is not None}).decode() for item in items]
        return "\n".join(lines) + ("\n" if lines else ""), "application/x-ndjson", "jsonl"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        for item in items:
            writer.writerow(["" if item.get(k) is None else _text(item[k]) for k in FIELDS])
        return out.getvalue(), "text/csv", "csv"
    if fmt == "openai":
        lines = []
        for item in items:
            if item.get("expectedOutput") is None:
                continue  # a fine-tuning example needs the answer
            messages = _messages(item["input"], "user") + _messages(item["expectedOutput"], "assistant")
            lines.append(orjson.dumps({"messages": messages}).decode())
        return "\n".join(lines) + ("\n" if lines else ""), "application/x-ndjson", "openai.jsonl"
    raise DatasetRuleError("format", "jsonl, csv or openai")
