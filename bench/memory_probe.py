"""Where a serving process's memory goes under sustained ingest (issue 19: flat over 15 minutes).

Runs ``tracehouse serve`` in this process on a fresh data directory, sends the seeded workload
with 4 senders from a child process for ``--duration`` seconds, and every 2 s samples this
process's resident memory (all, anonymous), ClickHouse's own tracked memory, the merges under way
(table, parts, memory), ClickHouse's jemalloc (allocated, active, resident, retained), its caches,
glibc's heap (what malloc holds, uses and keeps free), pyarrow's pool, Python's blocks and the spans
stored. Prints each figure's mean over the first and last thirds and its peak, and the spans stored
per second over each; ``--json`` writes every sample.

    python -m bench.memory_probe --duration 360
    MALLOC_ARENA_MAX=2 python -m bench.memory_probe --duration 360   # an allocator setting tried
    python -m bench.memory_probe --duration 900 --tracemalloc 12   # where Python's held bytes grow

``--tracemalloc N`` traces Python's allocations (N frames each; it slows the server) and compares
a snapshot taken a third of the way in with one at the end: the sites whose held bytes grew most.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa

from tracehouse.server import running
from tracehouse.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")
    ]  # fmt: skip


def _glibc() -> dict[str, int]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    m = libc.mallinfo2()
    return {"glibc_heap": m.arena >> 20, "glibc_mmap": m.hblkhd >> 20, "glibc_used": m.uordblks >> 20,
            "glibc_free": m.fordblks >> 20}  # fmt: skip


def _resident() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                out[key] = int(value.split()[0]) >> 10
    return out


# ClickHouse's caches that grow with the data read; each reported in MB as its short name.
_CACHES = {
    "MarkCacheBytes": "mark_cache", "PrimaryIndexCacheBytes": "primary_index_cache",
    "QueryConditionCacheBytes": "condition_cache", "CompiledExpressionCacheBytes": "compiled_cache",
    "IndexMarkCacheBytes": "index_mark_cache", "UncompressedCacheBytes": "uncompressed_cache",
}  # fmt: skip


def _jemalloc(rows: list[dict[str, Any]]) -> dict[str, int]:
    """ClickHouse's jemalloc, all arenas (the first of each figure in malloc_stats_print's text), MB:
    what is allocated, in active pages, resident (dirty pages not yet purged count), and retained."""
    out: dict[str, int] = {}
    for name, value in rows[0]["totals"] if rows else []:
        out.setdefault(f"jemalloc_{name.lower()}", int(value) >> 20)
    return out


_SENDER = """
import asyncio, sys, time
from bench.backup import keep_sending
from bench.workload import Workload
batches = list(Workload(42).batches(60000, 512, time.time_ns() - 3600 * 10**9))
print("ready", flush=True)
async def run():
    stop, acks = asyncio.Event(), []
    task = asyncio.create_task(keep_sending(sys.argv[1], batches, 4, stop, acks))
    await asyncio.sleep(float(sys.argv[2])); stop.set(); await task
    print(sum(a[2] for a in acks), flush=True)
