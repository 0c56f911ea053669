"""SDK 5's read API against Tracehouse: v2 observations (field groups, cursor pages) and v3 scores,
through the SDK's own generated client; and the same endpoints fed garbage."""

from __future__ import annotations

import asyncio
import json as _json
from urllib.parse import quote

import aiohttp

from query_api.langfuse_v2 import OBSERVATION_GROUPS
from tests.helpers import add_score, span, span_table
from tests.langfuse_helpers import basic, make_key, run_sdk
from tracehouse.server import Running


async def test_sdk5_reads_observations_v2_and_scores_v3(live: Running) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_reads.py", live.api_url, pair)
    pages = out["pages"]
    # One observation a page, newest first, each page's cursor leading to the next; none twice.
    assert [len(p) for p in pages] == [1, 1, 1]
    observations = [p[0] for p in pages]
    assert len({o["id"] for o in observations}) == 3
    assert {o["name"] for o in observations} == {"agent", "search", "llm"}
    starts = [o["startTime"] for o in observations]
    assert starts == sorted(starts, reverse=True)
    llm = next(o for o in observations if o["name"] == "llm")
    assert llm["type"] == "GENERATION" and llm["traceId"] == out["trace_id"]
    assert llm["usageDetails"]["input"] == 7 and llm["output"] == "4"  # io as raw strings
    assert isinstance(llm["input"], str) and "2+2?" in llm["input"]
    agent = next(o for o in observations if o["name"] == "agent")
    assert agent["isRootObservation"] is True and agent["parentObservationId"] is None
    # Only the groups asked for: core alone has no name, input or usage.
    assert "name" not in out["core_keys"] and "input" not in out["core_keys"] and "traceId" in out["core_keys"]
    # Without io and metadata the rows are read light: the same values as with every group.
    async with aiohttp.ClientSession(headers=basic(pair)) as s:
        url = f"{live.api_url}/api/public/v2/observations?traceId={out['trace_id']}"
        async with s.get(url + "&fields=" + ",".join(OBSERVATION_GROUPS)) as r:
            every = {o["id"]: o for o in (await r.json())["data"]}
        for groups in ("", "&fields=core,basic,model,usage,time,prompt,metrics,trace_context"):
            async with s.get(url + groups) as r:
                light = (await r.json())["data"]
            assert len(light) == len(every) == 3 and all("input" not in o for o in light)
            assert all(o == {k: every[o["id"]][k] for k in o} for o in light)
        assert every[llm["id"]]["input"] == llm["input"]
    scores = {s["id"]: s for s in out["scores"]}
    assert set(scores) == {"v3-bool", "v3-num", "v3-cat"}
    assert (scores["v3-bool"]["dataType"], scores["v3-bool"]["value"]) == ("BOOLEAN", True)
    assert scores["v3-bool"]["stringValue"] == "True"  # as Langfuse gives it (the SDK's BooleanScore)
    assert scores["v3-bool"]["subject"]["kind"] == "observation"
    assert (scores["v3-num"]["value"], scores["v3-num"]["subject"]["kind"]) == (0.75, "trace")
    assert scores["v3-cat"]["value"] == "friendly"


