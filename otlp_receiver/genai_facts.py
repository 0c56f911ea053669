"""GenAI facts derived the same way whichever door a span came in by (OTLP or Langfuse
ingestion): token counts in the OTel convention, and cost, with the sender's cost winning over
the price table (the project's overrides first, then the built-in prices)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pricing import PICO_PER_USD, PriceBook, compute_cost

__all__ = [
    "LANGFUSE_USAGE_KEYS",
    "MAX_TOKENS",
    "TOKEN_COLUMNS",
    "cost",
    "inclusive_tokens",
    "langfuse_usage",
    "usage_count",
]

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
# Langfuse usage_details keys (exclusive counts) -> our column.
LANGFUSE_USAGE_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("input", "prompt_tokens", "input_tokens", "promptTokens"),
    "output": ("output", "completion_tokens", "output_tokens", "completionTokens"),
    "total": ("total", "total_tokens", "totalTokens"),
    "cache_read": ("input_cached_tokens", "cache_read_input_tokens", "input_cache_read", "cached_tokens"),
    "cache_write": ("input_cache_creation", "cache_creation_input_tokens", "input_cache_write"),
    "reasoning": ("output_reasoning_tokens", "reasoning_tokens", "output_reasoning"),
}
_PICO = Decimal(PICO_PER_USD)
_CENT_OF_PICO = Decimal("1e-12")
# What the typed columns hold. A count beyond a quadrillion tokens, or a cost of a million USD or
# more for one call (the cost columns are Decimal(18, 12)), is a client's bug: the span is stored
# with the count or the cost unknown (its attribute keeps what was sent), never refused for it.
MAX_TOKENS = 10**15
MAX_COST = Decimal(10**6)


def usage_count(value: Any) -> int | None:
    """A token count, or None for what is not one (negative, fractional, beyond MAX_TOKENS, text
    that is not digits)."""
    if isinstance(value, bool) or value is None:
        return None
    n: int
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        n = int(value.strip())
    else:
        return None
    return n if 0 <= n <= MAX_TOKENS else None


def _openai_usage(details: Mapping[str, Any], prefix_in: str, prefix_out: str) -> dict[str, int] | None:
    """OpenAI's usage (a chat completion's ``prompt``/``completion``, a response's ``input``/
    ``output``; all three counts needed, as Langfuse's schema) as Langfuse's keys: each detail
    ``input_<name>``/``output_<name>``, taken out of its side's count."""
    prompt, completion, total = (
        usage_count(details.get(k)) for k in (f"{prefix_in}_tokens", f"{prefix_out}_tokens", "total_tokens")
    )
    if prompt is None or completion is None or total is None:
        return None
    out = {"input": prompt, "output": completion, "total": total}
    for side, key in (("input", f"{prefix_in}_tokens_details"), ("output", f"{prefix_out}_tokens_details")):
        parts = details.get(key)
        for name, value in parts.items() if isinstance(parts, Mapping) else ():
            n = usage_count(value)
            if n:
                out[f"{side}_{name}"] = n
                out[side] = max(0, out[side] - n)
    return out


def langfuse_usage(details: Mapping[str, Any]) -> dict[str, int]:
    """A sender's ``usageDetails`` as Langfuse keeps them: OpenAI's chat or response usage (which
    Langfuse's OpenAI integration sends as it came, its details nested) in Langfuse's exclusive
    keys, else every key whose value is a count, as sent."""
    parsed = _openai_usage(details, "prompt", "completion") or _openai_usage(details, "input", "output")
    if parsed is not None:
        return parsed
    return {str(k): n for k, v in details.items() if (n := usage_count(v)) is not None}


def _part_of(key: str, side: str, named: set[str]) -> bool:
    # A service tier's count (LangChain's ``input_priority``) is no part: never taken out.
    return key.startswith(side + "_") and key not in named and not key.startswith(side + "_priority")


def inclusive_tokens(details: Mapping[str, int]) -> dict[str, int] | None:
    """Langfuse's usage (exclusive counts: input without cached input, output without reasoning,
    under any of the names SDKs use) as the OTel convention's inclusive columns; None when it
    counts nothing. Every other ``input_*``/``output_*`` count (OpenAI's audio and prediction
    tokens, Vertex's modalities, which Langfuse's integrations take out of their side) goes back
    into its side. A total the sender gave is kept; else it is input + output."""
    picked: dict[str, int] = {}
    named: set[str] = set()
    for name, keys in LANGFUSE_USAGE_KEYS.items():
        key = next((k for k in keys if k in details), None)
        picked[name] = details[key] if key is not None else 0
        named.update(keys)
    if not any(picked.values()):
        return None
    rest = {side: sum(n for k, n in details.items() if _part_of(k, side, named)) for side in ("input", "output")}
    inp = picked["input"] + picked["cache_read"] + picked["cache_write"] + rest["input"]
    out = picked["output"] + picked["reasoning"] + rest["output"]
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": picked["total"] or inp + out,
        "cache_read_tokens": picked["cache_read"],
        "cache_write_tokens": picked["cache_write"],
        "reasoning_tokens": picked["reasoning"],
    }


def cost(
    prices: PriceBook,
    project: str,
    model: str,
    tokens: Mapping[str, int],
    provided: Mapping[str, Decimal | str | float] | None,
) -> dict[str, Decimal]:
    """USD by usage type, with ``total``. What the sender provided wins; else the price of
    ``model`` (the project's override first) applied to the tokens; else nothing."""
    if provided:
        given: dict[str, Decimal] = {}
        for k, v in provided.items():
            try:
                amount = Decimal(str(v))
            except InvalidOperation:
                return {}
            if not amount.is_finite() or abs(amount) >= MAX_COST:
                return {}
            given[k] = amount.quantize(_CENT_OF_PICO)
        return given
    if not model or not (tokens.get("input_tokens") or tokens.get("output_tokens")):
        return {}
    price = prices.lookup(project, model)
    if price is None:
        return {}
    pico = compute_cost(
        price,
        tokens.get("input_tokens", 0),
        tokens.get("output_tokens", 0),
        tokens.get("cache_read_tokens", 0),
        tokens.get("cache_write_tokens", 0),
        tokens.get("reasoning_tokens", 0),
    )
    priced = {k: Decimal(v) / _PICO for k, v in pico.items()}
    return {} if any(v >= MAX_COST for v in priced.values()) else priced
