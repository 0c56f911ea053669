"""A trace is one entity, whatever its time span or the order its events arrive in.

Every read (REST detail, list, sessions, users, time series; Langfuse's traces, sessions and daily
metrics; Tempo search) sees the whole trace: its name, user, session and tags from the trace entity
(or the OTel root span), totals over all of its spans. A time window returns a trace, placed by its
start, whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

import aiohttp
import pytest

from tests.langfuse_helpers import basic, event, ingest, make_key
from tests.otlp_data import request
from tracehouse.server import Running

SECOND = 1_000_000_000


def ns(moment: str) -> int:
    return int(dt.datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()) * SECOND


async def get(live: Running, path: str, headers: dict[str, str], **params: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + path, params=params, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def send_otlp(
    live: Running, headers: dict[str, str], root_start: int, child_start: int, separately: bool = False
) -> str:
    """A root span (with user, session and tags) and a child that starts ``child_start``, in one
    request or (``separately``) the child first, in a request of its own."""
    trace_id, root_id = os.urandom(16), os.urandom(8)
    spans = [
        {
            "trace_id": trace_id,
            "span_id": root_id,
            "name": "root-op",
            "start": root_start,
            "end": child_start + SECOND,
            "attrs": {"user.id": "night-owl", "session.id": "night-session", "langfuse.trace.tags": '["late"]'},
        },
        {
            "trace_id": trace_id,
            "span_id": os.urandom(8),
            "parent_span_id": root_id,
            "name": "child-op",
            "start": child_start,
            "end": child_start + SECOND // 2,
            "attrs": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"},
        },
    ]
    bodies = [request(spans[::-1][:1]), request(spans[:1])] if separately else [request(spans)]
    for body in bodies:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                live.otlp_http_url + "/v1/traces",
                data=body.SerializeToString(),
                headers={**headers, "Content-Type": "application/x-protobuf"},
            ) as r,
        ):
            assert r.status == 200, await r.text()
    return trace_id.hex()


def iso(ns_value: int) -> str:
    return dt.datetime.fromtimestamp(ns_value / SECOND, dt.UTC).isoformat()


async def rest_list(live: Running, headers: dict[str, str], start: int, end: int, **params: str) -> list[dict]:
    doc = await get(live, "/api/v1/traces", headers, start=iso(start), end=iso(end), **params)
    return doc["items"]


@pytest.mark.parametrize(
    ("root", "child", "separately"),
    [
        ("2026-11-20T23:59:59.5", "2026-11-21T00:00:00.5", False),  # a day boundary
        ("2026-11-20T23:59:59.5", "2026-11-21T00:00:00.5", True),  # the child exported first, alone
        ("2026-10-31T23:59:59.5", "2026-11-01T00:00:00.5", False),  # a month boundary (another partition)
    ],
)
async def test_otlp_trace_across_midnight_is_listed_whole_or_not_at_all(
    live: Running, root: str, child: str, separately: bool
) -> None:
    headers = basic(await make_key(live))
    root_ns = ns(root[:19] + "Z") + SECOND // 2
    child_ns = ns(child[:19] + "Z") + SECOND // 2
    trace_id = await send_otlp(live, headers, root_ns, child_ns, separately)
    midnight = ns(child[:10] + "T00:00:00Z")

    # A window holding only the second day: the trace started before it, so it is not there.
    assert await rest_list(live, headers, midnight, midnight + 86_400 * SECOND) == []
    # A window holding its start: the whole trace, with the root's name and user.
    [item] = await rest_list(live, headers, midnight - 3600 * SECOND, midnight)
    assert item["trace_id"] == trace_id
    assert (item["name"], item["span_count"], item["user_id"]) == ("root-op", 2, "night-owl")
    assert item["session_id"] == "night-session" and item["tags"] == ["late"]
    assert item["models"] == ["gpt-4o-mini"]
    # Filters see the whole trace: the model is on the child, after midnight.
    [item] = await rest_list(live, headers, midnight - 3600 * SECOND, midnight, model="gpt-4o-mini")
    assert item["span_count"] == 2

    # The time series counts the trace once, in the bucket of its start.
    series = await get(
        live,
        "/api/v1/metrics/timeseries",
        headers,
        start=iso(midnight - 3600 * SECOND),
        end=iso(midnight + 3600 * SECOND),
        interval="3600",
    )
    assert sum(p["traces"] for p in series["items"]) == 1
    assert sum(p["spans"] for p in series["items"]) == 2
    [first] = [p for p in series["items"] if p["traces"]]
    assert first["bucket"] == (midnight - 3600 * SECOND) // SECOND
    # Only the second hour in the window: spans of that hour, no trace start.
    series = await get(
        live, "/api/v1/metrics/timeseries", headers, start=iso(midnight), end=iso(midnight + 3600 * SECOND)
    )
    assert sum(p["traces"] for p in series["items"]) == 0 and sum(p["spans"] for p in series["items"]) == 1

    # Users and sessions: counted once, whole.
    users = await get(live, "/api/v1/users", headers, start=iso(midnight - 3600 * SECOND), end=iso(midnight))
    assert [(u["user_id"], u["traces"]) for u in users["items"]] == [("night-owl", 1)]
    users = await get(live, "/api/v1/users", headers, start=iso(midnight), end=iso(midnight + 3600 * SECOND))
    assert users["items"] == []
    session = await get(live, "/api/v1/sessions/night-session", headers)
    assert [t["span_count"] for t in session["traces"]] == [2]

    # Langfuse's list and the Tempo search see the same whole trace.
    doc = await get(
        live, "/api/public/traces", headers, fromTimestamp=iso(midnight), toTimestamp=iso(midnight + 3600 * SECOND)
    )
    assert doc["data"] == [] and doc["meta"]["totalItems"] == 0
    doc = await get(
        live, "/api/public/traces", headers, fromTimestamp=iso(midnight - 3600 * SECOND), toTimestamp=iso(midnight)
    )
    [lf] = doc["data"]
    assert (lf["name"], lf["userId"], lf["sessionId"]) == ("root-op", "night-owl", "night-session")
    assert len(lf["observations"]) == 2
    daily = await get(live, "/api/public/metrics/daily", headers)
    assert sum(d["countTraces"] for d in daily["data"]) == 1
    tempo = await get(
        live,
        "/tempo/api/search",
        headers,
        start=str((midnight - 3600 * SECOND) // SECOND),
        end=str((midnight + 3600 * SECOND) // SECOND),
    )
    [found] = tempo["traces"]
    assert found["rootTraceName"] == "root-op" and found["spanSets"][0]["matched"] == 2


def lf_trace(trace_id: str, timestamp: str | None) -> dict:
    body = {
        "id": trace_id,
        "name": "workflow",
        "userId": "dify-user",
        "sessionId": "conversation-1",
        "tags": ["dify"],
        "input": {"query": "hi"},
        "output": {"answer": "hello"},
    }
    if timestamp is not None:
        body["timestamp"] = timestamp
    return body


def lf_node(trace_id: str, name: str, start: str, end: str) -> dict:
    return {"id": str(uuid.uuid4()), "traceId": trace_id, "name": name, "startTime": start, "endTime": end}


@pytest.mark.parametrize(
    ("case", "trace_time", "envelope", "node_day", "trace_first"),
    [
        # Dify queues its export: the trace-create (no timestamp) is stamped when it is sent, a day after
        # nodes that started before midnight, and it arrives first.
        ("no timestamp, first", None, "2026-11-21T00:00:30Z", "2026-11-20", True),
        # The trace entity arrives days after its observations.
        ("days after", None, "2026-11-24T08:00:00Z", "2026-11-20", False),
        # The trace entity names a time days before its observations, and arrives first.
        ("days before", "2026-11-17T08:00:00Z", "2026-11-17T08:00:00Z", "2026-11-20", True),
    ],
)
async def test_langfuse_trace_entity_far_from_its_observations_reads_whole(
    live: Running, case: str, trace_time: str | None, envelope: str, node_day: str, trace_first: bool
) -> None:
    headers = basic(await make_key(live))
    trace_id = str(uuid.uuid4())
    trace_event = event("trace-create", lf_trace(trace_id, trace_time), timestamp=envelope)
    nodes = [
        event("span-create", lf_node(trace_id, "start", f"{node_day}T23:59:58Z", f"{node_day}T23:59:59Z")),
        event(
            "generation-create",
            {
                **lf_node(trace_id, "llm", f"{node_day}T23:59:59Z", f"{node_day}T23:59:59.900Z"),
                "model": "gpt-4o-mini",
                "usage": {"input": 10, "output": 5},
            },
        ),
    ]
    order = [[trace_event], nodes] if trace_first else [nodes, [trace_event]]
    for batch in order:
        status, reply = await ingest(live, headers, batch)
        assert status == 207 and not reply["errors"], reply

    trace = await get(live, f"/api/public/traces/{trace_id}", headers)
    assert (trace["name"], trace["userId"], trace["sessionId"], trace["tags"]) == (
        "workflow",
        "dify-user",
        "conversation-1",
        ["dify"],
    ), case
    assert trace["input"] == {"query": "hi"} and len(trace["observations"]) == 2
    assert trace["totalCost"] > 0, case  # from the summary's row of the observations' day

    detail = await get(live, f"/api/v1/traces/{trace_id}", headers)
    [root] = [s for s in detail["spans"] if s["observation_type"] == "TRACE"]
    assert root["name"] == "workflow" and root["user_id"] == "dify-user"

    # Listed once, whole, in a window holding its start (its earliest row), and nowhere else.
    start = min(ns(f"{node_day}T23:59:58Z"), ns(trace_time) if trace_time else ns(envelope))
    items = await rest_list(live, headers, start - 3600 * SECOND, start + 3600 * SECOND)
    [item] = items
    assert (item["name"], item["user_id"], item["span_count"], item["total_tokens"]) == ("workflow", "dify-user", 2, 15)
    later = await rest_list(live, headers, start + 3600 * SECOND, ns("2026-11-30T00:00:00Z"))
    assert later == []
    doc = await get(live, "/api/public/traces", headers, userId="dify-user")
    assert [t["id"] for t in doc["data"]] == [trace_id] and doc["data"][0]["name"] == "workflow"
    sessions = await get(live, "/api/public/sessions", headers)
    assert [s["id"] for s in sessions["data"]] == ["conversation-1"]


async def test_a_trace_split_over_days_in_2262_is_stored(live: Running) -> None:
    """Spans may start as late as 2262 (DateTime64(9)); the split-trace record must hold that day
    (found by the fidelity fuzzer: a Date column ends in 2149)."""
    headers = basic(await make_key(live))
    midnight = ns("2262-04-10T00:00:00Z")
    trace_id = await send_otlp(live, headers, midnight - SECOND // 2, midnight + SECOND // 2)
    detail = await get(live, f"/api/v1/traces/{trace_id}", headers)
    assert len(detail["spans"]) == 2
    rows = await live.store.backend.query("SELECT toString(first_day) AS d FROM split_traces FINAL")
    assert [r["d"] for r in rows] == ["2262-04-09"]