async def test_v2_reads_refuse_garbage(live: Running) -> None:
    headers = basic(await make_key(live))
    other = basic(await make_key(live, (await live.store.projects.create_project("other")).id))
    await live.store.writer.write(span_table([span("e" * 32, "f" * 16, name="default's")]))
    await add_score(live.store.backend, "e" * 32)
    base = live.api_url + "/api/public"
    async with aiohttp.ClientSession() as s:
        for path in (
            "/v2/observations?limit=0",
            "/v2/observations?limit=abc",
            "/v2/observations?limit=5000",
            "/v2/observations?fields=core,everything",
            "/v2/observations?cursor=!!!",
            "/v2/observations?cursor=WzFd",  # a valid cursor of the wrong shape
            "/v2/observations?parseIoAsJson=true",
            "/v2/observations?fromStartTime=yesterday",
            *(
                "/v2/observations?filter=" + quote(_json.dumps(conditions))
                for conditions in (
                    {"type": "string", "column": "name", "operator": "=", "value": "x"},  # not an array
                    [{"type": "string", "column": "name", "operator": "=", "value": 5}],
                    [{"type": "string", "column": "name", "operator": "LIKE", "value": "%"}],
                    [{"type": "number", "column": "name", "operator": "=", "value": 1}],
                    [{"type": "stringObject", "column": "metadata", "operator": "=", "value": "x"}],  # no key
                    [{"type": "datetime", "column": "startTime", "operator": ">", "value": "2026-12-01T00:00"}],
                    [{"type": "stringOptions", "column": "type", "operator": "any of", "value": []}],
                    [{"type": "string", "column": "name) OR (1=1", "operator": "=", "value": "x"}],
                    ["name = x"],
                    [{"type": "null", "column": "name", "operator": "is null"}] * 51,
                )
            ),
            "/v2/scores?filter=" + quote(_json.dumps([{"type": "number", "column": "name", "operator": "="}])),
            "/scores?filter=not-json",
            "/v3/scores?cursor=bm9wZQ",
            "/v3/scores?limit=-1",
        ):
            async with s.get(base + path, headers=headers) as r:
                doc = await r.json()
                assert r.status == 400 and doc["error"] == "InvalidRequestError", (path, r.status, doc)
        for path in ("/v2/observations", "/v3/scores"):
            async with s.get(base + path) as r:
                assert r.status == 401
            async with s.get(base + path, headers=headers) as r:
                assert r.status == 200 and len((await r.json())["data"]) == 1
            async with s.get(base + path, headers=other) as r:  # another project's key
                assert r.status == 200 and (await r.json())["data"] == []
        # Values are bound: quotes in a key or a value find nothing, and break nothing.
        for condition in (
            {"type": "stringObject", "column": "metadata", "key": "x'] OR 1=1 --", "operator": "is set"},
            {"type": "string", "column": "name", "operator": "=", "value": "x' OR '1'='1"},
            {"type": "string", "column": "name", "operator": "contains", "value": "%"},
        ):
            url = base + "/v2/observations?filter=" + quote(_json.dumps([condition]))
            async with s.get(url, headers=headers) as r:
                assert r.status == 200 and (await r.json())["data"] == [], condition


async def test_sdk5_metrics_v2_query(live: Running) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_metrics.py", live.api_url, pair)
    assert out["by_model"] == [
        {"providedModelName": "gpt-4o", "count_count": 2, "sum_inputTokens": 400},
        {"providedModelName": "gpt-4o-mini", "count_count": 1, "sum_inputTokens": 50},
    ]
    assert sum(r["sum_totalTokens"] for r in out["over_time"]) == 480
    assert all(r["time_dimension"].endswith(":00:00.000Z") for r in out["over_time"])
    assert out["filtered"] == [{"count_count": 1}]
    (quality,) = [s for s in out["scores"] if s["name"] == "quality"]  # the view holds boolean scores too
    assert (quality["name"], quality["count_count"]) == ("quality", 3)
    assert abs(quality["avg_value"] - 0.15) < 1e-9
    assert out["true_rate"] == [{"name": "helpful", "avg_value": 2 / 3}]
    assert out["tones"] == [{"stringValue": "terse", "count_count": 2}, {"stringValue": "friendly", "count_count": 1}]
    (row,) = out["histogram"]
    bins = row["histogram_inputTokens"]
    assert sum(b[2] for b in bins) == 3 and min(b[0] for b in bins) == 50 and max(b[1] for b in bins) == 300


async def test_sdk4_metrics_v1_query_has_the_traces_view(live: Running) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "4", "v4_metrics.py", live.api_url, pair)
    assert out["by_name"] == [
        {"name": "chat", "count_count": 2, "sum_totalTokens": 420},
        {"name": "search", "count_count": 1, "sum_totalTokens": 60},
    ]
    # Grouped by user (v1 allows it); each trace has its span and its generation.
    assert out["by_user"] == [
        {"userId": "ann", "sum_observationsCount": 4},
        {"userId": "bob", "sum_observationsCount": 2},
    ]
    assert out["observations"] == [{"sum_inputTokens": 450}]


