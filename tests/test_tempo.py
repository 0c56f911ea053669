"""Grafana's Tempo data source API: trace by id (protobuf and JSON), TraceQL search, tags."""

import base64
import json

import aiohttp
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from tests.otel import in_thread
from tests.otlp_data import request
from tests.test_otlp_sdk import send_agent_trace
from tracehouse.server import Running

SEARCH_TRACE_FIELDS = {
    "traceID",
    "rootServiceName",
    "rootTraceName",
    "startTimeUnixNano",
    "durationMs",
    "spanSet",
    "spanSets",
    "serviceStats",
}
SPAN_FIELDS = {"spanID", "name", "startTimeUnixNano", "durationNanos", "attributes"}


async def get(live: Running, path: str, headers: dict[str, str] | None = None, **params: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/tempo" + path, params=params, headers=headers or {}) as r,
    ):
        return r.status, await r.read()


def unwrap_v2(body: bytes) -> TracesData:
    """tempopb.TraceByIDResponse -> its Trace (field 1), decoded with the OTLP classes."""
    assert body[0] == 0x0A
    length, shift, i = 0, 0, 1
    while True:
        byte = body[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            break
        shift += 7
    return TracesData.FromString(body[i : i + length])


def attrs(kvs) -> dict:
    out = {}
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        value = getattr(kv.value, which)
        if which == "array_value":
            value = [getattr(v, v.WhichOneof("value")) for v in value.values]
        out[kv.key] = value
    return out


@pytest.fixture
async def trace_id(live: Running) -> str:
    return await in_thread(lambda: send_agent_trace("http", live))


async def test_trace_by_id_protobuf_keeps_types(live: Running, trace_id: str) -> None:
    status, body = await get(live, f"/api/v2/traces/{trace_id}", {"Accept": "application/protobuf"})
    assert status == 200
    data = unwrap_v2(body)
    spans = {s.name: s for rs in data.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert set(spans) == {"invoke_agent support", "chat gpt-4o", "execute_tool get_weather"}
    chat = spans["chat gpt-4o"]
    assert chat.trace_id.hex() == trace_id and chat.parent_span_id == spans["invoke_agent support"].span_id
    a = attrs(chat.attributes)
    assert a["app.flag"] is True and a["app.retries"] == 3 and a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.response.finish_reasons"] == ["tool_call"]
    assert json.loads(a["gen_ai.input.messages"])[1]["role"] == "user"  # stored once, given back whole
    assert chat.kind == 3 and chat.events[0].name == "gen_ai.custom"
    assert attrs(chat.events[0].attributes) == {"k": "v", "n": 2}
    assert spans["execute_tool get_weather"].status.code == 2
    resource = attrs(data.resource_spans[0].resource.attributes)
    assert resource["service.name"] == "support-bot"

    status, v1 = await get(live, f"/api/traces/{trace_id}", {"Accept": "application/protobuf"})
    assert status == 200 and TracesData.FromString(v1) == data


async def test_trace_by_id_json_and_not_found(live: Running, trace_id: str) -> None:
    status, body = await get(live, f"/api/v2/traces/{trace_id.upper()}")
    doc = json.loads(body)
    assert status == 200 and set(doc) == {"trace"}
    span = doc["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert base64.b64decode(span["traceId"]).hex() == trace_id and span["kind"].startswith("SPAN_KIND_")
    status, body = await get(live, f"/api/traces/{trace_id}")
    assert status == 200 and set(json.loads(body)) == {"batches"}
    assert (await get(live, "/api/v2/traces/" + "f" * 32))[0] == 404
    assert (await get(live, f"/api/v2/traces/{trace_id}", start="20", end="10"))[0] == 400

    short = bytes(13) + b"\x0a\xbc\xde"  # an id Grafana may send without its leading zeros
    await live.ingest.ingest(request([{"trace_id": short}]).SerializeToString(), "protobuf", None)
    assert (await get(live, "/api/v2/traces/abcde", {"Accept": "application/protobuf"}))[0] == 200


async def test_search(live: Running, trace_id: str) -> None:
    async def search(**params: str) -> tuple[int, dict | bytes]:
        status, body = await get(live, "/api/search", **params)
        return status, (json.loads(body) if status == 200 else body)

    status, doc = await search(q='{ span.gen_ai.request.model = "gpt-4o" && duration > 0ms && kind = client }')
    assert status == 200 and [t["traceID"] for t in doc["traces"]] == [trace_id]
    item = doc["traces"][0]
    assert set(item) <= SEARCH_TRACE_FIELDS
    assert item["rootServiceName"] == "support-bot" and item["rootTraceName"] == "invoke_agent support"
    assert item["spanSets"][0]["matched"] == 1 and item["spanSets"] == [item["spanSet"]]
    span = item["spanSets"][0]["spans"][0]
    assert set(span) <= SPAN_FIELDS and span["name"] == "chat gpt-4o" and int(span["durationNanos"]) >= 0

    cases = {
        "{ status = error }": [trace_id],
        '{ resource.service.name = "support-bot" && name =~ "execute_tool.*" }': [trace_id],
        '{ .session.id = "sess-1" }': [trace_id],
        "{ span.app.retries >= 3 && span.app.flag = true }": [trace_id],
        '{ resource.service.name = "nope" }': [],
        '{ span.gen_ai.request.model = nil && name = "chat gpt-4o" }': [],
        "{ traceDuration > 1h }": [],
        '{ rootServiceName = "support-bot" }': [trace_id],
        # trace-level intrinsics combine with OR and AND like any comparison
        '{ traceDuration > 1h || name = "chat gpt-4o" }': [trace_id],
        '{ traceDuration > 1h && name = "chat gpt-4o" }': [],
        '{ rootServiceName = "nope" || status = error }': [trace_id],
        '{ rootName = "invoke_agent support" && traceDuration < 1h }': [trace_id],
        "{}": [trace_id],
        '{ name = "x\\" OR 1=1 --" }': [],
    }
    for q, expected in cases.items():
        status, doc = await search(q=q)
        assert status == 200, q
        assert [t["traceID"] for t in doc["traces"]] == expected, q
    status, doc = await search(tags="service.name=support", minDuration="0ms")
    assert [t["traceID"] for t in doc["traces"]] == [trace_id]
    for bad in (
        {"q": "{ nonsense"},
        {"q": "{} | frobnicate() > 1"},
        {"q": "{} | count() > x"},
        {"limit": "0"},
        {"start": "20", "end": "10"},
        {"q": "{}", "tags": "a=b"},
        {"minDuration": "2s", "maxDuration": "1s"},
    ):
        status, _ = await search(**bad)
        assert status == 400, bad


async def test_tags_and_values(live: Running, trace_id: str) -> None:
    status, body = await get(live, "/api/v2/search/tags", limit="5000")
    scopes = {s["name"]: s["tags"] for s in json.loads(body)["scopes"]}
    assert "gen_ai.request.model" in scopes["span"] and "service.name" in scopes["resource"]
    assert "duration" in scopes["intrinsic"] and "rootServiceName" in scopes["intrinsic"]
    assert "service.name" in json.loads((await get(live, "/api/search/tags"))[1])["tagNames"]

    async def values(tag: str, **params: str) -> list:
        status, body = await get(live, f"/api/v2/search/tag/{tag}/values", **params)
        assert status == 200, tag
        return json.loads(body)["tagValues"]

    assert await values("resource.service.name") == [{"type": "string", "value": "support-bot"}]
    assert await values("span.app.retries") == [{"type": "int", "value": "3"}]
    assert {"type": "keyword", "value": "error"} in await values("status")
    names = [v["value"] for v in await values("name", q='{ span.gen_ai.operation.name = "chat" }')]
    assert names == ["chat gpt-4o"]
    assert await values("resource.service.name", q="{ resource.cluster = }")  # incomplete q: unfiltered
    status, body = await get(live, "/api/search/tag/service.name/values")
    assert status == 200 and json.loads(body)["tagValues"] == ["support-bot"]


async def test_genai_tags_from_typed_columns(live: Running) -> None:
    """OpenInference's model and provider (llm.model_name, llm.provider) are the GenAI attributes'
    to Grafana's autocomplete, as they are to TraceQL's conditions (storage.traceql_sql)."""
    project = await live.store.projects.create_project("openinference")
    span = {"trace_id": b"\x07" * 16, "name": "ChatAnthropic", "attrs": {"llm.model_name": "claude-3-haiku",
            "llm.provider": "anthropic", "openinference.span.kind": "LLM"}}  # fmt: skip
    result = await live.ingest.ingest(request([span]).SerializeToString(), "protobuf", project.id)
    assert result.accepted == 1
    pair = await live.store.projects.create_key(project.id)
    live.changed()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()}
    status, body = await get(live, "/api/v2/search/tags", auth)
    tags = {s["name"]: s["tags"] for s in json.loads(body)["scopes"]}["span"]
    assert status == 200 and {"gen_ai.request.model", "gen_ai.provider.name", "llm.model_name"} <= set(tags), tags
    assert "gen_ai.system" not in tags and "gen_ai.response.model" not in tags  # none has one
    for tag, value in (("span.gen_ai.request.model", "claude-3-haiku"), ("span.gen_ai.provider.name", "anthropic")):
        status, body = await get(live, f"/api/v2/search/tag/{tag}/values", auth)
        assert status == 200 and json.loads(body)["tagValues"] == [{"type": "string", "value": value}], body
    status, body = await get(live, "/api/search", auth, q='{ span.gen_ai.request.model = "claude-3-haiku" }')
    assert status == 200 and [t["traceID"] for t in json.loads(body)["traces"]] == ["07" * 16]


async def test_meta_endpoints_and_auth(live: Running) -> None:
    assert await get(live, "/api/echo") == (200, b"echo")
    status, body = await get(live, "/api/status/buildinfo")
    assert status == 200 and json.loads(body)["version"].startswith("2.")
    pair = await live.store.projects.create_key("default")
    live.changed()
    assert (await get(live, "/api/search"))[0] == 401  # a key exists: no more open reads
    token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
    assert (await get(live, "/api/search", {"Authorization": f"Basic {token}"}))[0] == 200
