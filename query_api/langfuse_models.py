"""``/api/public/models``: Langfuse's model definitions, which in Tracehouse are the project's price
overrides (the same rows the Settings page edits) and, read-only, the built-in price table.

Langfuse prices are USD per unit (a token); overrides are kept per million tokens. Usage types
take Langfuse's names on the way in (``input_cached_tokens`` is our ``cache_read``...) and ours on
the way out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from pricing import BUILTIN_PRICES
from query_api.admin import notify_changed
from query_api.langfuse_api import PREFIX, LangfuseError, LangfuseReadApi, _meta, _page, langfuse_json
from storage import Store
from storage.prices import PriceOverride
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["langfuse_model_routes"]

MILLION = Decimal(10**6)
BUILTIN_PREFIX = "builtin-"
# Langfuse's usage type names -> ours.
USAGE_TYPES = {
    "input": "input",
    "output": "output",
    "input_cached_tokens": "cache_read",
    "input_cache_read": "cache_read",
    "cache_read": "cache_read",
    "input_cache_creation": "cache_write",
    "input_cache_write": "cache_write",
    "cache_write": "cache_write",
    "output_reasoning_tokens": "reasoning",
    "output_reasoning": "reasoning",
    "reasoning": "reasoning",
}
_EPOCH = "1970-01-01T00:00:00.000Z"


def _model_json(model_id: str, name: str, pattern: str, per_million: dict[str, Decimal], managed: bool) -> Any:
    per_token = {k: float(v / MILLION) for k, v in per_million.items()}
    prices = {k: {"price": v} for k, v in per_token.items()}
    return {
        "id": model_id,
        "modelName": name,
        "matchPattern": pattern,
        "startDate": None,
        "unit": "TOKENS",
        "inputPrice": per_token.get("input"),
        "outputPrice": per_token.get("output"),
        "totalPrice": None,
        "tokenizerId": None,
        "tokenizerConfig": None,
        "isLangfuseManaged": managed,
        "createdAt": _EPOCH,
        "prices": prices,
        "pricingTiers": [
            {
                "id": f"{model_id}-tier",
                "name": "Standard",
                "isDefault": True,
                "priority": 0,
                "conditions": [],
                "prices": dict(per_token),
            }
        ],
    }


def _override_json(o: PriceOverride) -> Any:
    return _model_json(o.id, o.model_name, o.match_pattern, o.prices, managed=False)


def _builtins() -> list[Any]:
    return [
        _model_json(BUILTIN_PREFIX + e.price.name, e.price.name, e.pattern.pattern, e.price.per_million(), managed=True)
        for e in BUILTIN_PRICES
    ]


async def list_models(request: web.Request, store: Store, project: str) -> web.Response:
    page, limit = _page(request)
    models = [_override_json(o) for o in await store.prices.list_overrides(project)] + _builtins()
    return langfuse_json({"data": models[(page - 1) * limit : page * limit], "meta": _meta(page, limit, len(models))})


async def _find(store: Store, project: str, model_id: str) -> Any:
    for o in await store.prices.list_overrides(project):
        if o.id == model_id:
            return _override_json(o)
    for model in _builtins():
        if model["id"] == model_id:
            return model
    raise LangfuseError(404, "LangfuseNotFoundError", f"Model {model_id[:100]} not found")


async def get_model(request: web.Request, store: Store, project: str) -> web.Response:
    return langfuse_json(await _find(store, project, request.match_info["model_id"]))


def _usd(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LangfuseError(400, "InvalidRequestError", f"{what} must be a number (USD per unit)")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise LangfuseError(400, "InvalidRequestError", f"{what} must be a number (USD per unit)") from None
    if not amount.is_finite() or amount < 0 or amount > 1:
        raise LangfuseError(400, "InvalidRequestError", f"{what} must be 0 to 1 USD per unit (token)")
    return amount


def _prices(body: dict[str, Any]) -> dict[str, Decimal]:
    """USD per token by our usage types, from flat prices, ``prices`` or the default pricing tier."""
    per_token: dict[str, Decimal] = {}
    tiers = body.get("pricingTiers")
    if isinstance(tiers, list) and tiers:
        default = next((t for t in tiers if isinstance(t, dict) and t.get("isDefault")), tiers[0])
        if not isinstance(default, dict) or not isinstance(default.get("prices"), dict):
            raise LangfuseError(400, "InvalidRequestError", "a pricing tier needs prices by usage type")
        source = default["prices"]
    else:
        source = {k: v for k, v in (body.get("prices") or {}).items()} if isinstance(body.get("prices"), dict) else {}
        for key, name in (("inputPrice", "input"), ("outputPrice", "output")):
            if body.get(key) is not None:
                source[name] = body[key]
    for key, value in source.items():
        ours = USAGE_TYPES.get(str(key))
        if ours is None:
            raise LangfuseError(400, "InvalidRequestError", f"unknown usage type {str(key)[:60]!r}")
        price = value.get("price") if isinstance(value, dict) else value
        per_token[ours] = _usd(price, f"the {key} price")
    if body.get("totalPrice") is not None:
        raise LangfuseError(400, "InvalidRequestError", "totalPrice is not supported: give input and output prices")
    if not per_token:
        raise LangfuseError(400, "InvalidRequestError", "give at least one price (inputPrice, outputPrice or prices)")
    return per_token


async def create_model(request: web.Request, store: Store, project: str) -> web.Response:
    return await _save_model(request, store, project, None)


async def upsert_model(request: web.Request, store: Store, project: str) -> web.Response:
    """Langfuse's PUT /models/{id} (SDK 5's ``api.models.upsert``): the project's model of that id,
    made or replaced; built-in models cannot be changed."""
    model_id = request.match_info["model_id"]
    if model_id.startswith(BUILTIN_PREFIX):
        raise LangfuseError(400, "InvalidRequestError", "built-in models cannot be modified; add an override instead")
    if not 0 < len(model_id) <= 200 or not model_id.isprintable():
        raise LangfuseError(400, "InvalidRequestError", "a model id is 1 to 200 printable characters")
    return await _save_model(request, store, project, model_id)


async def _save_model(request: web.Request, store: Store, project: str, model_id: str | None) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LangfuseError(400, "InvalidRequestError", "the body must be a JSON object")
    name, pattern = body.get("modelName"), body.get("matchPattern")
    if not isinstance(name, str) or not name.strip() or not isinstance(pattern, str) or not pattern:
        raise LangfuseError(
            400, "InvalidRequestError", "modelName and matchPattern (a regular expression) are required"
        )
    if body.get("unit") not in (None, "TOKENS"):
        raise LangfuseError(400, "InvalidRequestError", "only the TOKENS unit is priced by Tracehouse")
    if body.get("startDate") is not None:
        try:
            dt.datetime.fromisoformat(str(body["startDate"]).replace("Z", "+00:00"))
        except ValueError:
            raise LangfuseError(400, "InvalidRequestError", "startDate must be an ISO-8601 time") from None
    per_million = {k: v * MILLION for k, v in _prices(body).items()}
    try:
        override = await store.prices.add_override(project, name.strip(), pattern, dict(per_million), model_id)
    except InvalidInput as exc:
        raise LangfuseError(400, "InvalidRequestError", exc.message) from None
    notify_changed(request)
    return langfuse_json(_override_json(override))


async def delete_model(request: web.Request, store: Store, project: str) -> web.Response:
    model_id = request.match_info["model_id"]
    if model_id.startswith(BUILTIN_PREFIX):
        raise LangfuseError(400, "InvalidRequestError", "built-in models cannot be deleted; add an override instead")
    try:
        await store.prices.delete_override(project, model_id)
    except NotFound:
        raise LangfuseError(404, "LangfuseNotFoundError", f"Model {model_id[:100]} not found") from None
    notify_changed(request)
    return langfuse_json({"message": "Model successfully deleted"})


def langfuse_model_routes() -> list[web.RouteDef]:
    h = LangfuseReadApi().handler
    return [
        web.get(PREFIX + "/models", h(list_models)),
        web.post(PREFIX + "/models", h(create_model)),
        web.get(PREFIX + "/models/{model_id}", h(get_model)),
        web.put(PREFIX + "/models/{model_id}", h(upsert_model)),
        web.delete(PREFIX + "/models/{model_id}", h(delete_model)),
    ]
