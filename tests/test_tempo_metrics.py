"""TraceQL metrics on the Tempo API (``/api/metrics/query_range`` and ``/api/metrics/query``),
as Grafana's TraceQL metrics panels and its Traces Drilldown app ask them, and search's
``select()``. Answers are parsed as Tempo's own messages, strictly (unknown fields refused)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.otlp_data import request
from tests.test_tempo import get
from tracehouse.server import Running

STEP = 60
F = descriptor_pb2.FieldDescriptorProto


def _tempo_classes() -> dict[str, Any]:
    """Tempo's metrics answers (grafana/tempo pkg/tempopb/tempo.proto, the fields Grafana reads)
    built as descriptors here, so that ``json_format.Parse`` checks ours as Grafana's jsonpb does."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(common_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="tempo_metrics.proto",
        package="tempopb",
        syntax="proto3",
        dependency=["opentelemetry/proto/common/v1/common.proto"],
    )
    status = file.enum_type.add(name="PartialStatus")
    status.value.add(name="COMPLETE", number=0)
    status.value.add(name="PARTIAL", number=1)
    kv = ".opentelemetry.proto.common.v1.KeyValue"

    def message(name: str, *fields: tuple[str, int, int, bool, str]) -> None:
        msg = file.message_type.add(name=name)
        for field_name, number, kind, repeated, type_name in fields:
            field = msg.field.add(
                name=field_name, number=number, type=kind, label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            )
            if type_name:
                field.type_name = type_name

    message(
        "SearchMetrics",
        ("inspectedTraces", 1, F.TYPE_UINT32, False, ""),
        ("inspectedBytes", 2, F.TYPE_UINT64, False, ""),
        ("totalBlocks", 3, F.TYPE_UINT32, False, ""),
        ("completedJobs", 4, F.TYPE_UINT32, False, ""),
        ("totalJobs", 5, F.TYPE_UINT32, False, ""),
        ("totalBlockBytes", 6, F.TYPE_UINT64, False, ""),
        ("inspectedSpans", 7, F.TYPE_UINT64, False, ""),
    )
    message(
        "Exemplar",
        ("labels", 1, F.TYPE_MESSAGE, True, kv),
        ("value", 2, F.TYPE_DOUBLE, False, ""),
        ("timestamp_ms", 3, F.TYPE_INT64, False, ""),
    )
    message("Sample", ("timestamp_ms", 2, F.TYPE_INT64, False, ""), ("value", 1, F.TYPE_DOUBLE, False, ""))
    message(
        "TimeSeries",
        ("labels", 1, F.TYPE_MESSAGE, True, kv),
        ("samples", 2, F.TYPE_MESSAGE, True, ".tempopb.Sample"),
        ("exemplars", 4, F.TYPE_MESSAGE, True, ".tempopb.Exemplar"),
    )
    message("InstantSeries", ("labels", 1, F.TYPE_MESSAGE, True, kv), ("value", 2, F.TYPE_DOUBLE, False, ""))
    for name, item in (
        ("QueryRangeResponse", ".tempopb.TimeSeries"),
        ("QueryInstantResponse", ".tempopb.InstantSeries"),
    ):
        message(
            name,
            ("series", 1, F.TYPE_MESSAGE, True, item),
            ("metrics", 2, F.TYPE_MESSAGE, False, ".tempopb.SearchMetrics"),
            ("status", 3, F.TYPE_ENUM, False, ".tempopb.PartialStatus"),
            ("message", 4, F.TYPE_STRING, False, ""),
        )
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tempopb.{name}"))
        for name in ("QueryRangeResponse", "QueryInstantResponse")
    }


TEMPO = _tempo_classes()


def _value(any_value: dict[str, Any]) -> Any:
    [(kind, value)] = any_value.items()
    return int(value) if kind == "intValue" else value


