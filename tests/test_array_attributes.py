"""Array attributes (a langfuse SDK's trace tags, an exporter's ``http.retry_codes``) match by their
elements: in the traces list's attribute filter, in TraceQL, and in Grafana's tag values."""

import asyncio
import json

import aiohttp

from storage.traceql_sql import attribute_equals, compile_condition
from tests.otlp_data import request
from tracehouse.server import Running
from tracehouse.traceql import parse

TAGGED, OTHER = b"\x0a" * 16, b"\x0b" * 16


async def seed(live: Running) -> None:
    spans = [
        {"trace_id": TAGGED, "name": "tagged", "attrs": {"app.tags": ["sdk-v4", "退货"], "app.codes": [429, 503],
                                                         "app.flags": [True], "app.tier": "gold"}},
        {"trace_id": OTHER, "name": "other", "attrs": {"app.tags": ["billing"], "app.codes": [200],
                                                       "app.tier": "sdk-v4"}},
    ]  # fmt: skip
    result = await live.ingest.ingest(request(spans).SerializeToString(), "protobuf", None)
    assert result.accepted == 2


async def listed(live: Running, *attribute: str) -> list[str]:
    params = [("attribute", a) for a in attribute]
    async with aiohttp.ClientSession() as s, s.get(live.api_url + "/api/v1/traces", params=params) as r:
        assert r.status == 200, await r.text()
        return sorted(t["trace_id"] for t in (await r.json())["items"])


async def tempo(live: Running, path: str, **params: str) -> dict:
    async with aiohttp.ClientSession() as s, s.get(live.api_url + "/tempo" + path, params=params) as r:
        assert r.status == 200, await r.text()
        return json.loads(await r.read())


async def test_array_attributes_match_by_their_elements(live: Running) -> None:
    await seed(live)
    tagged, other = TAGGED.hex(), OTHER.hex()
    for _ in range(6000):  # acknowledged is stored at once; listed once its batch is inserted
        if await listed(live) == sorted([tagged, other]):
            break
        await asyncio.sleep(0.01)
    assert await listed(live) == sorted([tagged, other])

    # The traces list's attribute filter: an element, not the stored array's JSON text.
    assert await listed(live, "app.tags=退货") == [tagged]
    assert await listed(live, "app.tags=billing") == [other]
    assert await listed(live, "app.codes=503") == [tagged]
    assert await listed(live, "app.flags=true") == [tagged]
    assert await listed(live, "app.tags=sdk") == []  # a whole element, not a part of one
    assert await listed(live, "app.tier=sdk-v4") == [other]  # a string is still compared whole
    assert await listed(live, "app.tags=sdk-v4", "app.tier=gold") == [tagged]

    # TraceQL, as Tempo reads an array: = and the orderings when one element matches, != when none does.
    cases = {
        '{ span.app.tags = "sdk-v4" }': [tagged],
        '{ .app.tags = "退货" }': [tagged],
        '{ span.app.tags != "sdk-v4" }': [other],
        '{ span.app.tags =~ "bill.*" }': [other],
        '{ span.app.tags !~ "bill.*" }': [tagged],
        "{ span.app.codes >= 500 }": [tagged],
        "{ span.app.codes = 200 }": [other],
        "{ span.app.codes > 503 }": [],
        "{ span.app.flags = true }": [tagged],
        '{ span.app.tier = "gold" }': [tagged],
        '{ span.app.tags = "{\\"arrayValue\\"" }': [],
    }
    for q, expected in cases.items():
        doc = await tempo(live, "/api/search", q=q)
        assert sorted(t["traceID"] for t in doc["traces"]) == expected, q

    # Grafana's autocomplete offers the elements, which those conditions match.
    doc = await tempo(live, "/api/v2/search/tag/span.app.tags/values")
    assert doc["tagValues"] == [{"type": "string", "value": v} for v in ("billing", "sdk-v4", "退货")]
    doc = await tempo(live, "/api/v2/search/tag/span.app.tier/values")
    assert doc["tagValues"] == [{"type": "string", "value": v} for v in ("gold", "sdk-v4")]


async def test_a_filter_on_elements_still_skips_by_the_indexes(live: Running) -> None:
    """The list's filter and TraceQL's condition read the values' index and the index of which
    attributes are arrays (storage.tables): a rare value is found without reading every span."""
    await seed(live)
    condition, params = compile_condition(parse('{ span.app.tags = "sdk-v4" }'))
    for where in (attribute_equals("span_attributes", "'app.tags'", "'sdk-v4'"), condition):
        plan = await live.store.backend.query(f"EXPLAIN indexes = 1 SELECT count() FROM spans WHERE {where}", params)
        text = "\n".join(r["explain"] for r in plan)
        assert "idx_span_attr_values" in text and "idx_span_attr_arrays" in text, text
