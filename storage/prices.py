"""Per-project model price overrides (``model_prices``); the built-in table ships with the receiver."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyarrow as pa

from storage.api import Backend
from storage.tables import MODEL_PRICES
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["PriceOverride", "Prices"]

USAGE_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")


@dataclass(frozen=True)
class PriceOverride:
    id: str
    project_id: str
    model_name: str
    match_pattern: str
    prices: dict[str, Decimal]  # USD per 1M tokens by usage type


class Prices:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def list_overrides(self, project_id: str | None = None) -> list[PriceOverride]:
        """Live overrides, of one project or of all."""
        where = "is_deleted = 0" + (" AND project_id = {p:String}" if project_id else "")
        rows = await self._backend.query(
            f"SELECT id, project_id, model_name, match_pattern, prices FROM model_prices FINAL WHERE {where} "
            "ORDER BY project_id, created_at",
            {"p": project_id} if project_id else None,
        )
        return [
            PriceOverride(r["id"], r["project_id"], r["model_name"], r["match_pattern"], dict(r["prices"]))
            for r in rows
        ]

    async def add_override(
        self,
        project_id: str,
        model_name: str,
        match_pattern: str,
        prices: dict[str, str | float | Decimal],
        override_id: str | None = None,
    ) -> PriceOverride:
        """Add a price for models matching ``match_pattern`` (a regular expression) in one project;
        with ``override_id``, the override of that id is made or replaced."""
        try:
            re.compile(match_pattern)
        except re.error as exc:
            raise InvalidInput(f"match_pattern is not a valid regular expression: {exc}") from None
        clean: dict[str, Decimal] = {}
        for usage, value in prices.items():
            if usage not in USAGE_TYPES:
                raise InvalidInput(f"unknown usage type {usage!r}; one of {', '.join(USAGE_TYPES)}")
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                raise InvalidInput(f"price for {usage} is not a number: {value!r}") from None
            if not amount.is_finite() or amount < 0 or amount > 1_000_000:
                raise InvalidInput(f"price for {usage} must be between 0 and 1000000 USD per 1M tokens")
            clean[usage] = amount.quantize(Decimal("1e-12"))
        if not clean:
            raise InvalidInput("give at least one price")
        new_id = override_id or "mp-" + secrets.token_hex(8)
        override = PriceOverride(new_id, project_id, model_name, match_pattern, clean)
        await self._put(override, deleted=False)
        return override

    async def delete_override(self, project_id: str, override_id: str) -> None:
        for override in await self.list_overrides(project_id):
            if override.id == override_id:
                await self._put(override, deleted=True)
                return
        raise NotFound(f"no price override {override_id!r} in project {project_id!r}")

    async def _put(self, o: PriceOverride, deleted: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        row = {
            "project_id": o.project_id,
            "id": o.id,
            "model_name": o.model_name,
            "match_pattern": o.match_pattern,
            "prices": list(o.prices.items()),
            "start_date": None,
            "created_at": now,
            "updated_at": now,
            "is_deleted": int(deleted),
        }
        await self._backend.insert(MODEL_PRICES.name, pa.Table.from_pylist([row], schema=MODEL_PRICES.arrow_schema()))
