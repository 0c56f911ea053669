"""Model prices and cost: a built-in table shipped as data, per-project overrides on top.

Prices are USD per 1M tokens per usage type (input, output, cache_read, cache_write,
reasoning). Cost is computed in integer pico-dollars (1e-12 USD, the scale of the cost
columns), so no float ever touches money. Token counts are inclusive, as in the OTel GenAI
conventions: input includes cached input, output includes reasoning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["BUILTIN_PRICES", "ModelPrice", "PriceBook", "compute_cost", "load_builtin"]

PRICES_FILE = Path(__file__).with_name("prices.json")
PICO_PER_USD = 10**12
USAGE_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")

# A bare model name may carry a provider prefix and a version suffix.
_PREFIX = r"(?i)^(?:[\w-]+[/:.])*"
_SUFFIX = (
    r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-v\d+(?::\d+)?|:\d+|-latest|-preview(?:-\w+)*"
    r"|-exp(?:-\w+)*|-\d{3,4}|-instruct)*$"
)


@dataclass(frozen=True)
class ModelPrice:
    """One model's prices: pico-USD per token by usage type."""

    name: str
    pico_per_token: dict[str, int]
    source: str  # "builtin" or the override's id

    def per_million(self) -> dict[str, Decimal]:
        return {k: Decimal(v) / Decimal(10**6) for k, v in self.pico_per_token.items()}


def _pico(per_million_usd: Any) -> int:
    # USD per 1M tokens -> pico-USD per token: x * 1e12 / 1e6.
    return int(Decimal(str(per_million_usd)) * 10**6)


@dataclass(frozen=True)
class _Entry:
    pattern: re.Pattern[str]
    specificity: int
    price: ModelPrice


def load_builtin(path: Path = PRICES_FILE) -> list[_Entry]:
    doc = json.loads(path.read_text())
    entries = []
    for model in doc["models"]:
        prices = {k: _pico(v) for k, v in model["prices_per_1m_tokens_usd"].items()}
        entries.append(
            _Entry(
                re.compile(_PREFIX + f"(?:{model['match']})" + _SUFFIX),
                len(model["match"]),
                ModelPrice(model["name"], prices, "builtin"),
            )
        )
    return entries


BUILTIN_PRICES = load_builtin()


@lru_cache(maxsize=4096)
def _builtin(model: str) -> ModelPrice | None:
    best: _Entry | None = None
    for entry in BUILTIN_PRICES:
        if entry.pattern.match(model) and (best is None or entry.specificity > best.specificity):
            best = entry
    return best.price if best else None


def compute_cost(
    price: ModelPrice, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, reasoning: int
) -> dict[str, int]:
    """Cost in pico-USD by usage type, plus "total"."""
    p = price.pico_per_token
    p_in = p.get("input", 0)
    uncached = max(0, input_tokens - cache_read - cache_write)
    out: dict[str, int] = {}
    if input_tokens:
        out["input"] = uncached * p_in
        if cache_read:
            out["cache_read"] = cache_read * p.get("cache_read", p_in)
        if cache_write:
            out["cache_write"] = cache_write * p.get("cache_write", p_in)
    if output_tokens:
        p_out = p.get("output", 0)
        if reasoning and "reasoning" in p:
            out["output"] = max(0, output_tokens - reasoning) * p_out
            out["reasoning"] = reasoning * p["reasoning"]
        else:
            out["output"] = output_tokens * p_out
    out["total"] = sum(out.values())
    return out


class PriceBook:
    """Finds a model's price: the project's overrides first, then the built-in table."""

    def __init__(self, overrides: dict[str, list[tuple[str, str, dict[str, Any]]]] | None = None) -> None:
        # project id -> [(override id, regex, {usage type: USD per 1M})]
        self._overrides: dict[str, list[tuple[re.Pattern[str], ModelPrice]]] = {}
        for project, rows in (overrides or {}).items():
            compiled = []
            for override_id, pattern, prices in rows:
                try:
                    regex = re.compile(pattern)
                except re.error:
                    continue  # validated when saved; a bad one must not stop ingestion
                compiled.append((regex, ModelPrice(override_id, {k: _pico(v) for k, v in prices.items()}, override_id)))
            self._overrides[project] = compiled

    def lookup(self, project_id: str, model: str) -> ModelPrice | None:
        if not model:
            return None
        for regex, price in self._overrides.get(project_id, ()):
            if regex.search(model):
                return price
        return _builtin(model)
