"""One model call recorded twice, counted once (otlp_receiver.nested_calls): real clients that
combine a wrapper with a provider's instrumentation (Langfuse's LangChain handler and drop-in
OpenAI client, OpenInference's OpenAI instrumentation), read back through the APIs and the UI;
then the rule's edges and garbage, through the real decoder and a running server; then Langfuse's
ingestion API (the SDK 2.x, the JS SDK 3.x, and events in any order)."""

import asyncio
import datetime as dt
import os
import random
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from playwright.sync_api import expect

from otlp_receiver.decode import DecodeContext, decode_request
from otlp_receiver.nested_calls import COUNTED_IN, count_calls_once, count_with_stored, uncount
from storage import ESTIMATED_ATTRIBUTE, Store
from storage.writer import conform
from tests.fake_judge import in_thread
from tests.fake_openai import fake_openai
from tests.helpers import NOW_NS, SECOND, span, span_table
from tests.langfuse_helpers import JS_LANGCHAIN, basic, event, ingest, make_key, run_framework, run_js, run_sdk
from tests.otlp_data import kv
from tests.test_ui_first_run import until_listed
from tests.test_ui_trace_details import _signed_up_with_key
from tracehouse.server import Running

# gpt-4o-mini at $0.15/M input, $0.075/M cached and $0.60/M output: the fake's answer, 31 in and 9
# out, and its cached answer, 16 of the 31 read from the cache.
ANSWER_COST = Decimal("0.00001005")
CACHED_COST = Decimal("0.00000885")
# Streamed without usage: "Weather in Paris?" and the fake's answer counted here, 11 in and 8 out.
STREAMED_COST = Decimal("0.00000645")


