"""One conformance suite of fixture traces (tests/conformance/*.json), OTLP and Langfuse, sent
through the one ingest path and read back from the store. It runs on the embedded engine and,
when ``TRACEHOUSE_TEST_CLICKHOUSE_URL`` names a ClickHouse server, on that server too: both
backends must give the same answers to the same fixtures.

A fixture holds the request (an OTLP/JSON export request, or a Langfuse ingestion batch) and
the columns expected of each stored span. Times are written relative to now (``now-1500ms``,
``now-1500ms@iso``) so that retention never drops them.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from otlp_receiver.ingest import IngestService, IngestSettings
from otlp_receiver.langfuse.service import Access
from storage import Store

FIXTURES = sorted((Path(__file__).parent / "conformance").glob("*.json"))
TEXTS = {p.name: p.read_text() for p in FIXTURES}
_RELATIVE = re.compile(r"^now-(\d+)ms(@iso)?$")

BACKENDS = ["embedded"] + (["server"] if os.environ.get("TRACEHOUSE_TEST_CLICKHOUSE_URL") else [])


def _resolve_times(value: Any, now_ns: int) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_times(v, now_ns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_times(v, now_ns) for v in value]
    if isinstance(value, str) and (m := _RELATIVE.match(value)):
        ns = now_ns - int(m.group(1)) * 1_000_000
        if m.group(2):
            return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return str(ns)
    return value


def _normal(value: Any) -> Any:
    """Stored values in the fixtures' JSON terms: decimals as numbers, JSON text parsed."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _expected(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value):
        return Decimal(value).normalize()
    return value


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "embedded":
        opened = await Store.open(data_dir=tmp_path / "data")
    else:
        opened = await Store.open(clickhouse_url=os.environ["TRACEHOUSE_TEST_CLICKHOUSE_URL"])
    async with opened as s:
        yield s


def _rename_ids(text: str, suffix: str) -> str:
    """Fresh ids per run, so that a shared server sees a new trace each time."""
    text = text.replace("c0f0c0f0c0f0c0f0c0f0c0f0c0f0", suffix[:28])
    return text.replace("conf-lf-", f"conf-{suffix[:8]}-")


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
async def test_fixture_reads_back_as_expected(store: Store, path: Path) -> None:
    suffix = uuid.uuid4().hex
    fixture = json.loads(_rename_ids(TEXTS[path.name], suffix))
    fixture = _resolve_times(fixture, time.time_ns())
    project = (await store.projects.get_project("default")).id
    async with IngestService(store, IngestSettings()) as ingest:
        if fixture["kind"] == "otlp":
            result = await ingest.ingest(orjson.dumps(fixture["request"]), "json", project)
            assert result.rejected == 0, result.message
        else:
            batch = fixture["batch"]
            outcome = await ingest.ingest_langfuse(Access(project), batch, len(orjson.dumps(batch)))
            assert outcome.errors == [], outcome.errors

    expect = fixture["expect"]
    rows = {r["span_id"]: r for r in await store.reader.trace(project, expect["trace_id"])}
    assert set(expect["spans"]) <= set(rows), f"{path.name}: spans missing: {set(expect['spans']) - set(rows)}"
    for span_id, columns in expect["spans"].items():
        row = rows[span_id]
        for column, want in columns.items():
            got = _normal(row[column])
            if isinstance(want, dict) and isinstance(got, dict) and column != "metadata":
                got = {k: got.get(k) for k in want}  # the fixture names the keys it cares about
            if column == "metadata":  # a map of JSON texts (Langfuse metadata merges per key)
                got = {k: orjson.loads(v) for k, v in got.items()}
            if column == "tags":
                got = sorted(got)
            assert got == _expected(want), f"{path.name}: span {span_id}: {column}: {got!r} != {want!r}"
    if "resource_attribute_types" in expect:
        some = next(iter(rows.values()))
        assert some["resource_attribute_types"] == expect["resource_attribute_types"]
    if "scores" in expect:
        scores, _ = await store.langfuse.scores(project, [expect["trace_id"]])
        got_scores = [
            {"id": s["id"], "name": s["name"], "value": s["value"], "observationId": s["observation_id"]}
            for s in scores
        ]
        assert got_scores == expect["scores"]
