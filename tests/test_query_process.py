"""`tracehouse query` alone (the API port, no receiver): what the server deployments run behind
the UI's address. Langfuse clients write there too (Dify pastes one host), so its writes go
through the same ingest path as a receiver's: the real langfuse SDKs, the score API, the UI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from query_api.annotations_api import SCORE_SINK_KEY
from query_api.datasets_api import RUNNER_KEY
from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_prompts_api import Client
from tracehouse.server import Running, running
from tracehouse.settings import load_settings


@pytest.fixture
async def query(tmp_path: Path) -> AsyncIterator[Running]:
    settings = load_settings(data_dir=tmp_path / "data", api_port=0, otlp_grpc_port=0, otlp_http_port=0)
    async with running(settings, ("api",)) as r:
        yield r


async def test_langfuse_clients_write_through_the_query_process(query: Running) -> None:
    assert query.otlp_http_url == "" and query.otlp_grpc_address == ""  # no receiver here
    pair = await make_key(query)
    # Dify <= 1.12 (SDK 2.x, the ingestion API) and Dify 1.13+ / SDK 4.x (OTLP on /api/public/otel).
    ids = await asyncio.to_thread(run_sdk, "2", "v2_dify.py", query.api_url, pair)
    spans = {s["span_id"]: s for s in await query.store.reader.trace("default", ids["trace_id"])}
    assert spans[ids["generation_id"]]["model"] == "gpt-4o"
    ids = await asyncio.to_thread(run_sdk, "4", "v4_dify.py", query.api_url, pair)
    assert {s["name"] for s in await query.store.reader.trace("default", ids["otel_trace_id"])} == {
        "answer-question",
        "llm-call",
    }
    # Scores from scripts, and the writers of people's scores and experiments, are there.
    c = Client(query, basic(pair))
    try:
        status, doc, _ = await c.call(
            "POST", "/api/public/scores", {"traceId": ids["otel_trace_id"], "name": "helpful", "value": 1}
        )
        assert status == 200, doc
        scores, _ = await query.store.langfuse.scores("default", [ids["otel_trace_id"]])
        assert [s["name"] for s in scores] == ["helpful"]
        # Garbage costs nothing: a broken batch is refused with why, the good event kept.
        good = {"id": "e1", "type": "trace-create", "timestamp": "2026-12-02T10:00:00Z", "body": {"id": "t-ok"}}
        bad = {"id": "e2", "type": "no-such-type", "body": 7}
        status, doc, _ = await c.call("POST", "/api/public/ingestion", {"batch": [good, bad]})
        assert status == 207 and [e["id"] for e in doc["errors"]] == ["e2"], doc
        assert len(await query.store.reader.trace("default", "t-ok")) == 1
    finally:
        await c.close()
    assert query.api_app is not None
    assert query.api_app.get(SCORE_SINK_KEY) is not None and query.api_app[RUNNER_KEY]._sink is not None


async def test_the_query_process_decodes_in_a_thread_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a big node a receiver starts a decoder process per core beyond two; the query process,
    sized for reads, decodes its share of writes in a thread unless the setting says otherwise."""
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    base = {"api_port": 0, "otlp_grpc_port": 0, "otlp_http_port": 0}
    for components, overrides, workers in (
        (("api",), {}, 0),
        (("api", "receiver"), {}, 8),
        (("api",), {"decode_workers": 3}, 3),
    ):
        settings = load_settings(data_dir=tmp_path / "data", **base, **overrides)
        async with running(settings, components) as r:
            assert r.ingest is not None and r.ingest.settings.decode_workers == workers, components
