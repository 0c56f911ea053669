"""``POST /api/public/ingestion``: a batch of Langfuse events in, a per-event verdict out.

Events are idempotent on their event id (the SDKs re-send whole batches) and upsert on
their body id. A batch is applied in Langfuse's order: creates before updates, each by
timestamp. Every entity touched is merged with its stored state and written as a new
version; traces that observations name but nobody created are created (shallow).

Parsing happens in the request (``prepare``); applying happens in the batcher's Langfuse lane
(``write``), one flush at a time, so that the batches of concurrent requests are merged and
written together under the same in-flight bound and retry hints as OTLP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from otlp_receiver.langfuse.entities import load_state, merge, observation_row, score_row, trace_row
from otlp_receiver.langfuse.events import Event, EventError, event_id_of, parse_event
from otlp_receiver.nested_calls import count_with_stored, uncount
from pricing import PriceBook
from storage import Store
from storage.langfuse import stored_rows_table
from storage.observation_ids import stored_observation_id
from storage.writer import DECODED_SPAN_FIELDS, SPAN_SCHEMA, conform

__all__ = ["Access", "BatchResult", "LangfuseIngest", "LangfuseJob"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    project_id: str
    scores_only: bool = False  # Bearer <public key>: score-create and sdk-log only


@dataclass
class BatchResult:
    successes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"successes": self.successes, "errors": self.errors}


def _score_state(row: dict[str, Any]) -> dict[str, Any]:
    value: Any = row["value"] if row["data_type"] in ("NUMERIC", "BOOLEAN") else row["string_value"]
    return {
        "id": row["id"],
        "timestamp": row["timestamp"],
        "traceId": row["trace_id"] or None,
        "observationId": row["observation_id"] or None,
        "sessionId": row["session_id"] or None,
        "name": row["name"],
        "value": value,
        "dataType": row["data_type"],
        "source": row["source"],
        "comment": row["comment"] or None,
        "metadata": {k: orjson.loads(v) for k, v in (row["metadata"] or {}).items()},
        "environment": row["environment"],
    }


def _order(event: Event) -> tuple[int, int]:
    return (1 if event.is_update else 0, event.timestamp)


@dataclass
class LangfuseJob:
    """One request's parsed events, waiting in the batcher's Langfuse lane."""

    project: str
    events: list[Event]
    retention: int
    now: int

    @property
    def num_rows(self) -> int:
        return len(self.events)


class LangfuseIngest:
    """The Langfuse lane's writer: one flush at a time (the batcher's single flusher), so that
    merging with the stored state never races another batch of this process."""

    def __init__(self, store: Store, prices: PriceBook | None = None) -> None:
        self.store = store
        self.lf = store.langfuse_writer
        self.prices = prices or PriceBook()

    def prepare(self, access: Access, batch: list[Any], retention: int = 0) -> tuple[BatchResult, LangfuseJob]:
        """Parse a request's events: the verdict for each (bad ones fail alone) and the job that
        applies the good ones. The verdict holds once the job is committed."""
        result = BatchResult()
        now = time.time_ns()
        events: list[Event] = []
        for raw in batch:
            try:
                event = parse_event(raw, now)
            except EventError as exc:
                result.errors.append(
                    {"id": event_id_of(raw), "status": exc.status, "message": exc.message, "error": exc.error}
                )
                continue
            if access.scores_only and event.entity not in ("score", "log"):
                result.errors.append(
                    {
                        "id": event.id,
                        "status": 401,
                        "message": "Authentication error",
                        "error": "a public key alone may only send scores",
                    }
                )
                continue
            events.append(event)
        logs = [e for e in events if e.entity == "log"]
        for e in logs:
            log.info("sdk-log: %s", str(e.body.get("log"))[:500])
        events = [e for e in events if e.entity != "log"]
        # A re-sent event (already applied) succeeds too: the SDK only needs to know it is stored.
        result.successes += [{"id": e.id, "status": 201} for e in events]
        return result, LangfuseJob(access.project_id, events, retention, now)

    async def write(self, jobs: list[LangfuseJob]) -> int:
        """Apply the jobs of one flush, per project: events already applied (re-sends) are
        skipped, the others merged with the stored state in Langfuse's order, in one write."""
        by_project: dict[str, list[LangfuseJob]] = defaultdict(list)
        for job in jobs:
            by_project[job.project].append(job)
        applied = 0
        for project, project_jobs in by_project.items():
            events = [e for job in project_jobs for e in job.events]
            seen = await self.lf.seen_events(project, [e.id for e in events])
            fresh: list[Event] = []
            for e in events:
                if e.id not in seen:
                    seen.add(e.id)
                    fresh.append(e)
            if fresh:
                # Stable sort: events of one timestamp keep the order they arrived in.
                last = project_jobs[-1]
                await self._apply(project, sorted(fresh, key=_order), last.retention, last.now)
                await self.lf.record_events(project, [e.id for e in fresh])
            applied += len(fresh)
        return applied

    async def _apply(self, project: str, events: list[Event], retention: int, now: int) -> None:
        by_entity: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for e in events:
            by_entity[(e.entity, e.body_id)].append(e)
        span_ids = {key[1] for key in by_entity if key[0] in ("trace", "observation")}
        for (kind, body_id), evs in by_entity.items():
            if kind == "observation":
                span_ids.update(e.body["traceId"] for e in evs if e.body.get("traceId"))
                # Where it is stored if its id is also its trace's (an update may not say its trace).
                span_ids.add(stored_observation_id(body_id, body_id))
        # The stored spans of the traces that generations come for: the rule for a call recorded
        # twice compares the generations with them (otlp_receiver.nested_calls).
        call_traces = sorted(
            {e.body["traceId"] for e in events if e.observation_type == "GENERATION" and e.body.get("traceId")}
        )
        current, stored_calls = await self.lf.current_spans(project, sorted(span_ids), call_traces)

        new_rows: list[dict[str, Any]] = []
        replaced: list[dict[str, Any]] = []
        traces_written: set[str] = set()
        observations: list[dict[str, Any]] = []
        scores: list[dict[str, Any]] = []
        score_states = await self.lf.current_scores(project, [k[1] for k in by_entity if k[0] == "score"])

        for (kind, body_id), evs in by_entity.items():
            if kind == "score":
                row = score_states.get(body_id)
                state = _score_state(row) if row else None
                for e in evs:
                    state = merge("score", state, {**e.body, "timestamp": e.body.get("timestamp") or e.timestamp})
                assert state is not None
                scores.append({**score_row(state, project, retention, now), "ingested_at": _now_us()})
                continue
            stored = current.get(body_id)
            if kind == "observation":
                stored = current.get(stored_observation_id(body_id, body_id), stored)
            if stored is not None and kind == "trace" and stored["observation_type"] != "TRACE":
                stored = None  # an observation with this id is not this trace's state
            if stored is not None and kind == "observation" and stored["observation_type"] == "TRACE":
                stored = None
            state = load_state(stored) if stored is not None else None
            for e in evs:
                body = dict(e.body)
                if kind == "trace":
                    body["timestamp"] = body.get("timestamp") or e.timestamp
                else:
                    # Missing start falls back to the event's time (immutable once set, as in Langfuse).
                    body["startTime"] = body.get("startTime") or e.timestamp
                state = merge(kind, state, body)
                if kind == "observation":
                    # The first create decides the type; an update only until a create arrives.
                    if not e.is_update and not state.get("typeFromCreate"):
                        state["type"] = e.observation_type
                        state["typeFromCreate"] = True
                    elif state.get("type") is None:
                        state["type"] = e.observation_type
            assert state is not None
            if kind == "trace":
                new_rows.append(trace_row(state, project, retention))
                traces_written.add(body_id)
            else:
                observations.append(state)
            if stored is not None:
                replaced.append(stored)

        # Off the event loop: a generation without usage has its tokens counted (token_count.py),
        # which can wait for the tokenizer's first load.
        prices = self.prices
        new_rows += await asyncio.to_thread(
            lambda: [observation_row(state, project, retention, prices) for state in observations]
        )
        # Traces that observations point at but that neither exist nor came in this batch.
        for state in observations:
            trace_id = state.get("traceId")
            if trace_id and trace_id not in traces_written and trace_id not in current:
                shallow = {"id": trace_id, "timestamp": state.get("startTime")}
                new_rows.append(trace_row(shallow, project, retention))
                traces_written.add(trace_id)

        if new_rows:
            names = [f.name for f in DECODED_SPAN_FIELDS]
            present = [n for n in names if any(n in r for r in new_rows)]
            schema = pa.schema([SPAN_SCHEMA.field(n) for n in present])
            table = pa.Table.from_pylist(
                [{n: _arrow_value(r.get(n)) for n in present} for r in new_rows], schema=schema
            )
            uncounted: dict[tuple[str, str], list[str]] = {}
            table = count_with_stored(conform(table), stored_calls, uncounted)
            if uncounted:
                # Stored records of calls that the rule does not count now that the records they
                # are counted on came (a wrapper's report after the call's estimate, a call's record
                # after its wrapper's): written again, not counted, whatever came first.
                again, _ = await self.lf.current_spans(project, sorted({span for _, span in uncounted}))
                rows = [r for r in again.values() if (r["trace_id"], r["span_id"]) in uncounted]
                if rows:
                    names = [uncounted[(r["trace_id"], r["span_id"])] for r in rows]
                    table = pa.concat_tables([table, uncount(stored_rows_table(rows), names)])
                    replaced += rows
            await self.lf.write_versions(table, replaced)
        if scores:
            await self.lf.write_scores(scores)


def _now_us() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _arrow_value(value: Any) -> Any:
    if isinstance(value, dict):
        return list(value.items())
    return value
