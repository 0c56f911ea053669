"""GenAI facts derived the same way whichever door a span came in by (OTLP or Langfuse
ingestion): token counts in the OTel convention, and cost, with the sender's cost winning over
the price table (the project's overrides first, then the built-in prices)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from pricing import PICO_PER_USD, PriceBook, compute_cost

__all__ = ["LANGFUSE_USAGE_KEYS", "MAX_TOKENS", "TOKEN_COLUMNS", "cost", "inclusive_tokens"]

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


def inclusive_tokens(details: Mapping[str, int]) -> dict[str, int] | None:
    """Langfuse's usage (exclusive counts: input without cached input, output without reasoning,
    under any of the names SDKs use) as the OTel convention's inclusive columns; None when it
    counts nothing. A total the sender gave is kept; else it is input + output."""
    picked = {name: next((details[k] for k in keys if k in details), 0) for name, keys in LANGFUSE_USAGE_KEYS.items()}
    if not any(picked.values()):
        return None
    inp = picked["input"] + picked["cache_read"] + picked["cache_write"]
    out = picked["output"] + picked["reasoning"]
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