asyncio.run(run())
"""


async def probe(
    duration: float, data_dir: Path, snapshots: list[tracemalloc.Snapshot]
) -> tuple[list[dict[str, Any]], int]:
    """The samples, and the spans acknowledged; with tracemalloc on, snapshots a third of the way in
    and at the end are added to ``snapshots``."""
    settings = load_settings(data_dir=data_dir, api_port=0, otlp_grpc_port=0, otlp_http_port=0)
    async with running(settings, ("api", "receiver")) as live:
        backend = live.store.backend
        sender = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SENDER, live.otlp_http_url + "/v1/traces", str(duration),
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        assert sender.stdout is not None
        await sender.stdout.readline()  # the workload built
        samples: list[dict[str, Any]] = []
        started = time.perf_counter()
        while sender.returncode is None:
            tracked = await backend.query("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'")
            jemalloc = await backend.query(
                r"SELECT extractAllGroups(stats, '(Allocated|active|resident|retained): (\\d+)') AS totals "
                "FROM system.jemalloc_stats"
            )
            caches = await backend.query(
                "SELECT metric, value FROM system.metrics WHERE metric IN {caches:Array(String)}",
                {"caches": list(_CACHES)},
            )
            merges = await backend.query(
                "SELECT table, num_parts, intDiv(memory_usage, 1048576) AS mb FROM system.merges"
            )
            # Spans stored so far (the active parts' rows: the parts' metadata, no data read), for
            # the rate over time: does ingest slow as the store grows?
            stored = await backend.query(
                "SELECT sum(rows) AS n FROM system.parts WHERE database = currentDatabase() AND table = 'spans' "
                "AND active"
            )
            samples.append({
                "t": round(time.perf_counter() - started, 1), **_resident(), **_glibc(),
                "clickhouse": int(tracked[0]["value"]) >> 20 if tracked else 0,
                **{_CACHES[c["metric"]]: int(c["value"]) >> 20 for c in caches},
                **_jemalloc(jemalloc),
                "arrow": pa.total_allocated_bytes() >> 20,  # pyarrow's own pool (mimalloc), live bytes
                "python_blocks": sys.getallocatedblocks(),  # pymalloc's and the objects' blocks in use
                # Every byte Python's allocators hand out (objects and raw buffers), when traced.
                "python_traced": tracemalloc.get_traced_memory()[0] >> 20,
                "merges": [(m["table"], int(m["num_parts"]), int(m["mb"])) for m in merges],
                "spans": int(stored[0]["n"] or 0) if stored else 0,
            })  # fmt: skip
            if tracemalloc.is_tracing() and not snapshots and time.perf_counter() - started >= duration / 3:
                snapshots.append(tracemalloc.take_snapshot())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sender.wait(), 2)
        if tracemalloc.is_tracing():
            snapshots.append(tracemalloc.take_snapshot())
        acked = int((await sender.stdout.read()).decode().strip().splitlines()[-1])
        samples[-1]["python_objects"] = len(gc.get_objects())
    return samples, acked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=360, help="seconds of sending")
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--tracemalloc", type=int, metavar="FRAMES", help="trace Python's allocations")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tracehouse-memory-"))
    snapshots: list[tracemalloc.Snapshot] = []
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    try:
        samples, acked = asyncio.run(probe(args.duration, data_dir, snapshots))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    third = max(1, len(samples) // 3)
    print(f"{acked:,} spans acknowledged in {args.duration:g} s, {len(samples)} samples (MB):")
    print(f"{'':19} {'first third':>12} {'last third':>11} {'peak':>6}")
    jemalloc = ("jemalloc_allocated", "jemalloc_active", "jemalloc_resident", "jemalloc_retained")
    traced = ("python_traced",) if snapshots else ()
    for key in ("VmRSS", "RssAnon", "clickhouse", *jemalloc, "glibc_heap", "glibc_used", "glibc_free", "arrow",
                *traced, *_CACHES.values()):  # fmt: skip
        first = sum(s.get(key, 0) for s in samples[:third]) / third
        last = sum(s.get(key, 0) for s in samples[-third:]) / third
        print(f"{key:19} {first:12.0f} {last:11.0f} {max(s.get(key, 0) for s in samples):6d}")
    for name, part in (("first", samples[: third + 1]), ("last", samples[-third - 1 :])):
        seconds = part[-1]["t"] - part[0]["t"]
        rate = (part[-1]["spans"] - part[0]["spans"]) / seconds if seconds else 0
        print(f"spans stored per second over the {name} third: {rate:,.0f}")
    blocks = [s["python_blocks"] for s in samples]
    print(f"Python's allocated blocks: {blocks[len(blocks) // 3]:,} at a third, {blocks[-1]:,} at the end")
    biggest = max((m for s in samples for m in s["merges"]), key=lambda m: m[2], default=None)
    if biggest:
        print(f"largest merge seen: {biggest[0]}, {biggest[1]} parts, {biggest[2]} MB")
    if len(snapshots) == 2:
        _growth(*snapshots)
    if args.json:
        args.json.write_text(json.dumps(samples))


def _growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int = 15) -> None:
    """Python's held bytes then and at the end, and the sites (whole tracebacks) that grew most."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(ignore), after.filter_traces(ignore)
    total = [sum(s.size for s in snap.statistics("filename")) >> 20 for snap in (before, after)]
    print(f"Python's traced bytes: {total[0]} MB at a third, {total[1]} MB at the end; grew most:")
    grown = sorted(after.compare_to(before, "traceback"), key=lambda stat: stat.size_diff, reverse=True)
    for stat in grown[:top]:
        print(f"  {stat.size_diff / 2**20:+7.2f} MB ({stat.size / 2**20:6.2f} now, {stat.count_diff:+,} blocks)")
        for line in stat.traceback.format(limit=6, most_recent_first=True):
            print(f"      {line.strip()}")


if __name__ == "__main__":
    main()
