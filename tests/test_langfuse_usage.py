"""Every usage and cost form the Langfuse SDKs send, normalized (pure functions)."""

from decimal import Decimal

import pytest

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
