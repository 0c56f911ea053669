"""A backup of the embedded store while it serves, as its users feel it.

Loads the seeded GenAI workload (``--spans``, default the 112k of ``bench.peer``) into
``tracehouse serve``, then keeps ``--concurrency`` senders exporting fresh copies of it while
``tracehouse backup`` runs, and reports:

- the backup's wall time and size, beside the data directory's;
- how long exports took to be acknowledged before, during and after the backup (p50 / p99 / max:
  inserts wait while ClickHouse copies the database; exports are acknowledged into the
  write-ahead log meanwhile, up to its bound);
- ``tracehouse restore``'s time, and that the restored store holds every span acknowledged
  before the backup began, once;
- then a second backup on the first (``--base``: only what changed since), while the senders go
  on: its time and size, and that its restore (through the first) holds every span acknowledged
  before it began, once.

    python -m bench.backup [--spans 112000] [--concurrency 4] [--history-days 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.ingest import percentile, start_server
from bench.peer import disk_bytes, post_until_acked, send_all
from bench.workload import Batch, Workload

ROOT = Path(__file__).resolve().parent.parent
Ack = tuple[float, float, int, list[str]]  # sent, answered (perf_counter s), spans, trace ids


def cli(*args: str) -> tuple[float, str]:
    """Run ``tracehouse ARGS``; its wall time and what it printed."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tracehouse", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tracehouse {args[0]} failed: {done.stderr}")
    return time.perf_counter() - started, done.stdout


async def keep_sending(url: str, batches: list[Batch], concurrency: int, stop: asyncio.Event, acks: list[Ack]) -> None:
    """Fresh copies of the workload's requests, round and round, until ``stop``; each ack noted."""
    turn = iter(range(1 << 62))
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            while not stop.is_set():
                batch = batches[next(turn) % len(batches)]
                body, traces = batch.fresh(os.urandom(len(batch.salt)))
                sent = time.perf_counter()
                await post_until_acked(session, url, body)
                acks.append((sent, time.perf_counter(), batch.spans, traces))

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def latencies(acks: list[Ack], lo: float, hi: float) -> dict[str, float]:
    """Ack latency (ms) of the requests sent in [lo, hi)."""
    values = [(answered - sent) * 1000 for sent, answered, _, _ in acks if lo <= sent < hi]
    if not values:
        return {"requests": 0}
    return {
        "requests": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(max(values), 1),
    }


async def stored_traces(data_dir: Path, traces: list[str]) -> tuple[int, int, int]:
    """Spans stored, distinct spans, and how many of ``traces`` have spans, in a stopped store."""
    sys.path.insert(0, str(ROOT))
    from storage import Store

    async with await Store.open(data_dir=data_dir) as store:
        spans = await store.backend.query("SELECT count() AS n, uniqExact(trace_id, span_id) AS u FROM spans")
        found = await store.backend.query(
            "SELECT uniqExact(trace_id) AS n FROM spans WHERE trace_id IN {ids:Array(String)}", {"ids": traces}
        )
    return int(spans[0]["n"]), int(spans[0]["u"]), int(found[0]["n"])


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    now = time.time_ns()
    workload = Workload(args.seed)
    if args.history_days:
        # The store a team has after a while: the load spread over past days (settled parts), the
        # senders' traffic today, as a daily backup on a base meets it.
        per_day = args.spans // args.history_days
        history = [
            b for d in range(args.history_days, 0, -1) for b in workload.batches(per_day, 512, now - d * 86_400 * 10**9)
        ]
        batches = list(workload.batches(min(args.spans, 20_000), 512, now - 600 * 10**9))
    else:
        history = batches = list(workload.batches(args.spans, 512, now - 3600 * 10**9))
    data, dest, restored = tmp / "data", tmp / "backup", tmp / "restored"
    since, restored_since = tmp / "since", tmp / "restored-since"
    process, info = start_server(data, [])
    url = info["otlp_http_url"] + "/v1/traces"
    acks: list[Ack] = []
    try:
        await send_all(url, history, args.concurrency)  # the store as it stands
        if args.history_days:
            await asyncio.sleep(30)  # the past days' parts merged, as they are after a while
        stop = asyncio.Event()
        sending = asyncio.create_task(keep_sending(url, batches, args.concurrency, stop, acks))
        await asyncio.sleep(args.lead_s)
        began = time.perf_counter()
        took, out = await asyncio.to_thread(cli, "backup", "--data-dir", str(data), "--to", str(dest))
        ended = time.perf_counter()
        await asyncio.sleep(args.lead_s)
        began_since = time.perf_counter()
        took_since, _ = await asyncio.to_thread(
            cli, "backup", "--data-dir", str(data), "--to", str(since), "--base", str(dest)
        )
        ended_since = time.perf_counter()
        await asyncio.sleep(args.lead_s)
        stop.set()
        await sending
    finally:
        process.terminate()
        process.wait(60)
    data_bytes = disk_bytes(data)
    manifest = json.loads((dest / "tracehouse-backup.json").read_text())
    restore_s, _ = await asyncio.to_thread(cli, "restore", "--from", str(dest), "--data-dir", str(restored))
    # The restored store as a server leaves it: the log's spans inserted, then stopped.
    process, _ = start_server(restored, [])
    process.terminate()
    process.wait(60)
    before = [t for sent, answered, _, traces in acks if answered < began for t in traces]
    spans, distinct, found = await stored_traces(restored, before)
    restore_since_s, _ = await asyncio.to_thread(
        cli, "restore", "--from", str(since), "--data-dir", str(restored_since)
    )
    process, _ = start_server(restored_since, [])
    process.terminate()
    process.wait(60)
    before_since = [t for sent, answered, _, traces in acks if answered < began_since for t in traces]
    spans_since, distinct_since, found_since = await stored_traces(restored_since, before_since)
    original = sum(b.spans for b in history)
    return {
        "workload": {"spans_loaded": original, "history_days": args.history_days, "concurrency": args.concurrency},
        "backup": {
            "command_s": round(took, 2),
            "bytes": disk_bytes(dest),
            "data_dir_bytes": data_bytes,
            "schema_version": manifest["schema_version"],
        },
        "acks": {
            "before": latencies(acks, 0, began),
            "during": latencies(acks, began, ended),
            "after": latencies(acks, ended, began_since),
            "during_the_second": latencies(acks, began_since, ended_since),
        },
        "restore": {
            "command_s": round(restore_s, 2),
            "spans": spans,
            "distinct_spans": distinct,
            "traces_acked_before_the_backup": len(set(before)),
            "of_them_restored": found,
        },
        "second_backup_on_the_first": {
            "command_s": round(took_since, 2),
            "bytes": disk_bytes(since),
            "restore_command_s": round(restore_since_s, 2),
            "spans": spans_since,
            "distinct_spans": distinct_since,
            "traces_acked_before_it": len(set(before_since)),
            "of_them_restored": found_since,
        },
        "backup_stdout": out.strip().splitlines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=112_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--lead-s", type=float, default=3.0, help="seconds of sending before and after the backup")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="load the spans over this many past days, send today's (0: the last hour)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracehouse-backup-") as tmp:
        print(json.dumps(asyncio.run(run(args, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