async def _spans(live: Running, pair: Any, trace_id: str, count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The trace as the REST list gives it once its ``count`` spans are listed, and its spans."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(headers=basic(pair)) as http:
        while True:
            async with http.get(f"{live.api_url}/api/v1/traces") as r:
                assert r.status == 200, await r.text()
                items = [t for t in (await r.json())["items"] if t["trace_id"] == trace_id]
            if items and items[0]["span_count"] >= count:
                break
            assert time.monotonic() < deadline, f"never listed: {trace_id}"
            await asyncio.sleep(0.05)
        async with http.get(f"{live.api_url}/api/v1/traces/{trace_id}") as r:
            assert r.status == 200, await r.text()
            return items[0], (await r.json())["spans"]


async def test_wrapper_and_instrumentation_count_a_call_once(live: Running) -> None:
    """Langfuse's LangChain handler around ChatOpenAI, whose call Langfuse's drop-in client and
    OpenInference's instrumentation record too (three records of one call), and the drop-in
    client beside the instrumentation (two): each trace's tokens and cost are one call's; the
    wrappers' records keep their type and model, name the record their usage is counted on, and
    hold their usage in their attributes. Langfuse's read API agrees. The same streamed without
    usage (every record's tokens counted here, and the two side by side not nested in time)."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        ids = await asyncio.to_thread(run_sdk, "5", "v5_nested_calls.py", live.api_url, pair, base_url, isolated=False)
    trace, spans = await _spans(live, pair, ids["langchain"], 4)
    assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (31, 9, CACHED_COST)
    by_name = {s["name"]: s for s in spans}
    call = by_name["ChatCompletion"]  # OpenInference's: the call as OpenAI answered it
    assert (call["input_tokens"], call["cache_read_tokens"], Decimal(call["total_cost"])) == (31, 16, CACHED_COST)
    for wrapper in ("ChatOpenAI", "OpenAI-generation"):
        s = by_name[wrapper]
        assert (s["observation_type"], s["model"]) == ("GENERATION", "gpt-4o-mini-2024-07-18")
        assert (s["input_tokens"], s["output_tokens"], Decimal(s["total_cost"])) == (0, 0, 0)
        assert s["span_attributes"][COUNTED_IN] == call["span_id"]
    assert (
        '"input_cache_read": 16' in by_name["ChatOpenAI"]["span_attributes"]["langfuse.observation.usage_details"]
    )  # as sent

    trace, spans = await _spans(live, pair, ids["wrapper"], 3)
    assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (31, 9, ANSWER_COST)
    counted = [s for s in spans if s["input_tokens"]]
    [repeat] = [s for s in spans if COUNTED_IN in s["span_attributes"]]
    assert len(counted) == 1 and repeat["span_attributes"][COUNTED_IN] == counted[0]["span_id"]
    assert {repeat["name"], counted[0]["name"]} == {"wrapped-ask", "ChatCompletion"}

    async with (
        aiohttp.ClientSession(headers=basic(pair)) as http,
        http.get(f"{live.api_url}/api/public/traces/{ids['langchain']}") as r,
    ):
        langfuse = await r.json()
    assert Decimal(str(langfuse["totalCost"])) == CACHED_COST
    usage = {o["name"]: o["usageDetails"] for o in langfuse["observations"]}
    assert usage["ChatOpenAI"] == {} and usage["ChatCompletion"]["input_cached_tokens"] == 16

    for key, count, wrappers in (
        ("streamed-langchain", 4, {"ChatOpenAI", "OpenAI-generation"}),
        ("streamed-wrapper", 3, {"streamed-ask"}),
    ):
        trace, spans = await _spans(live, pair, ids[key], count)
        assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (11, 8, STREAMED_COST)
        [call] = [s for s in spans if s["input_tokens"]]
        assert call["name"] == "ChatCompletion" and "tracehouse.usage.counted" in call["span_attributes"]
        repeats = {s["name"]: s["span_attributes"][COUNTED_IN] for s in spans if COUNTED_IN in s["span_attributes"]}
        assert repeats == dict.fromkeys(wrappers, call["span_id"])


def test_wrapper_record_links_to_the_counted_call(tmp_path: Path) -> None:
    """The trace page: the wrapper's record says, in the reader's language, that the call has
    another record its usage is counted on, and goes to it; the trace's cost is one call's."""
    with in_thread(fake_openai) as base_url, _signed_up_with_key(tmp_path, "nested") as (srv, page, pair):
        ids = run_sdk("5", "v5_nested_calls.py", srv.api_url, pair, base_url, isolated=False)
        until_listed(srv.api_url, basic(pair), ids["langchain"])  # acked is stored at once, listed a moment later
        for lang, text in (("en", "counted once, on"), ("zh-CN", "只计一次")):
            page.goto(f"{srv.api_url}/project/default/traces/{ids['langchain']}?lang={lang}")
            expect(page.locator(".trace > p.muted").first).to_contain_text("$0.000009")
            page.locator(".row", has_text="ChatOpenAI").click()
            note = page.locator(".detail .counted-on")
            expect(note).to_contain_text(text)
            expect(page.locator(".detail table.usage")).to_have_count(0)
        note.get_by_role("link", name="ChatCompletion").click()
        expect(page.locator(".detail h2")).to_contain_text("ChatCompletion")
        expect(page.locator(".detail table.usage")).to_contain_text("16")  # its cache read
        expect(page.locator(".row.selected")).to_contain_text("ChatCompletion")


# --- the rule's edges and garbage, through the real decoder -------------------------------------

# A call that reported no usage: its tokens are counted here from its messages (token_count.py).
ESTIMATED = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]',
    "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}]}]',
}

_TRACE = os.urandom(16)
_BASE = time.time_ns()  # every request's spans on one clock


def _call(
    name: str,
    parent: str = "",
    model: str = "gpt-4o",
    tokens: tuple[int, int] | None = (100, 20),
    scope: str = "one",
    at: tuple[int, int] = (0, 100),
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model} if model else {}
    if not model:
        attrs["langfuse.observation.type"] = "generation"
    if tokens is not None:
        attrs |= {"gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]}
    return {"name": name, "parent": parent, "attrs": attrs, "scope": scope, "at": at}


def _guess(
    name: str, parent: str = "", model: str = "gpt-4o", scope: str = "one", at: tuple[int, int] = (0, 100)
) -> dict[str, Any]:
    """A call that reported no usage (streamed without it): its tokens counted here."""
    return {
        **_call(name, parent, tokens=None, scope=scope, at=at),
        "attrs": {**ESTIMATED, "gen_ai.request.model": model},
    }


_GUESSED = 11  # ESTIMATED's input, counted with o200k_base


def _request(spans: list[dict[str, Any]]) -> ExportTraceServiceRequest:
    """The spans in one request, a scope per distinct ``scope``; span ids from their names."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "nested"))
    scopes: dict[str, Any] = {}
    for s in spans:
        if s["scope"] not in scopes:
            scopes[s["scope"]] = rs.scope_spans.add()
            scopes[s["scope"]].scope.name = s["scope"]
        span = scopes[s["scope"]].spans.add()
        span.trace_id = s.get("trace", _TRACE)
        span.span_id = s["name"].encode().ljust(8, b"_")[:8]
        span.parent_span_id = s["parent"].encode().ljust(8, b"_")[:8] if s["parent"] else b""
        span.name = s["name"]
        span.start_time_unix_nano = _BASE + s["at"][0] * 1_000_000
        span.end_time_unix_nano = _BASE + s["at"][1] * 1_000_000
        for k, v in s["attrs"].items():
            span.attributes.append(kv(k, v))
    return req


def _decoded(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The spans as the span writer stores them, none of their traces stored before."""
    table = decode_request(_request(spans), DecodeContext(project_id="p")).table
    assert table is not None
    settled = count_with_stored(conform(table), [])
    assert settled.num_rows == table.num_rows
    return {row["name"]: row for row in settled.drop_columns(["start_time", "end_time"]).to_pylist()}


def _counted(rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {name: row["input_tokens"] for name, row in rows.items()}


def _counted_in(row: dict[str, Any]) -> str | None:
    return dict(row["span_attributes"]).get(COUNTED_IN)


def test_nested_records_of_one_call_count_the_innermost() -> None:
    """A generation inside a generation of its model (a dated version, a provider's prefix, through
    plain spans between) is the same call's: the outer one's usage and cost are not counted, and it
    names the inner. Three layers count the innermost; retries inside one wrapper count each."""
    rows = _decoded(
        [
            _call("wrapper", model="openai/gpt-4o", at=(0, 100)),
            {"name": "step", "parent": "wrapper", "attrs": {}, "scope": "one", "at": (1, 99)},
            _call("inner", parent="step", model="gpt-4o-2024-08-06", scope="two", at=(2, 98)),
        ]
    )
    assert _counted(rows) == {"wrapper": 0, "step": 0, "inner": 100}
    assert rows["wrapper"]["total_cost"] == 0 and rows["wrapper"]["cost_details"] == []
    assert rows["inner"]["total_cost"] > 0
    assert _counted_in(rows["wrapper"]) == b"inner___".hex()
    assert dict(rows["wrapper"]["span_attributes"])["gen_ai.usage.input_tokens"] == "100"  # as sent

    rows = _decoded(
        [
            _call("dspy"),
            _call("litellm", parent="dspy", scope="two"),
            _call("openai", parent="litellm", scope="three"),
            _call("router"),
            _call("try-1", parent="router", tokens=(60, 0), scope="two"),
            _call("try-2", parent="router", tokens=(40, 20), scope="two", at=(50, 100)),
        ]
    )
    assert _counted(rows) == {"dspy": 0, "litellm": 0, "openai": 100, "router": 0, "try-1": 60, "try-2": 40}
    # A wrapper that reported nothing (its tokens counted here) around the call that did.
    rows = _decoded([{**_call("guessing"), "attrs": ESTIMATED}, _call("reporting", parent="guessing", scope="two")])
    assert _counted(rows) == {"guessing": 0, "reporting": 100}


def test_side_by_side_records_of_one_call_count_once() -> None:
    """Two generations under one parent, from two instrumentations, with one prompt count and
    model, at the same time (one within the other's, or a streamed call's two records, each
    ending as its reader finished): one call's, the outer (the first to start) not counted. From
    one instrumentation (parallel calls), one after the other, or with another prompt count or
    model: two calls, both counted."""
    rows = _decoded(
        [
            {"name": "agent", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _call("outer", parent="agent", scope="langfuse", at=(0, 100)),
            _call("inner", parent="agent", scope="openinference", at=(10, 90)),
            {"name": "batcher", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _call("same-scope-a", parent="batcher", scope="batch", at=(0, 100)),
            _call("same-scope-b", parent="batcher", scope="batch", at=(10, 90)),
        ]
    )
    del rows["agent"], rows["batcher"]
    assert _counted(rows) == {"outer": 0, "inner": 100, "same-scope-a": 100, "same-scope-b": 100}
    assert _counted_in(rows["outer"]) == b"inner___".hex()
    rows = _decoded(
        [
            _call("first", scope="a", at=(0, 50)),
            _call("second", scope="b", at=(60, 100)),
            _call("wide", scope="a", at=(200, 400), tokens=(101, 20)),
            _call("narrow", scope="b", at=(210, 390)),
            _call("other-model", scope="c", at=(220, 380), model="claude-sonnet-4-5"),
        ]
    )
    assert set(_counted(rows).values()) == {100, 101}
    assert not any(_counted_in(r) for r in rows.values())
    # A streamed answer's output counted one more by one of them (OpenLLMetry's Anthropic): one call.
    rows = _decoded([_call("counted", scope="a", tokens=(100, 10)), _call("reported", scope="b", at=(5, 95))])
    assert _counted(rows) == {"counted": 0, "reported": 100}
    # A stream read by both: the one that started first ended first.
    rows = _decoded([_call("streamed", scope="a", at=(0, 90)), _call("read-last", scope="b", at=(5, 95))])
    assert _counted(rows) == {"streamed": 0, "read-last": 100}


def test_records_that_are_not_one_call_are_all_counted() -> None:
    """A generation inside one of another model (a judge's call inside an app's, reported or
    with tokens counted here), inside one without usage, or around one without usage (its call's
    record missing it): each counts its own."""
    rows = _decoded(
        [
            _call("app", model="claude-sonnet-4-5"),
            _call("judge", parent="app", scope="two"),
            _call("empty", tokens=None),
            _call("empty-inner", parent="empty", scope="two"),
            _call("reported"),
            _call("unreported-inner", parent="reported", tokens=None, scope="two"),
            _guess("estimated-app", model="gpt-4.1"),
            _guess("estimated-judge", parent="estimated-app", scope="two"),
        ]
    )
    assert _counted(rows) == {
        "app": 100,
        "judge": 100,
        "empty": 0,
        "empty-inner": 100,
        "reported": 100,
        "unreported-inner": 0,
        "estimated-app": _GUESSED,
        "estimated-judge": _GUESSED,
    }
    assert not any(_counted_in(r) for r in rows.values())


def test_estimated_records_of_one_call_count_once() -> None:
    """Records of one call whose tokens were counted here (a call streamed without usage, so
    neither record has it): inside a wrapper that reported the call's usage, the estimate is not
    counted (an estimate never stands for a reported figure); two estimates count the innermost;
    so do three layers, reported on top (its report counted) or in the middle (the middle's); a
    wrapper around a retry that reported and one that did not counts neither, each retry its own.
    Side by side, the same: the report (from one instrumentation too), else the inner estimate."""
    rows = _decoded(
        [
            _call("sure"),
            _guess("est-in", parent="sure", scope="two"),
            _guess("est-out"),
            _guess("est-deep", parent="est-out", scope="two"),
            _call("top"),
            _guess("mid", parent="top", scope="two"),
            _guess("bottom", parent="mid", scope="three"),
            _call("layer-a"),
            _call("layer-b", parent="layer-a", scope="two"),
            _guess("layer-c", parent="layer-b", scope="three"),
            _call("retries"),
            _call("retry-1", parent="retries", scope="two", at=(0, 50)),
            _guess("retry-2", parent="retries", scope="two", at=(50, 100)),
        ]
    )
    assert rows["est-deep"]["input_tokens"] == _GUESSED  # counted here from its messages
    assert _counted(rows) == {
        "sure": 100,
        "est-in": 0,
        "est-out": 0,
        "est-deep": _GUESSED,
        "top": 100,
        "mid": 0,
        "bottom": 0,
        "layer-a": 0,
        "layer-b": 100,
        "layer-c": 0,
        "retries": 0,
        "retry-1": 100,
        "retry-2": _GUESSED,
    }
    named = {name: _counted_in(row) for name, row in rows.items() if _counted_in(row)}
    assert named == {
        name: ",".join(other.encode().ljust(8, b"_").hex() for other in on)
        for name, on in {
            "est-in": ["sure"],
            "est-out": ["est-deep"],
            "mid": ["top"],
            "bottom": ["top"],
            "layer-a": ["layer-b"],
            "layer-c": ["layer-b"],
            "retries": ["retry-1", "retry-2"],
        }.items()
    }
    assert rows["est-in"]["total_cost"] == 0 and rows["est-deep"]["total_cost"] > 0
    # Side by side under one parent (a drop-in client beside an instrumentation, streamed): two
    # estimates count the inner; an estimate beside a report of the same prompt count, the report.
    rows = _decoded(
        [
            {"name": "agent", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _guess("g-outer", parent="agent", scope="langfuse", at=(0, 100)),
            _guess("g-inner", parent="agent", scope="openinference", at=(10, 90)),
            {"name": "chain", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _call("r-outer", parent="chain", scope="langfuse", tokens=(_GUESSED, 5), at=(0, 100)),
            _guess("g-within", parent="chain", scope="openinference", at=(10, 90)),
        ]
    )
    del rows["agent"], rows["chain"]
    assert _counted(rows) == {"g-outer": 0, "g-inner": _GUESSED, "r-outer": _GUESSED, "g-within": 0}
    assert _counted_in(rows["g-outer"]) == b"g-inner_".hex() and _counted_in(rows["g-within"]) == b"r-outer_".hex()
    # From one instrumentation (Langfuse's ingestion API has no scopes): a report beside an
    # estimate of the same prompt count is one call's; two estimates, or two reports, two calls.
    rows = _decoded(
        [
            {"name": "app", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _call("handler", parent="app", scope="lf", tokens=(_GUESSED, 5), at=(0, 100)),
            _guess("drop-in", parent="app", scope="lf", at=(10, 90)),
            {"name": "batch", "parent": "", "attrs": {}, "scope": "app", "at": (0, 100)},
            _guess("par-a", parent="batch", scope="lf", at=(0, 100)),
            _guess("par-b", parent="batch", scope="lf", at=(10, 90)),
        ]
    )
    del rows["app"], rows["batch"]
    assert _counted(rows) == {"handler": _GUESSED, "drop-in": 0, "par-a": _GUESSED, "par-b": _GUESSED}
    assert _counted_in(rows["drop-in"]) == b"handler_".hex()


def _chain(rng: random.Random) -> tuple[dict[str, list[Any]], set[int]]:
    """One call's records nested in each other (a random depth, plain spans between some), each
    reported or estimated at random: the rule's columns, and the estimated rows."""
    names = ("trace_id", "span_id", "parent_span_id", "observation_type", "model", "scope_name")
    numbers = ("input_tokens", "output_tokens", "cache_read_tokens", "total_cost", "start_time", "end_time")
    c: dict[str, list[Any]] = {name: [] for name in names + numbers}
    estimated, parent = set(), ""
    for depth in range(rng.randint(1, 6)):
        if rng.random() < 0.3:
            values = ("t", f"span-{depth}", parent, "SPAN", "", "app", 0, 0, 0, Decimal(0), depth, 100 - depth)
            for name, value in zip(names + numbers, values, strict=True):
                c[name].append(value)
            parent = f"span-{depth}"
        if rng.random() < 0.5:
            estimated.add(len(c["span_id"]))
        tokens = rng.choice((10, 11))
        values = (
            "t",
            f"gen-{depth}",
            parent,
            "GENERATION",
            "gpt-4o",
            f"scope-{depth}",
            tokens,
            5,
            0,
            Decimal(1),
            depth,
            100 - depth,
        )
        for name, value in zip(names + numbers, values, strict=True):
            c[name].append(value)
        parent = f"gen-{depth}"
    return c, estimated


def test_chains_of_records_count_one() -> None:
    """Any chain of one call's records, reported or estimated in any mix, counts exactly one: the
    innermost report, else the innermost estimate; every record not counted names the one that is."""
    rng = random.Random(62)
    for _ in range(2_000):
        c, estimated = _chain(rng)
        generations = [i for i, kind in enumerate(c["observation_type"]) if kind == "GENERATION"]
        not_counted = count_calls_once(c, estimated)
        reported = [i for i in generations if i not in estimated]
        expected = max(reported or generations)
        assert [i for i in generations if i not in not_counted] == [expected], (c, estimated)
        assert all(on == [expected] for on in not_counted.values()), (c, estimated, not_counted)


def test_garbage_parents_cost_nothing() -> None:
    """Spans whose parents loop (two naming each other, one naming itself), a chain longer than any
    app's, a parent in another trace, generations without a model: decoded, nothing taken from a
    loop, the rest as the rule says."""
    loop = [_call("loop-a", parent="loop-b"), _call("loop-b", parent="loop-a", scope="two")]
    selfish = [_call("self", parent="self")]
    chain = [_call("top")] + [
        {"name": f"c{i}", "parent": "top" if i == 0 else f"c{i - 1}", "attrs": {}, "scope": "one", "at": (0, 100)}
        for i in range(70)
    ]
    chain.append(_call("deep", parent="c69", scope="two"))
    elsewhere = [
        _call("holder"),
        {**_call("stranger", parent="holder", scope="two"), "trace": os.urandom(16)},
    ]
    modelless = [_call("lf-outer", model=""), _call("lf-inner", parent="lf-outer", model="", scope="two")]
    rows = _decoded(loop + selfish + chain + elsewhere + modelless)
    counted = _counted(rows)
    assert (counted["loop-a"], counted["loop-b"], counted["self"]) == (100, 100, 100)
    assert (counted["top"], counted["deep"]) == (100, 100)  # past the depth followed: both counted
    assert (counted["holder"], counted["stranger"]) == (100, 100)
    assert (counted["lf-outer"], counted["lf-inner"]) == (0, 100)


async def test_garbage_and_nested_calls_through_a_server(live: Running) -> None:
    """The same through a running server's OTLP endpoint: a request with a loop, a nested call
    and a malformed parent id is stored whole, the trace's totals the counted calls'."""
    pair = await make_key(live)
    trace = os.urandom(16)
    spans = [
        {**_call("wrapper"), "trace": trace},
        {**_call("inner", parent="wrapper", scope="two"), "trace": trace},
        {**_call("loop-a", parent="loop-b"), "trace": trace},
        {**_call("loop-b", parent="loop-a", scope="two"), "trace": trace},
        {**_call("broken", parent="wrapper"), "trace": trace},
    ]
    request = _request(spans)
    request.resource_spans[0].scope_spans[0].spans[-1].parent_span_id = b"\x00" * 3  # not 8 bytes
    headers = {**basic(pair), "Content-Type": "application/x-protobuf"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{live.otlp_http_url}/v1/traces", data=request.SerializeToString()) as r,
    ):
        body = await r.read()
        assert r.status == 200, body
    assert b"parent_span_id must be empty or 8 bytes" in body  # the one refused, the rest stored
    summary, stored = await _spans(live, pair, trace.hex(), 4)
    assert "broken" not in {s["name"] for s in stored}
    counted = {s["name"]: s["input_tokens"] for s in stored}
    assert summary["input_tokens"] == sum(counted.values())
    assert counted["loop-a"] == counted["loop-b"] == counted["inner"] == 100 and counted["wrapper"] == 0


async def test_records_sent_apart_count_once(live: Running) -> None:
    """An exporter that sends each span as it ends (OpenTelemetry's SimpleSpanProcessor): the
    call's record comes first, its wrapper's in a later request, inserted with it or after it;
    then a sibling record the same way, and a record sent again. Each trace counts the call once,
    on the record the rule counts whatever came first: a record stored before the one it is
    counted on (a wrapper's report before its call's record; a call's tokens counted here, streamed
    without usage, before its wrapper's report) is written again, not counted, and names it."""
    pair = await make_key(live)
    traces = [os.urandom(16) for _ in range(5)]
    sends = [
        [{**_call("inner", parent="wrapper", scope="two", at=(10, 90)), "trace": traces[0]}],
        [{**_call("wrapper", at=(0, 100)), "trace": traces[0]}],
        [{**_call("beside-inner", scope="two", at=(10, 90)), "trace": traces[1]}],
        [{**_call("beside-outer", at=(0, 100)), "trace": traces[1]}],
        [{**_call("late-wrapper", at=(0, 100)), "trace": traces[2]}],
    ]
    async with aiohttp.ClientSession(headers={**basic(pair), "Content-Type": "application/x-protobuf"}) as http:

        async def send(spans: list[dict[str, Any]]) -> None:
            async with http.post(f"{live.otlp_http_url}/v1/traces", data=_request(spans).SerializeToString()) as r:
                assert r.status == 200, await r.read()

        for spans in sends:
            await send(spans)
        await _spans(live, pair, traces[2].hex(), 1)  # stored: the inner record comes after it
        await send([{**_call("late-inner", parent="late-wrapper", scope="two", at=(10, 90)), "trace": traces[2]}])
        await send(sends[1])  # a retry of the wrapper's request: stored once
        # An estimate stored first, its wrapper's report after it; a report stored first, an estimate after.
        await send([{**_guess("est-call", parent="reporter", scope="two", at=(10, 90)), "trace": traces[3]}])
        await send([{**_call("top-call", at=(0, 100)), "trace": traces[4]}])
        await _spans(live, pair, traces[3].hex(), 1)
        await _spans(live, pair, traces[4].hex(), 1)
        await send([{**_call("reporter", at=(0, 100)), "trace": traces[3]}])
        await send([{**_guess("est-late", parent="top-call", scope="two", at=(10, 90)), "trace": traces[4]}])
    wanted = [
        {"wrapper": 0, "inner": 100},
        {"beside-outer": 0, "beside-inner": 100},
        {"late-wrapper": 0, "late-inner": 100},
        {"reporter": 100, "est-call": 0},
        {"top-call": 100, "est-late": 0},
    ]
    for trace, counted in zip(traces, wanted, strict=True):
        summary, stored = await _spans(live, pair, trace.hex(), 2)
        assert {s["name"]: s["input_tokens"] for s in stored} == counted
        assert summary["input_tokens"] == sum(counted.values())
    summary, stored = await _spans(live, pair, traces[0].hex(), 2)
    [wrapper] = [s for s in stored if s["name"] == "wrapper"]
    assert wrapper["span_attributes"][COUNTED_IN] == b"inner___".hex()
    summary, stored = await _spans(live, pair, traces[2].hex(), 2)
    [late] = [s for s in stored if s["name"] == "late-wrapper"]
    assert late["span_attributes"][COUNTED_IN] == b"late-inn".hex()
    for trace, name, counted_in in ((traces[3], "est-call", b"reporter"), (traces[4], "est-late", b"top-call")):
        summary, stored = await _spans(live, pair, trace.hex(), 2)
        [record] = [s for s in stored if s["name"] == name]
        assert record["span_attributes"][COUNTED_IN] == counted_in.hex()


# --- Langfuse's ingestion API (SDK 2.x, JS 3.x) ---------------------------------------------------


async def test_langfuse_ingestion_clients_count_a_call_once(live: Running) -> None:
    """Through Langfuse's ingestion API: the 2.x SDK's observed generation reporting the usage of
    the drop-in client's call inside it (sent in one flush, and with the call's record stored before
    the wrapper's usage comes), and the JS 3.x SDK's generation around observeOpenAI's: each
    trace's tokens and cost are one call's, the wrapper's record names the call's, and Langfuse's
    read API agrees. The drop-in client's call streamed without usage (its tokens counted here)
    inside the generation that reports the usage the app counted: the report is counted, in one
    flush or with the call's record stored first."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        ids = await asyncio.to_thread(run_sdk, "2", "v2_nested_calls.py", live.api_url, pair, base_url, isolated=False)
        js = await asyncio.to_thread(run_js, "js_nested_calls.cjs", live.api_url, pair, base_url, modules=JS_LANGCHAIN)
    for trace_id in (ids["together"], ids["apart"], js["trace_id"]):
        trace, spans = await _spans(live, pair, trace_id, 2)
        assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (31, 9, ANSWER_COST)
        by_name = {s["name"]: s for s in spans}
        wrapper = by_name["answer"]
        [call] = [s for s in spans if s["observation_type"] == "GENERATION" and s["name"] != "answer"]
        assert (call["input_tokens"], call["output_tokens"], Decimal(call["total_cost"])) == (31, 9, ANSWER_COST)
        assert (wrapper["observation_type"], wrapper["model"]) == ("GENERATION", "gpt-4o-mini")
        assert (wrapper["input_tokens"], wrapper["output_tokens"], Decimal(wrapper["total_cost"])) == (0, 0, 0)
        assert wrapper["span_attributes"][COUNTED_IN] == call["span_id"]
        async with (
            aiohttp.ClientSession(headers=basic(pair)) as http,
            http.get(f"{live.api_url}/api/public/traces/{trace_id}") as r,
        ):
            langfuse = await r.json()
        assert Decimal(str(langfuse["totalCost"])) == ANSWER_COST, langfuse
        usage = {o["name"]: o["usageDetails"] for o in langfuse["observations"]}
        assert usage["answer"] == {} and usage[call["name"]]["input"] == 31

    # Streamed, in one flush and with the call's estimate stored before the report came: the
    # report counts either way, the stored estimate written again, not counted.
    for name in ("streamed", "streamed_apart"):
        trace, spans = await _spans(live, pair, ids[name], 2)
        reported = Decimal("0.0000072")  # 12 in and 9 out, as the app reported them
        assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (12, 9, reported)
        by_name = {s["name"]: s for s in spans}
        [call] = [s for s in spans if s["observation_type"] == "GENERATION" and s["name"] != "streamed_answer"]
        assert (call["input_tokens"], Decimal(call["total_cost"])) == (0, 0)
        assert "tracehouse.usage.counted" in call["span_attributes"]  # its estimate, not counted
        assert call["span_attributes"][COUNTED_IN] == by_name["streamed_answer"]["span_id"]
        assert call["output"] and by_name["streamed_answer"]["output"]  # the rest of the record as it was


async def test_langfuse_langchain_handler_beside_the_drop_in_client(live: Running) -> None:
    """The langfuse 2.x SDK's LangChain handler, with the drop-in OpenAI client imported (it patches
    the openai SDK globally): ChatOpenAI's call recorded side by side, the handler's generation with
    its usage and the drop-in's without (its tokens counted here, the same prompt count). One
    instrumentation's records (the ingestion API has no scopes), but only one reported: one call,
    counted on the report."""
    pair = await make_key(live)
    async with fake_openai() as base_url:
        ids = await asyncio.to_thread(
            run_framework, "langchain2", "v2_langchain_dropin.py", live.api_url, pair, base_url
        )
    trace, spans = await _spans(live, pair, ids["trace_id"], 2)
    assert (trace["input_tokens"], trace["output_tokens"], Decimal(trace["total_cost"])) == (31, 9, ANSWER_COST)
    by_name = {s["name"]: s for s in spans}
    handler, drop_in = by_name["ChatOpenAI"], by_name["OpenAI-generation"]
    assert handler["parent_span_id"] == drop_in["parent_span_id"]  # side by side
    assert (handler["input_tokens"], Decimal(handler["total_cost"])) == (31, ANSWER_COST)
    assert (drop_in["input_tokens"], drop_in["output_tokens"], Decimal(drop_in["total_cost"])) == (0, 0, 0)
    assert "tracehouse.usage.counted" in drop_in["span_attributes"]  # estimated: 31, not counted
    assert drop_in["span_attributes"][COUNTED_IN] == handler["span_id"]


_NOW = dt.datetime.now(dt.UTC)


def _generation(trace: str, gid: str, parent: str | None, at: tuple[int, int], tokens: bool = True) -> dict[str, Any]:
    start = _NOW - dt.timedelta(minutes=1)
    body: dict[str, Any] = {
        "id": gid,
        "traceId": trace,
        "name": gid,
        "model": "gpt-4o",
        "startTime": (start + dt.timedelta(milliseconds=at[0])).isoformat(),
        "endTime": (start + dt.timedelta(milliseconds=at[1])).isoformat(),
    }
    if parent:
        body["parentObservationId"] = parent
    if tokens:
        body["usage"] = {"input": 100, "output": 20}
    return event("generation-create", body)


async def test_langfuse_ingestion_orders_and_garbage(live: Running) -> None:
    """Events of one call's two records in any order, one request each: the call's record counts,
    whatever came first: a wrapper stored with its usage before the call's record came is written
    again, not counted, and stays so when it is updated again; a wrapper whose usage comes after
    the call's record is not counted.
    Observations whose parents loop or name themselves are stored, each counted."""
    pair = await make_key(live)
    headers = basic(pair)
    first, later, loop = (str(uuid.uuid4()) for _ in range(3))
    steps = [
        [_generation(first, "w1", None, (0, 100))],
        [_generation(first, "c1", "w1", (10, 90))],
        [event("generation-update", {"id": "w1", "traceId": first, "metadata": {"step": "again"}})],
        [_generation(later, "w2", None, (0, 100), tokens=False)],
        [_generation(later, "c2", "w2", (10, 90))],
        [event("generation-update", {"id": "w2", "traceId": later, "usage": {"input": 100, "output": 20}})],
        [
            _generation(loop, "a", "b", (0, 100)),
            _generation(loop, "b", "a", (10, 90)),
            _generation(loop, "self", "self", (20, 80)),
        ],
    ]
    for batch in steps:
        status, body = await ingest(live, headers, batch)
        assert status == 207 and not body["errors"], body
    for trace_id, counted, names in ((first, "c1", ("w1", "c1")), (later, "c2", ("w2", "c2"))):
        trace, spans = await _spans(live, pair, trace_id, 2)
        assert trace["input_tokens"] == 100, spans
        by_name = {s["name"]: s for s in spans}
        [other] = [n for n in names if n != counted]
        assert by_name[counted]["input_tokens"] == 100 and COUNTED_IN not in by_name[counted]["span_attributes"]
        assert by_name[other]["input_tokens"] == 0
        assert by_name[other]["span_attributes"][COUNTED_IN] == by_name[counted]["span_id"]
    wrapper = next(s for s in (await _spans(live, pair, first, 2))[1] if s["name"] == "w1")
    assert wrapper["metadata"]["step"] == '"again"'  # the update is stored, the wrapper still not counted
    trace, spans = await _spans(live, pair, loop, 3)
    assert trace["input_tokens"] == 300 and not any(COUNTED_IN in s["span_attributes"] for s in spans)


async def test_langfuse_ingestion_long_trace_counts_a_call_once(live: Running) -> None:
    """A long trace (an agent run sent flush after flush) is read by its spans' facts alone once
    a read found it long (storage.langfuse), and still counts each call once, on the call's record:
    a wrapper stored with its usage before it came is written again, not counted."""
    pair = await make_key(live)
    headers = basic(pair)
    trace = str(uuid.uuid4())
    at = (_NOW - dt.timedelta(minutes=2)).isoformat()
    steps = [
        [
            event("span-create", {"id": f"step-{i}", "traceId": trace, "name": "step", "startTime": at, "endTime": at})
            for i in range(250)
        ],
        [_generation(trace, "w1", None, (0, 100))],  # this flush's read finds the trace long
        [_generation(trace, "c1", "w1", (10, 90))],
        [event("generation-update", {"id": "w1", "traceId": trace, "metadata": {"step": "again"}})],
        [_generation(trace, "w2", None, (200, 300), tokens=False)],
        [_generation(trace, "c2", "w2", (210, 290))],
        [event("generation-update", {"id": "w2", "traceId": trace, "usage": {"input": 100, "output": 20}})],
    ]
    for batch in steps:
        status, body = await ingest(live, headers, batch)
        assert status == 207 and not body["errors"], body
    listed, spans = await _spans(live, pair, trace, 254)
    assert listed["input_tokens"] == 200, [(s["name"], s["input_tokens"]) for s in spans if s["name"] != "step"]
    by_name = {s["name"]: s for s in spans}
    for counted, other in (("c1", "w1"), ("c2", "w2")):
        assert by_name[counted]["input_tokens"] == 100 and COUNTED_IN not in by_name[counted]["span_attributes"]
        assert by_name[other]["input_tokens"] == 0
        assert by_name[other]["span_attributes"][COUNTED_IN] == by_name[counted]["span_id"]
    assert by_name["w1"]["metadata"]["step"] == '"again"'


async def test_long_traces_are_read_by_their_facts(store: Store) -> None:
    """What the rule for a call recorded twice compares of a trace's stored spans is the same
    whether the trace is read whole or, once a read found it long, by its facts alone: each span's
    current version, whether its tokens were counted here; the spans asked for by id whole."""
    rows = [
        span(
            "long",
            f"s{i}",
            start=NOW_NS + i * SECOND,
            observation_type="GENERATION" if i % 3 == 0 else "SPAN",
            model="gpt-4o" if i % 3 == 0 else "",
            input_tokens=i,
            output_tokens=1,
            total_cost=Decimal("0.000001"),
            span_attributes=[(ESTIMATED_ATTRIBUTE, "o200k_base")] if i % 7 == 0 else [],
        )
        for i in range(250)
    ]
    await store.writer.write(span_table([*rows, span("short", "x0", start=NOW_NS)]))
    lf = store.langfuse_writer
    replaced, _ = await lf.current_spans("default", ["s5"])
    await lf.write_versions(span_table([{**rows[5], "input_tokens": 999}]), list(replaced.values()))
    ids = ["s5", "s6", "x0"]
    whole, calls = await lf.current_spans("default", ids, ["long"])
    assert ("default", "long") in lf._long_traces  # the next read takes the facts alone
    facts, facts_calls = await lf.current_spans("default", ids, ["long"])
    assert sorted(whole) == sorted(facts) == ids and whole == facts and whole["s5"]["input_tokens"] == 999
    assert len(calls) == 250 and sorted(calls, key=lambda r: r["span_id"]) == sorted(
        facts_calls, key=lambda r: r["span_id"]
    )
    by_id = {r["span_id"]: r for r in facts_calls}
    assert by_id["s5"]["input_tokens"] == 999 and by_id["s7"]["estimated"] and not by_id["s8"]["estimated"]
    assert by_id["s3"]["observation_type"] == "GENERATION" and by_id["s3"]["start_ns"] == NOW_NS + 3 * SECOND


def test_uncount_names_the_records_counted_on_once() -> None:
    """A record written again, not counted (the Langfuse lane's stored records): no usage or cost,
    its other attributes kept, and one name of what it is counted on, whatever it named before."""
    first = span("t", "a", observation_type="GENERATION", input_tokens=5, output_tokens=2, total_cost=Decimal("0.1"))
    second = span("t", "b", observation_type="GENERATION", input_tokens=7, span_attributes=[("k", "w")])
    rows = conform(span_table([{**first, "span_attributes": [("k", "v"), (COUNTED_IN, "old")]}, second]))
    out = uncount(rows, [["x"], ["y", "z"]]).to_pylist()
    assert [(r["input_tokens"], r["output_tokens"], r["total_cost"]) for r in out] == [(0, 0, 0), (0, 0, 0)]
    assert [dict(r["span_attributes"]) for r in out] == [{"k": "v", COUNTED_IN: "x"}, {"k": "w", COUNTED_IN: "y,z"}]
    assert [len(r["span_attributes"]) for r in out] == [2, 2]


async def test_an_estimate_exported_before_its_wrappers_report(live: Running) -> None:
    """The OpenTelemetry SDK with a SimpleSpanProcessor exports each span as it ends: a streamed
    call without usage (its tokens counted here) ends and is stored before the framework's span
    around it, which reports the call's usage. The report counts, the estimate is written again
    not counted, naming it, its messages kept; the trace and its list row agree."""
    from opentelemetry import trace as otel_trace

    from tests.otel import exporter, provider
    from tests.otel import in_thread as off_loop

    pair = await make_key(live)
    tp = provider(exporter("http", live, basic(pair)), service="agent")
    framework, instrumentation = tp.get_tracer("langchain"), tp.get_tracer("opentelemetry.instrumentation.openai")
    wrapper = framework.start_span("ChatOpenAI", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 5})  # fmt: skip
    trace_id = format(wrapper.get_span_context().trace_id, "032x")
    with otel_trace.use_span(wrapper, end_on_exit=False):
        inner = instrumentation.start_span("chat gpt-4o", attributes=ESTIMATED)
        await off_loop(inner.end)  # exported now, alone
    summary, stored = await _spans(live, pair, trace_id, 1)
    assert summary["input_tokens"] == _GUESSED  # counted here, while it is the only record
    await off_loop(wrapper.end)
    await off_loop(tp.shutdown)
    summary, stored = await _spans(live, pair, trace_id, 2)
    by_name = {s["name"]: s for s in stored}
    assert (by_name["ChatOpenAI"]["input_tokens"], by_name["ChatOpenAI"]["output_tokens"]) == (40, 5)
    estimate = by_name["chat gpt-4o"]
    assert (estimate["input_tokens"], estimate["output_tokens"], Decimal(estimate["total_cost"])) == (0, 0, 0)
    assert estimate["span_attributes"][COUNTED_IN] == format(wrapper.get_span_context().span_id, "016x")
    assert "Sunny." in estimate["span_attributes"]["gen_ai.output.messages"]
    assert (summary["input_tokens"], summary["output_tokens"], summary["span_count"]) == (40, 5, 2)
