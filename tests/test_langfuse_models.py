"""Langfuse's model API is the project's price overrides: SDK 5's client creates, lists, reads and
deletes them, a generation is priced by the one created, and bad bodies get clear errors."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from tests.langfuse_helpers import basic, make_key, run_sdk
from tracehouse.server import Running


async def test_sdk5_models_are_price_overrides(live: Running) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_models.py", live.api_url, pair)
    created = out["created"]
    assert (created["modelName"], created["isLangfuseManaged"]) == ("my-finetune", False)
    assert created["inputPrice"] == 0.000002 and created["outputPrice"] == 0.000008
    assert out["got"]["id"] == created["id"]
    # Listed with the built-in table (read-only, Langfuse-managed).
    ids = {m["id"]: m for m in out["listed"]}
    assert created["id"] in ids and any(m["isLangfuseManaged"] for m in out["listed"])
    assert out["total"] > 50
    # The same row the Settings page shows, per 1M tokens.
    overrides = await live.store.prices.list_overrides("default")
    assert [(o.model_name, o.prices.get("input"), o.prices.get("output")) for o in overrides] == [
        ("my-finetune", Decimal("2"), Decimal("8")),
        ("team", Decimal("3"), None),  # upserted twice by its id: one model, the second's fields
    ]
    assert (out["upserted"]["id"], out["upserted"]["matchPattern"]) == ("team-model", "^team-v2$")
    assert out["builtin_upsert"] == "Error 400"  # the SDK's class for a 400
    assert out["temporary"] not in out["after"]
    # The generation is priced by it: 1000 x $2/1M + 500 x $8/1M.
    spans = await live.store.reader.trace("default", out["trace_id"])
    llm = next(s for s in spans if s["name"] == "llm")
    assert Decimal(llm["total_cost"]) == Decimal("0.006")


async def test_model_api_refuses_garbage(live: Running) -> None:
    headers = basic(await make_key(live))
    url = live.api_url + "/api/public/models"
    good = {"modelName": "m", "matchPattern": "^m$", "inputPrice": 0.000001}
    async with aiohttp.ClientSession() as s:
        for change in (
            {"modelName": ""},
            {"matchPattern": "(unclosed"},
            {"inputPrice": -1},
            {"inputPrice": "lots"},
            {"inputPrice": None},
            {"unit": "CHARACTERS"},
            {"totalPrice": 0.1},
            {"prices": {"made_up_usage": {"price": 0.1}}},
            {"startDate": "whenever"},
        ):
            async with s.post(url, json={**good, **change}, headers=headers) as r:
                doc = await r.json()
                assert r.status == 400 and doc["error"] == "InvalidRequestError", (change, doc)
            async with s.put(url + "/my-model", json={**good, **change}, headers=headers) as r:
                assert r.status == 400, change
        async with s.put(url + "/" + "x" * 201, json=good, headers=headers) as r:
            assert r.status == 400
        async with s.post(url, data=b"{nope", headers={**headers, "Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with s.delete(url + "/builtin-gpt-4o", headers=headers) as r:
            assert r.status == 400
        async with s.delete(url + "/mp-missing", headers=headers) as r:
            assert r.status == 404
        async with s.get(url) as r:
            assert r.status == 401
    assert await live.store.prices.list_overrides("default") == []
