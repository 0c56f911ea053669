"""Ingest benchmark: acknowledged-and-durable spans/s, time until visible, server memory.

Starts ``tracehouse serve`` on a fresh data directory, replays the seeded workload over
OTLP/HTTP protobuf or OTLP/gRPC with N concurrent senders (each waits for its answer
and retries 503s after Retry-After, as the OTel SDK does), samples how long acked
traces take to be readable through the API, samples the server's RSS, then stops the
server and counts the stored spans against the acked ones.

    python -m bench.ingest --transport http --concurrency 4 --spans 300000
    python -m bench.ingest --transport grpc --concurrency 4 --duration 300   # sustained
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from bench.workload import Batch, Workload

ROOT = Path(__file__).resolve().parent.parent
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass
class Results:
    acked_spans: int = 0
    acked_requests: int = 0
    refused: int = 0
    errors: int = 0
    visible_ms: list[float] = field(default_factory=list)
    rss_mb: list[tuple[float, float, float]] = field(default_factory=list)


async def drive(process: subprocess.Popen[bytes], senders: list[Coroutine[Any, Any, None]]) -> tuple[float, float]:
    """Run the senders against a started server while sampling its RSS, then stop the server
    (SIGTERM, as Ctrl-C would); the seconds they took and the RSS peak in MB."""
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
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    return elapsed, peak


def start_server(data_dir: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
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
        cwd=ROOT,
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
) -> None:
    session = aiohttp.ClientSession() if transport == "http" else None
    channel = grpc.aio.insecure_channel(info["otlp_grpc_address"], options=[("grpc.max_send_message_length", 64 << 20)])
    export = channel.unary_unary(EXPORT)
    url = info["otlp_http_url"] + "/v1/traces"
    try:
        while time.monotonic() < stop_at and results.acked_spans < limit_spans:
            i = next_index[0]
            next_index[0] += 1
            batch = batches[i % len(batches)]
            body, trace_ids = batch.fresh(os.urandom(8)) if i >= len(batches) else (batch.body, batch.trace_ids)
            while True:
                if session is not None:
                    async with session.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}) as r:
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
    info: dict[str, str], acked: asyncio.Queue[tuple[str, float]], results: Results, done: asyncio.Event
) -> None:
    """Every 0.2 s, take the newest acked trace and poll the API until it is readable."""
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
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.2)


async def sample_rss(pid: int, results: Results, done: asyncio.Event, t0: float) -> None:
    while not done.is_set():
        results.rss_mb.append((time.monotonic() - t0, *rss_mb(pid)))
        await asyncio.sleep(1.0)


async def run(args: argparse.Namespace, info: dict[str, str], pid: int, batches: list[Batch]) -> tuple[Results, float]:
    results = Results()
    acked: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    done = asyncio.Event()
    t0 = time.monotonic()
    stop_at = t0 + (args.duration or 1e9)
    limit = args.spans if not args.duration else 1 << 62
    next_index = [0]
    watchers = [
        asyncio.create_task(visibility(info, acked, results, done)),
        asyncio.create_task(sample_rss(pid, results, done, t0)),
    ]
    await asyncio.gather(
        *(
            sender(args.transport, info, batches, next_index, stop_at, limit, results, acked)
            for _ in range(args.concurrency)
        )
    )
    elapsed = time.monotonic() - t0
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


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["http", "grpc"], default="http")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--spans", type=int, default=200_000, help="spans to send (ignored with --duration)")
    parser.add_argument("--duration", type=float, default=0, help="send for this many seconds instead")
    parser.add_argument("--batch", type=int, default=512, help="spans per request (the SDK's default)")
    parser.add_argument(
        "--pool", type=int, default=100_000, help="distinct spans generated, then replayed with fresh trace ids"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    workload = Workload(args.seed)
    batches = list(
        workload.batches(min(args.pool, args.spans) if not args.duration else args.pool, args.batch, time.time_ns())
    )
    span_bytes = sum(len(b.body) for b in batches) / sum(b.spans for b in batches)
    with tempfile.TemporaryDirectory(prefix="tracehouse-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        process, info = start_server(data_dir, [])
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
        "concurrency": args.concurrency,
        "spans_per_request": args.batch,
        "otlp_bytes_per_span": round(span_bytes),
        "seconds": round(elapsed, 1),
        "acked_spans": results.acked_spans,
        "acked_spans_per_s": round(results.acked_spans / elapsed),
        "stored_spans": stored,
        "refused_503": results.refused,
        "errors": results.errors,
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
    print(json.dumps(report, indent=None if args.json else 2))
    if stored != results.acked_spans:
        raise SystemExit(f"LOST OR EXTRA SPANS: acked {results.acked_spans}, stored {stored}")


if __name__ == "__main__":
    main()
