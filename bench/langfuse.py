"""Langfuse ingestion benchmark: acknowledged-and-durable ingestion events/s, as Dify and the
Langfuse 2.x SDK send them (``POST /api/public/ingestion``).

Starts ``tracehouse serve`` on a fresh data directory with one key, sends seeded batches (each
20 traces: trace-create, span-create, generation-create with usage, generation-update with the
output, score-create; 100 events) from N concurrent senders, each waiting for its answer and
honouring 503 + Retry-After; then stops the server and counts what is stored.

    python -m bench.langfuse --concurrency 4 --batches 400 [--apart]

``--growing N``: one sender sends N flushes to one trace (a long agent run as the SDK flushes
it), each 5 spans and 5 generations with usage and 2 KB of input and output; prints the request
times of the first and last ten flushes, what a flush costs as the trace it adds to grows.

    python -m bench.langfuse --growing 100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.ingest import drive, start_server, stored_rows

TRACES_PER_BATCH = 20


def batch(sender: int, n: int, apart: bool = False) -> bytes:
    """The sender's ``n``-th batch; ``apart``: each generation's usage and output come in the
    sender's next batch (an SDK's flush between a call's start and end), so every flush updates
    traces stored before."""
    events = []
    for t in range(TRACES_PER_BATCH):
        trace_id = f"b{sender}-{n}-{t}"
        at = f"2026-11-30T10:{n % 60:02d}:{t:02d}.{sender:03d}Z"
        events += [
            {"id": f"{trace_id}-1", "type": "trace-create", "timestamp": at,
             "body": {"id": trace_id, "name": "message", "userId": f"user-{t}", "sessionId": f"s-{n}",
                      "tags": ["bench"], "input": {"message": "What is the weather like?"}}},
            {"id": f"{trace_id}-2", "type": "span-create", "timestamp": at,
             "body": {"id": f"{trace_id}-s", "traceId": trace_id, "name": "workflow", "startTime": at,
                      "endTime": at}},
            {"id": f"{trace_id}-3", "type": "generation-create", "timestamp": at,
             "body": {"id": f"{trace_id}-g", "traceId": trace_id, "parentObservationId": f"{trace_id}-s",
                      "name": "LLM", "model": "gpt-4o", "startTime": at,
                      "input": [{"role": "user", "content": "What is the weather like? " * 8}],
                      "usage": {"input": 120, "output": 30, "unit": "TOKENS"}}},
            {"id": f"{trace_id}-5", "type": "score-create", "timestamp": at,
             "body": {"id": f"{trace_id}-sc", "traceId": trace_id, "name": "user-feedback", "value": 1}},
        ]  # fmt: skip
        if apart:
            del events[-2]["body"]["usage"]
        if not apart or n > 0:
            updated = f"b{sender}-{n - 1}-{t}" if apart else trace_id
            events.append(
                {"id": f"{updated}-4", "type": "generation-update", "timestamp": at,
                 "body": {"id": f"{updated}-g", "traceId": updated, "endTime": at,
                          "output": {"text": "Sunny, 22 degrees."},
                          **({"usage": {"input": 120, "output": 30, "unit": "TOKENS"}} if apart else {})}}
            )  # fmt: skip
    return json.dumps({"batch": events, "metadata": {"sdk_name": "bench"}}).encode()


def growing_batch(n: int) -> bytes:
    """The ``n``-th flush of one long trace: 5 spans and 5 generations with usage, 2 KB of input
    and output each, the generations under the spans."""
    at = f"2026-11-30T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z"
    text = "The agent looked at the weather, the calendar and the news. " * 34  # ~2 KB
    events: list[dict[str, object]] = []
    if n == 0:
        events.append({"id": "grow-trace", "type": "trace-create", "timestamp": at,
                       "body": {"id": "grow", "name": "agent-run", "input": {"message": "Plan my day"}}})  # fmt: skip
    for k in range(5):
        span, generation = f"s-{n}-{k}", f"g-{n}-{k}"
        events += [
            {"id": f"{span}-e", "type": "span-create", "timestamp": at,
             "body": {"id": span, "traceId": "grow", "name": "step", "startTime": at, "endTime": at,
                      "input": text, "output": text}},
            {"id": f"{generation}-e", "type": "generation-create", "timestamp": at,
             "body": {"id": generation, "traceId": "grow", "parentObservationId": span, "name": "LLM",
                      "model": "gpt-4o", "startTime": at, "endTime": at, "input": text, "output": text,
                      "usage": {"input": 500, "output": 400, "unit": "TOKENS"}}},
        ]  # fmt: skip
    return json.dumps({"batch": events, "metadata": {"sdk_name": "bench"}}).encode()


async def make_key(data_dir: Path) -> str:
    from storage import Store

    store = await Store.open(data_dir=data_dir)
    try:
        pair = await store.projects.create_key("default")
    finally:
        await store.close()
    return "Basic " + base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()


@contextlib.asynccontextmanager
async def keyed_server() -> AsyncIterator[tuple[subprocess.Popen[bytes], str, str, Path]]:
    """``tracehouse serve`` on a fresh data directory with one key: the process (the caller stops
    it), its API URL, the key as a Basic authorization, and the directory (removed after)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        auth = await make_key(data_dir)
        process, info = start_server(data_dir, [])
        yield process, info["api_url"], auth, data_dir