async def test_metrics_v2_refuses_garbage(live: Running) -> None:
    headers = basic(await make_key(live))
    window = {"fromTimestamp": "2026-11-01T00:00:00Z", "toTimestamp": "2026-12-01T00:00:00Z"}
    good = {**window, "view": "observations", "metrics": [{"measure": "count", "aggregation": "count"}]}
    bad_queries = [
        "not json",
        "[]",
        _json.dumps({**good, "view": "traces"}),
        _json.dumps({**good, "fromTimestamp": "yesterday"}),
        _json.dumps({**good, "toTimestamp": "2026-10-01T00:00:00Z"}),
        _json.dumps({**good, "dimensions": [{"field": "traceId"}]}),  # high cardinality
        _json.dumps({**good, "dimensions": [{"field": "name; DROP TABLE spans"}]}),
        _json.dumps({**good, "metrics": [{"measure": "count", "aggregation": "median"}]}),
        _json.dumps({**good, "metrics": [{"measure": "latency", "aggregation": "histogram"}], "config": {"bins": 0}}),
        _json.dumps({**good, "view": "scores-categorical", "metrics": [{"measure": "value", "aggregation": "avg"}]}),
        _json.dumps({**good, "metrics": [{"measure": "s.total_cost", "aggregation": "sum"}]}),
        _json.dumps({**good, "metrics": []}),
        _json.dumps({**good, "filters": [{"column": "name", "operator": "LIKE", "value": "%"}]}),
        _json.dumps({**good, "filters": [{"column": "name", "operator": "any of", "value": "x"}]}),
        _json.dumps({**good, "filters": [{"column": "1=1 OR name", "operator": "=", "value": "x"}]}),
        _json.dumps({**good, "timeDimension": {"granularity": "fortnight"}}),
        _json.dumps({**good, "orderBy": [{"field": "count_count", "direction": "sideways"}]}),
        _json.dumps({**good, "config": {"row_limit": 10**9}}),
    ]
    async with aiohttp.ClientSession() as s:
        for query in bad_queries:
            async with s.get(live.api_url + "/api/public/v2/metrics", params={"query": query}, headers=headers) as r:
                doc = await r.json()
                assert r.status == 400 and doc["error"] == "InvalidRequestError", (query, r.status, doc)
        # A value with SQL in it is only a value.
        injected = {**good, "filters": [{"column": "name", "operator": "=", "value": "x' OR '1'='1"}]}
        async with s.get(
            live.api_url + "/api/public/v2/metrics", params={"query": _json.dumps(injected)}, headers=headers
        ) as r:
            assert r.status == 200 and (await r.json())["data"] == [{"count_count": 0}]
        # v1 has the traces view, checked the same way.
        traces = {**window, "view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}]}
        for query in (
            _json.dumps({**traces, "view": "tracez"}),
            _json.dumps({**traces, "metrics": [{"measure": "t.total_cost", "aggregation": "sum"}]}),
            _json.dumps({**traces, "dimensions": [{"field": "id"}]}),
            _json.dumps({**traces, "filters": [{"column": "name", "operator": "~", "value": "x"}]}),
            "{",
        ):
            async with s.get(live.api_url + "/api/public/metrics", params={"query": query}, headers=headers) as r:
                assert r.status == 400 and (await r.json())["error"] == "InvalidRequestError", query
        # The version is the route's, not a guess from the path: behind a proxy whose prefix holds "/v2/" too.
        for prefix in ("", "/tools/v2"):
            async with s.get(
                live.api_url + prefix + "/api/public/metrics", params={"query": _json.dumps(traces)}, headers=headers
            ) as r:
                assert r.status == 200 and (await r.json())["data"] == [{"count_count": 0}], prefix


async def test_experiment_reads_refuse_garbage_and_other_projects(live: Running) -> None:
    headers = basic(await make_key(live))
    other = basic(await make_key(live, (await live.store.projects.create_project("elsewhere")).id))
    attrs = {"langfuse.experiment.id": "exp-1", "langfuse.experiment.name": "run-1",
             "langfuse.experiment.item.id": "item-1", "langfuse.experiment.item.expected_output": '"yes"'}  # fmt: skip
    await live.store.writer.write(
        span_table([span("a" * 32, "b" * 16, name="experiment-item-run", span_attributes=attrs)])
    )
    base = live.api_url + "/api/public"
    since = "fromStartTime=2000-01-01T00:00:00Z"
    async with aiohttp.ClientSession() as s:
        for path in (
            "/experiments",  # no lower time bound
            "/experiment-items",
            f"/experiments?{since}&limit=0",
            f"/experiments?{since}&limit=101",
            f"/experiments?{since}&fields=core,everything",
            f"/experiment-items?{since}&fields=io,secrets",
            f"/experiments?{since}&cursor=!!!",
            f"/experiment-items?{since}&cursor=WzFd",
            f"/experiments?{since}&filter=not-json",
            f"/experiments?{since}&filter=" + '[{"column":"secret","operator":"=","value":"x"}]',
            f"/experiment-items?{since}&filter=" + '[{"column":"experimentId","operator":">","value":"x"}]',
            "/experiments?fromStartTime=yesterday",
        ):
            async with s.get(base + path, headers=headers) as r:
                doc = await r.json()
                assert r.status == 400 and doc["error"] == "InvalidRequestError", (path, r.status, doc)
        async with s.get(f"{base}/experiments?{since}") as r:
            assert r.status == 401
        async with s.get(f"{base}/experiment-items?{since}&fields=io", headers=headers) as r:
            data = (await r.json())["data"]
            assert [(i["experimentName"], i["experimentItemId"], i["expectedOutput"]) for i in data] == [
                ("run-1", "item-1", "yes")
            ]
        filtered = '[{"column":"experimentId","operator":"any of","value":["exp-2"]}]'
        async with s.get(f"{base}/experiment-items?{since}&filter={filtered}", headers=headers) as r:
            assert r.status == 200 and (await r.json())["data"] == []
        for path in (f"/experiments?{since}", f"/experiment-items?{since}"):
            async with s.get(base + path, headers=other) as r:  # another project's key sees none of it
                assert r.status == 200 and (await r.json())["data"] == []


async def test_sdk5_filters_observations_v2_with_json_conditions(live: Running) -> None:
    """Langfuse's ``filter`` (JSON conditions, each column, type and operator SDK 5 documents),
    sent by SDK 5's own client: each case finds the observations it names; a condition that
    cannot be applied is a 400 that names it, never rows the client asked to leave out."""
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_filters.py", live.api_url, pair)
    assert out["found"] == {
        "generations": ["draft"],
        "type any of": ["pay", "search"],
        "name starts with": ["draft"],
        "latency >= 0.04 s": ["checkout", "draft"],
        "input tokens > 100": ["draft"],
        "total cost >= 0.005": ["draft"],
        "output cost > 0.003": ["draft"],
        "metadata tier = gold": ["draft"],
        "metadata retries > 2": ["draft"],
        "metadata tier is set": ["draft", "pay"],
        "metadata tier any of": ["pay"],
        "level warning": ["draft"],
        "status message contains": ["draft"],
        "input matches 退货": ["draft"],
        "model": ["draft"],
        "trace tags all of": ["checkout", "draft", "pay"],
        "tags none of prod": ["search"],
        "trace name": ["search"],
        "roots": ["checkout", "search"],
        "user": ["checkout", "draft", "pay"],
        "two conditions": ["draft"],
        "none": [],
    }
    # The v1 list (SDK 4's legacy client, Langfuse's UI-era scripts) takes the same conditions.
    generations = quote(_json.dumps([{"type": "string", "column": "type", "operator": "=", "value": "GENERATION"}]))
    async with aiohttp.ClientSession(headers=basic(pair)) as s:
        async with s.get(f"{live.api_url}/api/public/observations?filter={generations}") as r:
            doc = await r.json()
            assert r.status == 200 and [o["name"] for o in doc["data"]] == ["draft"], doc
            assert doc["meta"]["totalItems"] == 1
        async with s.get(f"{live.api_url}/api/public/observations?filter=%5B1%5D") as r:
            assert r.status == 400 and "filter[0]" in (await r.json())["message"]
    errors = out["errors"]
    assert errors["unknown column"][0] == 400 and "unknown column 'nope'" in errors["unknown column"][1]
    assert errors["wrong operator"][0] == 400 and "operator 'contains'" in errors["wrong operator"][1]
    assert errors["not json"][0] == 400 and "JSON array" in errors["not json"][1]
