"""One judgement: the template's prompt filled from the object, the judge model asked for a score in
a fixed JSON shape, and its answer parsed strictly.

Structured output is asked for in the strongest way the provider takes: a JSON schema
(``response_format``), else a forced tool call (what many OpenAI-compatible servers support), else
plain instructions. The mode that worked is remembered per connection. Every answer is checked
against the schema; one that does not fit is an error that says why, never a silent 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from evaluations.templates import output_schema
from llm import ChatResult, ModelError, chat

__all__ = ["MODES", "JudgeError", "Judgement", "judge", "render", "variables_of"]

MODES = ("json_schema", "tool", "plain")
TOOL = "submit_evaluation"
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


class JudgeError(Exception):
    """The judge answered, but not with a usable score (never retried: the same prompt would fail)."""


@dataclass
class Judgement:
    value: float
    string_value: str
    data_type: str
    reasoning: str
    result: ChatResult
    mode: str


def variables_of(prompt: str) -> list[str]:
    """The {{variables}} of a prompt, each once, in order."""
    return list(dict.fromkeys(m.group(1) for m in _VARIABLE.finditer(prompt)))


def render(prompt: str, variables: dict[str, str]) -> str:
    """The prompt with its {{variables}} filled; unknown ones are left as they are."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), prompt)


def _parse(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        doc = json.loads(body)
    except ValueError:
        raise JudgeError(f"the judge's answer is not JSON: {text[:200]!r}") from None
    # Extra fields a judge adds (its reasoning where none was asked for) are ignored, not an error.
    errors = list(jsonschema.Draft202012Validator({**schema, "additionalProperties": True}).iter_errors(doc))
    if errors:
        raise JudgeError(f"the judge's answer does not fit the score's shape: {errors[0].message}")
    return dict(doc)


def _score(doc: dict[str, Any], output: dict[str, Any]) -> tuple[float, str, str]:
    value = doc["score"]
    if output["type"] == "numeric":
        return float(value), "", "NUMERIC"
    if output["type"] == "boolean":
        return (1.0 if value else 0.0), ("True" if value else "False"), "BOOLEAN"
    return float(output["categories"].index(value)), str(value), "CATEGORICAL"


async def judge(
    adapter: str,
    base_url: str,
    api_key: str,
    model: str,
    headers: dict[str, str],
    prompt: str | list[dict[str, str]],
    output: dict[str, Any],
    mode: str = "json_schema",
    timeout_s: float = 60.0,
) -> Judgement:
    """Ask the judge; ModelError when the call fails, JudgeError when its answer is unusable."""
    schema = output_schema(output)
    instruction = (
        "Give your evaluation as a JSON object with exactly these fields: "
        + json.dumps(schema["properties"])
        + ". Answer with that JSON object only."
    )
    # A template's own chat messages follow the instruction; a plain prompt is one user message.
    asked = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
    messages = [{"role": "system", "content": instruction}, *asked]
    modes = MODES[MODES.index(mode) :] if mode in MODES else MODES
    last: ModelError | None = None
    for current in modes:
        params: dict[str, Any] = {"temperature": 0}
        if current == "json_schema" and adapter != "anthropic":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "evaluation", "schema": schema, "strict": True},
            }
        elif current == "json_schema":
            continue  # Anthropic has no response_format: its tool call is the structured way
        elif current == "tool":
            if adapter == "anthropic":
                params["tools"] = [{"name": TOOL, "description": "Submit the evaluation.", "input_schema": schema}]
                params["tool_choice"] = {"type": "tool", "name": TOOL}
            else:
                params["tools"] = [{"type": "function", "function": {"name": TOOL, "parameters": schema}}]
                params["tool_choice"] = {"type": "function", "function": {"name": TOOL}}
        try:
            result = await chat(adapter, base_url, api_key, model, messages, headers, params, timeout_s)
        except ModelError as exc:
            # A 400 names a feature the provider lacks (response_format, tools): try the next way.
            if exc.status in (400, 422) and current != "plain":
                last = exc
                continue
            raise
        text = result.tool_arguments if current == "tool" and result.tool_arguments is not None else result.text
        doc = _parse(text, schema)
        value, string_value, data_type = _score(doc, output)
        return Judgement(value, string_value, data_type, str(doc.get("reasoning", "")), result, current)
    assert last is not None
    raise last