async def growing(args: argparse.Namespace) -> dict[str, object]:
    """One trace grown by ``args.growing`` flushes, one after another."""
    async with keyed_server() as (process, api_url, auth, data_dir):
        url = api_url + "/api/public/ingestion"
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        times: list[float] = []

        async def sender(session: aiohttp.ClientSession) -> None:
            for n in range(args.growing):
                began = time.perf_counter()
                async with session.post(url, data=growing_batch(n), headers=headers) as response:
                    doc = await response.json()
                    assert response.status == 207 and not doc["errors"], doc
                times.append(time.perf_counter() - began)

        async with aiohttp.ClientSession() as session:
            elapsed, peak = await drive(process, [sender(session)])
        stored_spans, _ = await stored_rows(data_dir, "spans", "scores")
        return {
            "flushes": args.growing,
            "observations": args.growing * 10,
            "seconds": round(elapsed, 2),
            "first_ten_p50_ms": round(statistics.median(times[:10]) * 1000, 1),
            "last_ten_p50_ms": round(statistics.median(times[-10:]) * 1000, 1),
            "stored_observations_and_traces": stored_spans,
            "server_rss_peak_mb": round(peak),
        }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    if args.growing:
        return await growing(args)
    async with keyed_server() as (process, api_url, auth, data_dir):
        url = api_url + "/api/public/ingestion"
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        senders = args.concurrency
        bodies = [(s, batch(s, n, args.apart)) for n in range(args.batches // senders) for s in range(senders)]
        acked = refused = 0
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        for item in bodies:
            queue.put_nowait(item)

        async def sender(session: aiohttp.ClientSession) -> None:
            nonlocal acked, refused
            while not queue.empty():
                _, body = queue.get_nowait()
                while True:
                    async with session.post(url, data=body, headers=headers) as response:
                        doc = await response.json()
                        if response.status == 207:
                            assert not doc["errors"], doc["errors"][:2]
                            acked += len(doc["successes"])
                            break
                        refused += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))

        async with aiohttp.ClientSession() as session:
            elapsed, peak = await drive(process, [sender(session) for _ in range(senders)])
        stored_spans, stored_scores = await stored_rows(data_dir, "spans", "scores")
        return {
            "events": acked,
            "seconds": round(elapsed, 2),
            "events_per_s": round(acked / elapsed),
            "refused_503": refused,
            "stored_observations_and_traces": stored_spans,
            "expected_observations_and_traces": len(bodies) * TRACES_PER_BATCH * 3,
            "stored_scores": stored_scores,
            "server_rss_peak_mb": round(peak),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batches", type=int, default=400, help="batches of 100 events")
    parser.add_argument(
        "--apart", action="store_true", help="each generation's usage and output in the sender's next batch"
    )
    parser.add_argument("--growing", type=int, default=0, help="flushes of 10 observations to one trace")
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
