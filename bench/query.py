"""Query benchmark at scale: load the seeded workload straight into the embedded store, then time
the reads users wait on (warm, p50/p95).

Loading: the workload's requests are decoded and mapped by the receiver's own code
(`decode_request`) into a pool of spans; the pool is then replayed with new trace ids, spread
over 30 days and 20 projects, and inserted with the storage backend (no HTTP, no dedupe
check: every replayed id is new by construction).

    python -m bench.query --spans 10000000            # load, then measure
    python -m bench.query --data-dir D --skip-load    # measure an existing store again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bench.workload import Workload
from otlp_receiver.decode import DecodeContext, decode_request, parse_protobuf_request
from query_api.promql import evaluate
from storage import Store, TraceQuery
from storage.writer import conform

DAY_NS = 86_400 * 10**9
PROJECTS = [f"bench-{i:02d}" for i in range(20)]


def pool(spans: int, seed: int) -> tuple[pa.Table, int]:
    """Decoded spans of the workload, and their OTLP protobuf size."""
    workload = Workload(seed)
    tables, raw = [], 0
    for batch in workload.batches(spans, 512, 0):
        raw += len(batch.body)
        tables.append(decode_request(parse_protobuf_request(batch.body), DecodeContext(project_id="x")).table)
    return conform(pa.concat_tables(tables)), raw


def replica(base: pa.Table, n: int, project: str, shift_ns: int) -> pa.Table:
    """The pool with the last 8 hex digits of every trace id replaced by ``n``, moved in time."""
    suffix = f"{n:08x}"
    trace = pc.binary_join_element_wise(pc.utf8_slice_codeunits(base["trace_id"], 0, 24), suffix, "")
    table = base.set_column(base.schema.get_field_index("trace_id"), "trace_id", trace)
    table = table.set_column(
        table.schema.get_field_index("project_id"), "project_id", pa.array([project] * table.num_rows, pa.string())
    )
    for name in ("start_time", "end_time"):
        shifted = pc.add(table[name].cast(pa.int64()), shift_ns).cast(table.schema.field(name).type)
        table = table.set_column(table.schema.get_field_index(name), name, shifted)
    return table


async def load(store: Store, spans: int, pool_size: int, seed: int) -> tuple[int, int, float]:
    base, raw = pool(pool_size, seed)
    starts = base["start_time"].cast(pa.int64())
    base_start = pc.min(starts).as_py()
    now = time.time_ns()
    rng = random.Random(seed)
    loaded, n, t0 = 0, 0, time.monotonic()
    while loaded < spans:
        project = PROJECTS[n % len(PROJECTS)]
        # each replica lands at a random moment of the last 30 days (the pool spans a few minutes)
        shift = now - rng.randrange(0, 30 * DAY_NS) - base_start - 3_600 * 10**9
        table = replica(base, n, project, shift)
        if loaded + table.num_rows > spans:
            table = table.slice(0, spans - loaded)
        await store.backend.insert("spans", table)
        loaded += table.num_rows
        n += 1
        if n % 20 == 0:
            print(f"  loaded {loaded:,} spans in {time.monotonic() - t0:.0f} s", flush=True)
    return loaded, raw // base.num_rows, time.monotonic() - t0


async def timed(fn, runs: int) -> dict[str, float]:
    await fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}


async def measure(store: Store, runs: int, seed: int) -> dict[str, object]:
    project = PROJECTS[3]
    rng = random.Random(seed)
    now = time.time_ns()
    ids = [
        r["trace_id"]
        for r in await store.backend.query(
            "SELECT trace_id FROM trace_index WHERE project_id = {p:String} LIMIT 2000", {"p": project}
        )
    ]
    services = [
        r["s"]
        for r in await store.backend.query(
            "SELECT DISTINCT toString(service_name) AS s FROM spans WHERE project_id = {p:String} LIMIT 10",
            {"p": project},
        )
    ]

    async def by_id() -> None:
        spans = await store.reader.trace(project, rng.choice(ids))
        assert spans

    async def trace_list() -> None:
        await store.reader.list_traces(
            project, TraceQuery(now - DAY_NS, now, service=rng.choice(services), has_error=False, limit=50)
        )

    async def cost_series() -> None:
        await store.reader.timeseries(project, now - 30 * DAY_NS, now, 3600, "model")

    step = 3600
    end_s = now // 10**9 // step * step
    steps = [end_s - 7 * 86400 + i * step for i in range(7 * 24 + 1)]

    async def p95_latency() -> None:
        await evaluate(
            store,
            project,
            "histogram_quantile(0.95, sum by (le, model) "
            "(increase(tracehouse_llm_request_duration_seconds_bucket[1h])))",
            steps,
            step,
        )

    return {
        "trace_by_id_no_time_range": await timed(by_id, runs),
        "trace_list_24h_two_filters_first_page": await timed(trace_list, runs),
        "cost_by_model_per_hour_30_days": await timed(cost_series, runs),
        "promql_histogram_quantile_7_days_hourly": await timed(p95_latency, runs),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--pool", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    store = await Store.open(data_dir=args.data_dir)
    report: dict[str, object] = {}
    try:
        if not args.skip_load:
            loaded, raw_per_span, seconds = await load(store, args.spans, args.pool, args.seed)
            report["load"] = {
                "spans": loaded,
                "seconds": round(seconds),
                "spans_per_s": round(loaded / seconds),
                "otlp_bytes_per_span": raw_per_span,
            }
        await store.backend.execute("OPTIMIZE TABLE trace_index FINAL")
        rows = await store.backend.query(
            "SELECT sum(rows) AS rows, sum(bytes_on_disk) AS disk FROM system.parts "
            "WHERE active AND database = currentDatabase() AND table = 'spans'"
        )
        traces = await store.backend.query("SELECT uniqExact(trace_id) AS n FROM trace_index")
        report["store"] = {
            "spans": rows[0]["rows"],
            "traces": traces[0]["n"],
            "disk_bytes_per_span": round(rows[0]["disk"] / max(1, rows[0]["rows"])),
        }
        report["queries"] = await measure(store, args.runs, args.seed)
    finally:
        await store.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
