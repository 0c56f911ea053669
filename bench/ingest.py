"""Ingest benchmark: acknowledged-and-durable spans/s, time until visible, server memory.

Starts ``tracehouse serve`` on a fresh data directory, replays the seeded workload over
OTLP/HTTP protobuf or OTLP/gRPC with N concurrent senders (each waits for its answer
and retries 503s after Retry-After, as the OTel SDK does), samples how long acked
traces take to be readable through the API, samples the server's RSS, then stops the
server and counts the stored spans against the acked ones.

    python -m bench.ingest --transport http --concurrency 4 --spans 300000
    python -m bench.ingest --transport grpc --concurrency 4 --duration 300   # sustained
    python -m bench.ingest --concurrency 4 --baseline main --rounds 2      # old code vs this, alternating
                                                                            # (each compiled before its run)
    python -m bench.ingest --concurrency 4 --spans 100000 --compression zstd   # bodies as the Collector packs them
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import zstandard

from bench.workload import Batch, Workload

ROOT = Path(__file__).resolve().parent.parent
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# OTLP/HTTP's Content-Encodings: the SDKs' gzip and deflate, and the Collector's zstd (its default levels).
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@dataclass
class Results:
    acked_spans: int = 0
    acked_requests: int = 0
    refused: int = 0
    errors: int = 0
    visible_ms: list[float] = field(default_factory=list)
    rss_mb: list[tuple[float, float, float]] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    threads_start: dict[str, float] = field(default_factory=dict)
    threads: dict[str, float] = field(default_factory=dict)
    insert_rows: tuple[int, float] = (0, 0.0)


async def drive(
    process: subprocess.Popen[bytes], senders: list[Coroutine[Any, Any, None]], stop: bool = True
) -> tuple[float, float]:
    """Run the senders against a started server while sampling its RSS, then stop the server
    (SIGTERM, as Ctrl-C would) unless not ``stop``; the seconds they took and the RSS peak in MB."""
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(process.pid)[0])
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    await asyncio.gather(*senders)
    elapsed = time.perf_counter() - t0
    sampler.cancel()
    if stop:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    return elapsed, peak


async def stored_rows(data_dir: Path, *tables: str) -> list[int]:
    """Each table's row count once merged (FINAL), from the stopped server's data directory."""
    from storage import Store

    store = await Store.open(data_dir=data_dir)
    try:
        return [
            int((await store.backend.query(f"SELECT count() AS n FROM (SELECT 1 FROM {table} FINAL)"))[0]["n"])
            for table in tables
        ]
    finally:
        await store.close()


def start_server(data_dir: Path, extra: list[str], root: Path = ROOT) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    log = open(data_dir.parent / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracehouse",
            "serve",
            "--data-dir",
            str(data_dir),
            "--api-port",
            "0",
            "--otlp-http-port",
            "0",
            "--otlp-grpc-port",
            "0",
            "--log-level",
            "warning",
            *extra,
        ],
        cwd=root,  # `-m tracehouse` runs the code of this checkout (a baseline's worktree)
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    runtime = data_dir / "server.json"
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"server exited: {(data_dir.parent / 'serve.log').read_text()}")
        if runtime.exists():
            info = json.loads(runtime.read_text())
            if info.get("pid") == process.pid:
                return process, info
        time.sleep(0.1)
    raise SystemExit("server did not start")


def stat_cpu(stat: str) -> float:
    """User + system CPU seconds in the text of a /proc/<pid>/stat (or a thread's) file."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all its threads)."""
    return stat_cpu(Path(f"/proc/{pid}/stat").read_text())


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds by thread name (ClickHouse names its pools; Python's threads show as python)."""
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        by_name[name] = by_name.get(name, 0.0) + stat_cpu(stat)
    return by_name


def rss_mb(pid: int) -> tuple[float, float]:
    """(RSS, anonymous RSS) in MB. RSS includes the pages of the ~500 MB chDB library that are
    mapped from disk; anonymous memory is what the server allocated."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("RssAnon", 0.0)


async def sender(
    transport: str,
    info: dict[str, str],
    batches: list[Batch],
    next_index: list[int],
    stop_at: float,
    limit_spans: int,
    results: Results,
    acked: asyncio.Queue[tuple[str, float]],
    packed: list[bytes] | None = None,
    encoding: str = "none",
) -> None:
    """Send batches until the limit, each waiting for its answer; ``packed``: the batches' bodies
    compressed ahead (``encoding``), those replayed with fresh trace ids compressed as they go."""
    session = aiohttp.ClientSession() if transport == "http" else None
    headers = {"Content-Type": "application/x-protobuf"}
    if encoding != "none":
        headers["Content-Encoding"] = encoding
    channel = grpc.aio.insecure_channel(info["otlp_grpc_address"], options=[("grpc.max_send_message_length", 64 << 20)])
    export = channel.unary_unary(EXPORT)
    url = info["otlp_http_url"] + "/v1/traces"
    try:
        while time.monotonic() < stop_at and results.acked_spans < limit_spans:
            i = next_index[0]
            next_index[0] += 1
            batch = batches[i % len(batches)]
            body, trace_ids = batch.fresh(os.urandom(8)) if i >= len(batches) else (batch.body, batch.trace_ids)
            if encoding != "none":
                body = packed[i] if packed is not None and i < len(batches) else COMPRESSORS[encoding](body)
            while True:
                if session is not None:
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()
                        status, retry = r.status, float(r.headers.get("Retry-After", "1"))
                    ok, busy = status == 200, status in (429, 503)
                else:
                    try:
                        await export(body, timeout=60)
                        ok, busy, retry = True, False, 0.0
                    except grpc.aio.AioRpcError as exc:
                        ok, busy, retry = False, exc.code() == grpc.StatusCode.UNAVAILABLE, 1.0
                if ok:
                    results.acked_spans += batch.spans
                    results.acked_requests += 1
                    acked.put_nowait((trace_ids[-1], time.monotonic()))
                    break
                if busy:
                    results.refused += 1
                    await asyncio.sleep(min(retry, 1.0))
                    continue
                results.errors += 1
                break
    finally:
        if session is not None:
            await session.close()
        await channel.close()


async def visibility(
    info: dict[str, str],
    acked: asyncio.Queue[tuple[str, float]],
    results: Results,
    done: asyncio.Event,
    poll_s: float,
) -> None:
    """Every 0.2 s, take the newest acked trace and poll the API every ``poll_s`` until it is
    readable. (Each poll is a read the server pays for, counted in its CPU.)"""
    async with aiohttp.ClientSession() as session:
        while not done.is_set() or not acked.empty():
            item = None
            while not acked.empty():
                item = acked.get_nowait()
            if item is None:
                await asyncio.sleep(0.05)
                continue
            trace_id, acked_at = item
            while True:
                async with session.get(f"{info['api_url']}/api/v1/traces/{trace_id}") as r:
                    await r.read()
                    if r.status == 200:
                        results.visible_ms.append((time.monotonic() - acked_at) * 1000)
                        break
                await asyncio.sleep(poll_s)
            await asyncio.sleep(0.2)


async def sample_rss(pid: int, results: Results, done: asyncio.Event, t0: float) -> None:
    while not done.is_set():
        results.rss_mb.append((time.monotonic() - t0, *rss_mb(pid)))
        await asyncio.sleep(1.0)


async def run(args: argparse.Namespace, info: dict[str, str], pid: int, batches: list[Batch]) -> tuple[Results, float]:
    results = Results()
    acked: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    done = asyncio.Event()
    encoding = args.compression if args.transport == "http" else "none"
    # Compressed before the clock starts: the client's work is not the server's.
    packed = [COMPRESSORS[encoding](b.body) for b in batches] if encoding != "none" else None
    t0 = time.monotonic()
    stop_at = t0 + (args.duration or 1e9)
    limit = args.spans if not args.duration else 1 << 62
    next_index = [0]
    results.cpu_start = cpu_seconds(pid)
    results.threads_start = cpu_by_thread(pid)
    watchers = [
        asyncio.create_task(visibility(info, acked, results, done, args.poll_ms / 1000)),
        asyncio.create_task(sample_rss(pid, results, done, t0)),
    ]
    await asyncio.gather(
        *(
            sender(args.transport, info, batches, next_index, stop_at, limit, results, acked, packed, encoding)
            for _ in range(args.concurrency)
        )
    )
    elapsed = time.monotonic() - t0
    results.cpu_end = cpu_seconds(pid)
    results.insert_rows = await insert_rows(info)
    threads_end = cpu_by_thread(pid)
    results.threads = {
        name: round(seconds - results.threads_start.get(name, 0.0), 2)
        for name, seconds in sorted(threads_end.items(), key=lambda kv: -kv[1])
        if seconds - results.threads_start.get(name, 0.0) >= 0.05
    }
    done.set()
    await asyncio.gather(*watchers)
    return results, elapsed


def count_stored(data_dir: Path) -> int:
    code = (
        "import asyncio, sys\n"
        "from storage import Store\n"
        "async def main():\n"
        f"    s = await Store.open(data_dir={str(data_dir)!r})\n"
        "    r = await s.backend.query('SELECT count() AS n FROM spans')\n"
        "    print(r[0]['n'])\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


async def insert_rows(info: dict[str, str]) -> tuple[int, float]:
    """Inserts so far and their mean rows, from the server's /metrics (every lane together)."""
    async with aiohttp.ClientSession() as session, session.get(f"{info['api_url']}/metrics") as r:
        text = await r.text()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("tracehouse_store_insert_rows_sum", "tracehouse_store_insert_rows_count"):
            values[name] = float(value)
    count = int(values.get("tracehouse_store_insert_rows_count", 0))
    return count, values.get("tracehouse_store_insert_rows_sum", 0.0) / max(count, 1)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["http", "grpc"], default="http")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--compression", choices=["none", *COMPRESSORS], default="none", help="Content-Encoding of the HTTP bodies"
    )
    parser.add_argument("--spans", type=int, default=200_000, help="spans to send (ignored with --duration)")
    parser.add_argument("--duration", type=float, default=0, help="send for this many seconds instead")
    parser.add_argument("--batch", type=int, default=512, help="spans per request (the SDK's default)")
    parser.add_argument(
        "--pool", type=int, default=100_000, help="distinct spans generated, then replayed with fresh trace ids"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--poll-ms", type=float, default=20, help="how often a sampled trace is read until visible (server CPU)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--baseline", help="a git revision to run side by side with this checkout (alternating)")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/this-checkout pairs with --baseline")
    args = parser.parse_args()

    workload = Workload(args.seed)
    batches = list(
        workload.batches(min(args.pool, args.spans) if not args.duration else args.pool, args.batch, time.time_ns())
    )
    if not args.baseline:
        report = one_run(args, batches, ROOT)
        print(json.dumps(report, indent=None if args.json else 2))
        if report["stored_spans"] != report["acked_spans"]:
            raise SystemExit(f"LOST OR EXTRA SPANS: acked {report['acked_spans']}, stored {report['stored_spans']}")
        return
    # Side by side: the baseline's code and this checkout's, alternating, on the same workload.
    with tempfile.TemporaryDirectory(prefix="tracehouse-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), args.baseline], cwd=ROOT, check=True)
        try:
            runs: list[tuple[str, dict[str, Any]]] = []
            for _ in range(args.rounds):
                for label, root in ((args.baseline, tree), ("this checkout", ROOT)):
                    compile_decoder(root)
                    report = one_run(args, batches, root)
                    runs.append((label, report))
                    print(json.dumps({"code": label, **report}), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
            compile_decoder(ROOT)  # leave this checkout's build in place
    print(
        "\n| Code | acked spans/s | server CPU µs/span | spans per CPU s | rows per insert "
        "| visible p50 / p99 ms | RSS peak MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in runs:
        v = r["visible_after_ack_ms"]
        print(
            f"| {label} | {r['acked_spans_per_s']:,} | {r['server_cpu_us_per_span']} | "
            f"{r['spans_per_server_cpu_s']:,} | {r['rows_per_insert']:,} | {v['p50']} / {v['p99']} "
            f"| {r['server_rss_mb']['peak']} |"
        )
    lost = [(label, r) for label, r in runs if r["stored_spans"] != r["acked_spans"]]
    if lost:
        raise SystemExit(f"LOST OR EXTRA SPANS in {[label for label, _ in lost]}")


def compile_decoder(root: Path) -> None:
    """Build the compiled span decoder of the code in ``root``: the build matches one tree's
    sources, and a server whose sources differ runs the pure-Python decoder, which made a
    baseline look 16-25 µs per span slower than it is (docs/benchmarks.md, stop 54)."""
    # A baseline from before the compiled decoder has no such command: it runs as it shipped.
    subprocess.run([sys.executable, "-m", "tracehouse", "compile"], cwd=root, check=False, capture_output=True)


def one_run(args: argparse.Namespace, batches: list[Batch], root: Path) -> dict[str, Any]:
    """Serve the code in ``root`` on a fresh data directory, replay the workload, report."""
    span_bytes = sum(len(b.body) for b in batches) / sum(b.spans for b in batches)
    sent_bytes = span_bytes
    if args.compression != "none" and args.transport == "http":
        sent_bytes = sum(len(COMPRESSORS[args.compression](b.body)) for b in batches) / sum(b.spans for b in batches)
    with tempfile.TemporaryDirectory(prefix="tracehouse-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        process, info = start_server(data_dir, [], root)
        try:
            results, elapsed = asyncio.run(run(args, info, process.pid, batches))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
        stored = count_stored(data_dir)
        disk = sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file())
    rss = [m for _, m, _ in results.rss_mb]
    anon = [a for _, _, a in results.rss_mb]
    third = max(1, len(rss) // 3)
    report = {
        "transport": args.transport,
        "compression": args.compression if args.transport == "http" else "none",
        "concurrency": args.concurrency,
        "spans_per_request": args.batch,
        "otlp_bytes_per_span": round(span_bytes),
        "sent_bytes_per_span": round(sent_bytes),
        "seconds": round(elapsed, 1),
        "acked_spans": results.acked_spans,
        "acked_spans_per_s": round(results.acked_spans / elapsed),
        "stored_spans": stored,
        "refused_503": results.refused,
        "errors": results.errors,
        "server_cpu_s": round(results.cpu_end - results.cpu_start, 1),
        "server_cpu_us_per_span": round((results.cpu_end - results.cpu_start) * 1e6 / max(results.acked_spans, 1)),
        "spans_per_server_cpu_s": round(results.acked_spans / max(results.cpu_end - results.cpu_start, 1e-9)),
        "server_cpu_s_by_thread": results.threads,
        "inserts": results.insert_rows[0],
        "rows_per_insert": round(results.insert_rows[1]),
        "visible_after_ack_ms": {
            "n": len(results.visible_ms),
            "p50": round(percentile(results.visible_ms, 50), 1),
            "p99": round(percentile(results.visible_ms, 99), 1),
            "max": round(max(results.visible_ms, default=float("nan")), 1),
        },
        "server_rss_mb": {
            "peak": round(max(rss, default=0)),
            "first_third_mean": round(statistics.mean(rss[:third])) if rss else 0,
            "last_third_mean": round(statistics.mean(rss[-third:])) if rss else 0,
        },
        "server_anon_rss_mb": {
            "peak": round(max(anon, default=0)),
            "first_third_mean": round(statistics.mean(anon[:third])) if anon else 0,
            "last_third_mean": round(statistics.mean(anon[-third:])) if anon else 0,
        },
        "disk_bytes_per_span": round(disk / max(stored, 1)),
    }
    return report


if __name__ == "__main__":
    main()