def series_of(doc: dict[str, Any]) -> dict[tuple[tuple[str, Any], ...], dict[int, float]]:
    """{labels: {seconds since T0 of the point: value}} of a range answer."""
    out = {}
    for s in doc["series"]:
        labels = tuple((label["key"], _value(label["value"])) for label in s["labels"])
        out[labels] = {int(p["timestampMs"]) // 1000: p["value"] for p in s["samples"]}
    return out


@pytest.fixture
async def t0(live: Running) -> int:
    """Spans of two services in four minutes after T0 (a whole minute, half an hour ago), and
    another project's spans among them, which no answer may count."""
    t0 = (time.time_ns() // 10**9 // STEP) * STEP - 1800
    ms = 10**6

    def span(trace: int, at_s: float, dur_ms: int, *, parent: int = 0, error: bool = False, **attrs: Any) -> dict:
        return {
            "trace_id": trace.to_bytes(16, "big"),
            "span_id": (trace * 16 + (1 if not parent else 2)).to_bytes(8, "big"),
            "parent_span_id": (trace * 16 + 1).to_bytes(8, "big") if parent else b"",
            "name": attrs.pop("name", "chat" if not parent else "call"),
            "start": int((t0 + at_s) * 10**9),
            "end": int((t0 + at_s) * 10**9) + dur_ms * ms,
            "attrs": attrs,
            "error": error,
        }

    chat = [
        # A wrapper's record of the call below it (one model): its tokens are counted on that call's
        # record (otlp_receiver.nested_calls), so the trace's sums count 40, as its page does.
        span(0xA, 10, 100, **{"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100, "retries": 1}),
        span(0xA, 10.01, 50, parent=1, **{"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 40}),
        span(0xB, 70, 1000, error=True, **{"gen_ai.request.model": "claude", "gen_ai.usage.input_tokens": 300}),
        span(0xC, 80, 2000, error=True, **{"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 500}),
    ]
    rag = [span(0xD, 130, 300, name="retrieve"), span(0xE, 190, 5000, name="retrieve")]
    other = [
        span(0xF, 15, 100, **{"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 9999}),
        # OpenInference names its tokens otherwise: metrics read the typed column for it
        span(0x10, 20, 100, **{"llm.model_name": "gpt-4o", "llm.token_count.prompt": 1}),
    ]
    project = await live.store.projects.create_project("other")
    for spans, service, project_id in ((chat, "chat-api", None), (rag, "rag", None), (other, "chat-api", project.id)):
        body = request(spans, {"service.name": service})
        for made, given in zip(body.resource_spans[0].scope_spans[0].spans, spans, strict=True):
            made.kind = Span.SPAN_KIND_CLIENT if given["parent_span_id"] else Span.SPAN_KIND_SERVER
            if given["error"]:
                made.status.code = Status.STATUS_CODE_ERROR
        result = await live.ingest.ingest(body.SerializeToString(), "protobuf", project_id)
        assert result.accepted == len(spans)
    return t0


async def metrics(live: Running, t0: int, q: str, path: str = "query_range", **extra: str) -> dict[str, Any]:
    params = {"q": q, "start": str(t0), "end": str(t0 + 240), "step": str(STEP), **extra}
    if path == "query":
        params.pop("step")
    status, body = await get(live, f"/api/metrics/{path}", **params)
    assert status == 200, (q, body[:300])
    doc = json.loads(body)
    cls = TEMPO["QueryRangeResponse" if path == "query_range" else "QueryInstantResponse"]
    json_format.Parse(body, cls(), ignore_unknown_fields=False)  # Grafana's strict parse
    return doc


async def test_counts_and_rates_per_step(live: Running, t0: int) -> None:
    # Intervals are right-closed and named by their end, with one before the start (as Tempo's).
    doc = await metrics(live, t0, "{ } | count_over_time()")
    assert series_of(doc) == {
        (("__name__", "count_over_time"),): {t0: 0, t0 + 60: 2, t0 + 120: 2, t0 + 180: 1, t0 + 240: 1}
    }
    assert doc["metrics"]["inspectedSpans"] == "6"
    rate = series_of(await metrics(live, t0, "{} | rate()"))
    assert rate == {
        (("__name__", "rate"),): {t0: 0, t0 + 60: 2 / 60, t0 + 120: 2 / 60, t0 + 180: 1 / 60, t0 + 240: 1 / 60}
    }
    # Grafana Traces Drilldown's first panel: root spans, by service
    by_service = series_of(await metrics(live, t0, "{nestedSetParent<0 && true} | rate() by (resource.service.name)"))
    assert {k: {t: v * 60 for t, v in p.items() if v} for k, p in by_service.items()} == {
        (("resource.service.name", "chat-api"),): {t0 + 60: 1, t0 + 120: 2},
        (("resource.service.name", "rag"),): {t0 + 180: 1, t0 + 240: 1},
    }
    errors = series_of(await metrics(live, t0, "{ status = error } | count_over_time() by (span.gen_ai.request.model)"))
    assert {k: {t: v for t, v in p.items() if v} for k, p in errors.items()} == {
        (("span.gen_ai.request.model", "claude"),): {t0 + 120: 1},
        (("span.gen_ai.request.model", "gpt-4o"),): {t0 + 120: 1},
    }
    # A label keeps its attribute's type; a span without the attribute is "nil", as in Tempo.
    retries = series_of(await metrics(live, t0, "{ kind = server } | count_over_time() by (span.retries)"))
    assert {k: sum(p.values()) for k, p in retries.items()} == {
        (("span.retries", 1),): 1,
        (("span.retries", "nil"),): 4,
    }
    # The trace's root, for every span of it
    roots = series_of(await metrics(live, t0, "{ kind = client } | count_over_time() by (rootName, rootServiceName)"))
    assert {k: sum(p.values()) for k, p in roots.items()} == {
        (("rootName", "chat"), ("rootServiceName", "chat-api")): 1
    }
    # Text is bound, never SQL: a quote in a value or in an attribute's name matches nothing
    odd = await metrics(live, t0, r'{ name = "x\" OR 1=1 --" } | rate() by (span.")\"--")')
    assert odd["series"] == []


async def test_values_quantiles_and_histograms(live: Running, t0: int) -> None:
    tokens = series_of(
        await metrics(live, t0, "{ } | sum_over_time(span.gen_ai.usage.input_tokens) by (span.gen_ai.request.model)")
    )
    assert tokens == {  # no span without tokens: no "nil" series; no point where none had them
        (("span.gen_ai.request.model", "gpt-4o"),): {t0 + 60: 40, t0 + 120: 500},
        (("span.gen_ai.request.model", "claude"),): {t0 + 120: 300},
    }
    slowest = await metrics(live, t0, "{} | max_over_time(duration)")
    assert series_of(slowest) == {
        (("__name__", "max_over_time"),): {t0 + 60: 0.1, t0 + 120: 2.0, t0 + 180: 0.3, t0 + 240: 5.0}
    }
    [series] = slowest["series"]
    exemplar = {int(e["timestampMs"]) // 1000: e for e in series["exemplars"]}[t0 + 190]
    assert exemplar["value"] == 5.0 and exemplar["labels"][0] == {
        "key": "trace:id",
        "value": {"stringValue": f"{0xE:032x}"},
    }
    assert (
        series_of(await metrics(live, t0, "{} | min_over_time(duration)"))[(("__name__", "min_over_time"),)][t0 + 60]
        == 0.05
    )
    avg = series_of(await metrics(live, t0, '{ resource.service.name = "rag" } | avg_over_time(duration)'))
    assert avg == {(("__name__", "avg_over_time"),): {t0 + 180: 0.3, t0 + 240: 5.0}}
    p = series_of(await metrics(live, t0, '{ name = "retrieve" } | quantile_over_time(duration, .5, 0.99)'))
    assert p == {(("p", 0.5),): {t0 + 180: 0.3, t0 + 240: 5.0}, (("p", 0.99),): {t0 + 180: 0.3, t0 + 240: 5.0}}
    # Power-of-two buckets of the duration, in seconds: 50 ms is in (2^25, 2^26] ns
    histogram = series_of(await metrics(live, t0, "{ } | histogram_over_time(duration)"))
    buckets = {dict(k)["__bucket"]: sum(v.values()) for k, v in histogram.items()}
    assert buckets == {2**26 / 1e9: 1, 2**27 / 1e9: 1, 2**30 / 1e9: 1, 2**31 / 1e9: 1, 2**29 / 1e9: 1, 2**33 / 1e9: 1}


async def test_second_stage_compare_and_instant(live: Running, t0: int) -> None:
    top = series_of(await metrics(live, t0, "{ } | count_over_time() by (resource.service.name) | topk(1)"))
    assert {dict(k)["resource.service.name"]: sorted(t for t, v in p.items() if v) for k, p in top.items()} == {
        "chat-api": [t0 + 60, t0 + 120],
        "rag": [t0 + 180, t0 + 240],
    }
    busy = series_of(await metrics(live, t0, "{ } | count_over_time() > 1"))
    assert busy == {(("__name__", "count_over_time"),): {t0 + 60: 2, t0 + 120: 2}}
    # Drilldown's comparison: each attribute's values among errors (selection) and the rest
    doc = await metrics(live, t0, "{nestedSetParent<0 && true} | compare({status = error})")
    compared = series_of(doc)
    only = {k: {t: v for t, v in p.items() if v} for k, p in compared.items()}
    assert only[(("__meta_type", "selection"), ("resource.service.name", "chat-api"))] == {t0 + 120: 2}
    assert only[(("__meta_type", "baseline"), ("resource.service.name", "rag"))] == {t0 + 180: 1, t0 + 240: 1}
    assert only[(("__meta_type", "selection"), ("status", "error"))] == {t0 + 120: 2}
    assert only[(("__meta_type", "selection_total"), ("name", "nil"))] == {t0 + 120: 2}
    assert only[(("__meta_type", "baseline_total"), ("name", "nil"))] == {t0 + 60: 1, t0 + 180: 1, t0 + 240: 1}
    assert (("__meta_type", "selection"), ("resource.service.name", "rag")) not in compared
    # One value per series over the whole range (Grafana's "instant" metrics query)
    instant = await metrics(live, t0, "{ } | count_over_time() by (resource.service.name)", path="query")
    assert {_value(s["labels"][0]["value"]): s["value"] for s in instant["series"]} == {"chat-api": 4, "rag": 2}


async def test_search_select_and_time_forms(live: Running, t0: int) -> None:
    status, body = await get(
        live,
        "/api/search",
        q="{ span.gen_ai.request.model = claude } | select(span.gen_ai.usage.input_tokens, status, span.nope)".replace(
            "claude", '"claude"'
        ),
        start=str(t0),
        end=str(t0 + 240),
    )
    assert status == 200, body
    [trace] = json.loads(body)["traces"]
    [span] = trace["spanSet"]["spans"]
    assert span["attributes"] == [
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "300"}},
        {"key": "status", "value": {"stringValue": "error"}},
    ]
    # Tempo's other time forms: nanoseconds, RFC 3339, a step as a duration
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
    for start, step in ((str(t0 * 10**9), "1m"), (iso, "60"), (f"{t0}.000", "60s")):
        doc = await metrics(live, t0, "{} | count_over_time()", start=start, step=step)
        assert sum(series_of(doc)[(("__name__", "count_over_time"),)].values()) == 6, start


async def test_other_projects_and_keys(live: Running, t0: int) -> None:
    other = (await live.store.projects.find_projects("other"))[0]
    pair = await live.store.projects.create_key(other.id)
    live.changed()
    assert (await get(live, "/api/metrics/query_range", q="{} | rate()"))[0] == 401
    token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()

    async def ask(path: str, q: str, **extra: str) -> Any:
        """The other project's answer over the four minutes, with its key."""
        status, body = await get(
            live, path, {"Authorization": f"Basic {token}"}, q=q, start=str(t0), end=str(t0 + 240), **extra
        )
        assert status == 200, body
        return json.loads(body)

    tokens = await ask("/api/metrics/query_range", "{} | sum_over_time(span.gen_ai.usage.input_tokens)", step="60")
    assert series_of(tokens) == {(("__name__", "sum_over_time"),): {t0 + 60: 10000}}
    few = await ask("/api/metrics/query", "{ span.gen_ai.usage.input_tokens < 2 } | count_over_time()")
    assert few["series"][0]["value"] == 1
    # The model likewise: OpenInference's llm.model_name is the GenAI attribute's, to a search and a by().
    doc = await ask(
        "/api/metrics/query",
        '{ span.gen_ai.request.model = "gpt-4o" } | count_over_time() by (span.gen_ai.request.model)',
    )
    [series] = doc["series"]
    assert series["value"] == 2 and series["labels"] == [
        {"key": "span.gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}
    ], doc
    assert (await ask("/api/metrics/query", "{ span.gen_ai.request.model = nil } | count_over_time()"))["series"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "{ }"},  # not a metrics query
        {"q": "{ } | count() > 1"},
        {"q": "{ } | rate("},
        {"q": "{ } | rate()", "step": "abc"},
        {"q": "{ } | rate()", "step": "-5"},
        {"q": "{ } | rate()", "step": "0"},
        {"q": "{ } | rate()", "step": "1e400"},
        {"q": "{ } | rate()", "step": "1ns"},  # millions of points
        {"q": "{ } | rate()", "start": "20", "end": "10"},
        {"q": "{ } | rate()", "start": "²"},
        {"q": "{ } | rate()", "end": "1e400.5"},
        {"q": "{ } | rate()", "end": "99999999999999999999999"},
        {"q": "{ } | rate()", "start": "2026-13-45T00:00:00Z"},
        {"q": "{ } | rate()", "start": "2026-01-01T00:00:00"},  # no time zone
        {"q": "{ } | rate()", "since": "forever"},
        {"q": "{ } | rate()", "exemplars": "x"},
        {"q": "{ } | quantile_over_time(duration, 2)"},
        {"q": "{ } | quantile_over_time(duration)"},
        {"q": "{ } | sum_over_time(name)"},
        {"q": "{ } | rate() by (duration)"},
        {"q": "{ } | compare({ status = error }, 0)"},
        {"q": "{ } | compare({ status = error }, 99999999999)"},
        {"q": "{ } | compare({ status = error }, 5, 1, 99999999999999999999)"},
        {"q": "{ nestedSetParent = 3 } | rate()"},
        {"q": "{ } | rate() by (span.a, span.b, span.c, span.d, span.e, span.f)"},
        {"q": "{ } | rate() with(sample=true"},
    ],
)
async def test_garbage_is_400(live: Running, params: dict[str, str]) -> None:
    status, body = await get(live, "/api/metrics/query_range", **params)
    assert status == 400, (params, body[:200])
    assert (await get(live, "/api/echo"))[0] == 200


async def test_search_with_several_spansets(live: Running, t0: int) -> None:
    async def search(q: str) -> list[dict[str, Any]]:
        status, body = await get(live, "/api/search", q=q, start=str(t0), end=str(t0 + 240), limit="200", spss="20")
        assert status == 200, (q, body[:300])
        return json.loads(body)["traces"]

    # Grafana Traces Drilldown's Structure tab, verbatim: root spans with their nested-set numbers
    structure = await search(
        "({nestedSetParent<0 && true } &>> { kind = server }) || ({nestedSetParent<0 && true }) "
        "| select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)"
    )
    assert sorted(t["traceID"] for t in structure) == [f"{n:032x}" for n in (0xA, 0xB, 0xC, 0xD, 0xE)]
    by_trace = {t["traceID"]: t["spanSet"]["spans"] for t in structure}
    [root_a] = by_trace[f"{0xA:032x}"]
    assert {a["key"]: _value(a["value"]) for a in root_a["attributes"]} == {
        "status": "unset",
        "service.name": "chat-api",
        "nestedSetParent": -1,
        "nestedSetLeft": 1,
        "nestedSetRight": 4,  # its child is numbered 2 and 3
    }
    [root_b] = by_trace[f"{0xB:032x}"]
    assert _value(root_b["attributes"][0]["value"]) == "error" and root_b["name"] == "chat"
    # A child of a server span: trace A's call only, and with & its parent too
    [child] = await search("{ kind = server } > { kind = client }")
    assert child["traceID"] == f"{0xA:032x}" and [s["name"] for s in child["spanSet"]["spans"]] == ["call"]
    [both] = await search("{ kind = server } &> { kind = client }")
    assert [s["name"] for s in both["spanSet"]["spans"]] == ["chat", "call"]
    assert both["rootServiceName"] == "chat-api" and both["spanSet"]["matched"] == 2
    # Both spansets in one trace, or either
    assert [t["traceID"] for t in await search('{ name = "call" } && { status = error }')] == []
    either = await search('{ name = "call" } || { resource.service.name = "rag" }')
    assert sorted(t["traceID"] for t in either) == [f"{n:032x}" for n in (0xA, 0xD, 0xE)]
    status, _ = await get(live, "/api/search", q="{ } >> { } | rate()")
    assert status == 400
    # The intrinsics added for the Drilldown have values to suggest, or none, never an error
    for tag, expected in (("instrumentation:name", ["tests"]), ("trace:id", []), ("nestedSetParent", [])):
        status, body = await get(live, f"/api/v2/search/tag/{tag}/values", start=str(t0), end=str(t0 + 240))
        assert status == 200 and [v["value"] for v in json.loads(body)["tagValues"]] == expected, tag


async def test_several_spansets_read_older_pages(live: Running, t0: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Traces are read newest first, a page at a time: the one match is in the oldest trace (A).
    import storage.tempo

    monkeypatch.setattr(storage.tempo, "STRUCTURE_PAGE", 1)
    status, body = await get(
        live, "/api/search", q="{ kind = server } > { kind = client }", start=str(t0), end=str(t0 + 240), limit="1"
    )
    assert status == 200 and [t["traceID"] for t in json.loads(body)["traces"]] == [f"{0xA:032x}"]
    monkeypatch.setattr(storage.tempo, "STRUCTURE_TRACES", 2)  # no further than the two newest
    status, body = await get(
        live, "/api/search", q="{ kind = server } > { kind = client }", start=str(t0), end=str(t0 + 240), limit="1"
    )
    assert status == 200 and json.loads(body)["traces"] == []


async def test_search_aggregates(live: Running, t0: int) -> None:
    async def traces(q: str) -> list[str]:
        status, body = await get(live, "/api/search", q=q, start=str(t0), end=str(t0 + 240))
        assert status == 200, (q, body[:300])
        return sorted(t["traceID"] for t in json.loads(body)["traces"])

    def ids(*numbers: int) -> list[str]:
        return [f"{n:032x}" for n in numbers]

    assert await traces('{ resource.service.name = "chat-api" } | count() > 1') == ids(0xA)
    assert await traces("{ } | avg(duration) > 1.5s") == ids(0xC, 0xE)
    assert await traces("{ } | max(span.gen_ai.usage.input_tokens) >= 300") == ids(0xB, 0xC)
    assert await traces("{ } | sum(span.gen_ai.usage.input_tokens) = 40 | count() = 2") == ids(0xA)
    assert await traces("{ span.gen_ai.usage.input_tokens = 100 }") == []  # the wrapper's, as sent: not counted
    assert await traces("{ } | min(duration) < 60ms") == ids(0xA)  # the child's 50 ms
    for bad in ("{ } | count() > x", "{ } | avg(name) > 1", "{ } >> { } | count() > 1"):
        assert (await get(live, "/api/search", q=bad))[0] == 400, bad
