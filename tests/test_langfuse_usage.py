"""Every usage and cost form the Langfuse SDKs send, normalized (pure functions)."""

from decimal import Decimal

import pytest

from otlp_receiver.genai_facts import TOKEN_COLUMNS, inclusive_tokens, langfuse_usage
from otlp_receiver.langfuse.entities import merge, provided_cost, provided_usage


@pytest.mark.parametrize(
    ("state", "details", "unit"),
    [
        (
            {"usage": {"input": 10, "output": 5, "total": 15, "unit": "TOKENS"}},
            {"input": 10, "output": 5, "total": 15},
            "TOKENS",
        ),
        ({"usage": {"input": 10, "output": 5}}, {"input": 10, "output": 5, "total": 15}, "TOKENS"),
        (
            {"usage": {"promptTokens": 7, "completionTokens": 3, "totalTokens": 10}},
            {"input": 7, "output": 3, "total": 10},
            "TOKENS",
        ),
        (
            {"usage": {"input": 40, "output": 2, "unit": "CHARACTERS"}},
            {"input": 40, "output": 2, "total": 42},
            "CHARACTERS",
        ),
        (
            {
                "usageDetails": {
                    "prompt_tokens": 100,
                    "completion_tokens": 20,
                    "total_tokens": 120,
                    "prompt_tokens_details": {"cached_tokens": 60},
                    "completion_tokens_details": {"reasoning_tokens": 5},
                }
            },
            {"input": 40, "input_cached_tokens": 60, "output": 15, "output_reasoning_tokens": 5, "total": 120},
            "TOKENS",
        ),
        (
            {"usageDetails": {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10}},
            {"input": 9, "output": 1, "total": 10},
            "TOKENS",
        ),
        ({"usageDetails": {"input": 3, "output": "4", "bogus": -1, "text": "x"}}, {"input": 3, "output": 4}, "TOKENS"),
        (
            {"usage": {"input": 1}, "usageDetails": {"input": 2, "cache_read_input_tokens": 8}},
            {"input": 2, "cache_read_input_tokens": 8},
            "TOKENS",
        ),
    ],
)
def test_usage_forms(state: dict, details: dict, unit: str) -> None:
    got, got_unit = provided_usage(state)
    assert got == details and got_unit == unit


@pytest.mark.parametrize(
    "details",
    [
        {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "prompt_tokens_details": ["cached", 3]},
        {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "completion_tokens_details": "4"},
        {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6, "input_tokens_details": {"cached_tokens": -2}},
    ],
)
def test_openai_usage_with_garbage_details(details: dict) -> None:
    """Details that are no counts are left out; the counts stay."""
    assert langfuse_usage(details) == {"input": 5, "output": 1, "total": 6}


def _columns(*counts: int) -> dict[str, int]:
    return dict(zip(TOKEN_COLUMNS, counts, strict=True))


def test_exclusive_usage_as_inclusive_columns() -> None:
    """Every part Langfuse takes out of a side goes back into it: cached and audio input, reasoning
    and audio output (OpenAI's details), Anthropic's cache keys."""
    openai = {"input": 40, "input_cached_tokens": 60, "input_audio_tokens": 10, "output": 15,
              "output_reasoning_tokens": 5, "output_audio_tokens": 3, "total": 133}  # fmt: skip
    assert inclusive_tokens(openai) == _columns(110, 23, 133, 60, 0, 5)
    anthropic = {"input": 21, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output": 9}
    assert inclusive_tokens(anthropic) == _columns(126, 9, 135, 100, 5, 0)
    # Vertex's modalities (Langfuse's LangChain handler); a service tier's count is no part.
    vertex = {"input": 0, "input_modality_text": 20, "input_priority": 20, "output": 7, "total": 27}
    assert inclusive_tokens(vertex)["input_tokens"] == 20  # type: ignore[index]
    # OpenAI's own keys (an SDK that sends them flat) are no parts of a side.
    flat = {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    assert inclusive_tokens(flat) == _columns(12, 5, 17, 0, 0, 0)
    assert inclusive_tokens({"bogus": 3}) is None


def test_cost_forms() -> None:
    assert provided_cost({"usage": {"inputCost": 0.1, "outputCost": 0.2}}) == {
        "input": Decimal("0.1"),
        "output": Decimal("0.2"),
        "total": Decimal("0.3"),
    }
    assert provided_cost({"usage": {"totalCost": 0.0123}}) == {"total": Decimal("0.0123")}
    assert provided_cost({"costDetails": {"input": 1, "output": -1, "x": "y"}}) == {
        "input": Decimal(1),
        "total": Decimal(1),
    }
    assert provided_cost({"usage": {"totalCost": None}}) == {}


def test_merge_rules() -> None:
    state = merge(
        "observation",
        None,
        {
            "id": "o",
            "traceId": "t",
            "startTime": 1,
            "metadata": {"a": {"x": 1}},
            "input": "q",
            "name": "first",
            "environment": "prod",
        },
    )
    state = merge(
        "observation",
        state,
        {
            "traceId": "other",
            "startTime": 2,
            "environment": "dev",
            "name": None,
            "metadata": {"a": {"y": 2}, "b": 3},
            "input": "",
            "output": "r",
            "modelParameters": {},
        },
    )
    assert state["traceId"] == "t" and state["startTime"] == 1 and state["environment"] == "prod"
    assert state["name"] == "first" and state["input"] == "q" and state["output"] == "r"
    assert state["metadata"] == {"a": {"x": 1, "y": 2}, "b": 3}
    assert "modelParameters" not in state
    trace = merge("trace", {"id": "t", "tags": ["b"]}, {"tags": ["a", "b"], "metadata": "scalar"})
    assert trace["tags"] == ["a", "b"] and trace["metadata"] == {"metadata": "scalar"}
