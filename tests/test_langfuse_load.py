"""Langfuse ingestion under load goes through the same bound as OTLP: concurrent SDK-shaped batches
past the in-flight bound get 503 with Retry-After (the SDKs retry 5xx), nothing of a refused batch
is stored, and once every sender is through, every event is stored exactly once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from tests.conftest import serving
from tests.langfuse_helpers import basic, event, make_key

SENDERS = 8
BATCHES = 12
TRACES_PER_BATCH = 5


def sdk_batch(sender: int, n: int) -> list[dict]:
    """What a Langfuse SDK 2.x flush looks like: traces, spans, generations, updates, a score."""
    events = []
    for t in range(TRACES_PER_BATCH):
        trace_id = f"load-{sender}-{n}-{t}"
        span_id, gen_id = f"{trace_id}-span", f"{trace_id}-gen"
        at = f"2026-11-27T10:{sender:02d}:{t:02d}.{n:03d}Z"
        events += [
            event("trace-create", {"id": trace_id, "name": "chat", "userId": f"user-{sender}", "timestamp": at}),
            event("span-create", {"id": span_id, "traceId": trace_id, "name": "workflow", "startTime": at}),
            event(
                "generation-create",
                {
                    "id": gen_id,
                    "traceId": trace_id,
                    "parentObservationId": span_id,
                    "name": "llm",
                    "model": "gpt-4o",
                    "startTime": at,
                    "input": [{"role": "user", "content": "x" * 200}],
                    "usage": {"input": 100, "output": 20},
                },
            ),
            event("generation-update", {"id": gen_id, "traceId": trace_id, "output": "y" * 100, "endTime": at}),
            event("span-update", {"id": span_id, "traceId": trace_id, "endTime": at}),
            event("score-create", {"id": f"{trace_id}-score", "traceId": trace_id, "name": "q", "value": 1}),
        ]
    return events


async def test_concurrent_batches_hit_the_bound_and_every_event_is_stored_once(tmp_path: Path) -> None:
    # A bound of two or three ~9 KB batches (and a waiting room as large): eight senders at once pass both.
    async with serving(tmp_path / "data", max_inflight_bytes=24 * 1024) as live:
        headers = {**basic(await make_key(live)), "Content-Type": "application/json"}
        refused = retry_hints = 0
        accepted_ids: list[str] = []

        async def sender(s: int, session: aiohttp.ClientSession) -> None:
            nonlocal refused, retry_hints
            for n in range(BATCHES):
                body = json.dumps({"batch": sdk_batch(s, n)}).encode()
                while True:
                    async with session.post(live.api_url + "/api/public/ingestion", data=body, headers=headers) as r:
                        doc = await r.json()
                        if r.status == 503:
                            refused += 1
                            retry_hints += int("Retry-After" in r.headers)
                            await asyncio.sleep(0.05)  # an SDK waits longer; the test need not
                            continue
                        assert r.status == 207, doc
                        assert not doc["errors"], doc["errors"][:3]
                        accepted_ids.extend(e["id"] for e in doc["successes"])
                        break
                if n == 3:  # an SDK that re-sends a batch it already delivered
                    async with session.post(live.api_url + "/api/public/ingestion", data=body, headers=headers) as r:
                        assert r.status in (207, 503)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(sender(s, session) for s in range(SENDERS)))

        expected = SENDERS * BATCHES * TRACES_PER_BATCH
        assert refused > 0 and retry_hints == refused, "the bound was never reached, or a 503 had no hint"
        assert len(set(accepted_ids)) == expected * 6
        backend = live.store.backend
        rows = await backend.query(
            "SELECT observation_type AS t, count() AS n, uniqExact(span_id) AS u FROM spans FINAL "
            "WHERE project_id = 'default' GROUP BY t ORDER BY t"
        )
        assert {r["t"]: (r["n"], r["u"]) for r in rows} == {
            "GENERATION": (expected, expected),
            "SPAN": (expected, expected),
            "TRACE": (expected, expected),
        }
        gens = await backend.query(
            "SELECT count() AS n FROM spans FINAL WHERE observation_type = 'GENERATION' AND output != '' "
            "AND input_tokens = 100 AND output_tokens = 20"
        )
        assert gens[0]["n"] == expected  # creates and updates merged, whatever batch they came in
        scores = await backend.query("SELECT count() AS n, uniqExact(id) AS u FROM scores FINAL")
        assert (scores[0]["n"], scores[0]["u"]) == (expected, expected)
        seen = await backend.query("SELECT count() AS n, uniqExact(event_id) AS u FROM langfuse_events FINAL")
        assert seen[0]["n"] == seen[0]["u"] == expected * 6
