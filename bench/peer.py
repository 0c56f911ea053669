"""Tracehouse side by side with Arize Phoenix, on this machine, with the same seeded workload.

Installs Phoenix from PyPI into its own virtualenv (``--phoenix-venv``, made on first use; never
a test dependency), then runs the same OTLP/HTTP protobuf requests (same trace ids, same span
times) against ``tracehouse serve`` and against ``phoenix serve``, one after the other:

- durable end to end: the first request until every span is stored (Tracehouse acks only what
  is committed; Phoenix acks at once and writes later, so its clock stops when its store counts
  every span);
- visible lag: after the last ack, until the last trace is readable through the REST API;
- RSS peak and server CPU seconds (the server's process tree) per span, disk bytes per span;
- read latencies, p50/p95 over the same trace ids and windows: a trace by id, the newest 50
  traces, and 50 traces of a window inside the workload.

Phoenix writes to SQLite at about a hundred spans a second, so the default workload is small
(``--spans 11200``, about 2,000 traces); the output says how many spans each system got.

    python -m bench.peer                       # both, about 2,000 traces
    python -m bench.peer --skip-phoenix        # Tracehouse alone (any size)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp

from bench.ingest import cpu_seconds, percentile, rss_mb, start_server
from bench.workload import Batch, Workload

PHOENIX_VERSION = "20.26.1"
PB = {"Content-Type": "application/x-protobuf"}


class Plan(NamedTuple):
    """What both systems get: the requests, their span count, the sampled trace ids, the window
    inside the workload (ns), the options and a scratch directory."""

    batches: list[Batch]
    spans: int
    sample: list[str]
    window: tuple[int, int]
    args: argparse.Namespace
    tmp: Path


@dataclass
class Report:
    system: str
    spans: int = 0
    end_to_end_s: float = 0.0
    visible_lag_ms: float = 0.0
    rss_peak_mb: float = 0.0
    rss_peak_anon_mb: float = 0.0
    cpu_s: float = 0.0
    disk_bytes: int = 0
    reads_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        per_span = max(1, self.spans)
        return {
            "system": self.system,
            "spans": self.spans,
            "durable_end_to_end_s": round(self.end_to_end_s, 2),
            "spans_per_s": round(self.spans / self.end_to_end_s) if self.end_to_end_s else None,
            "visible_lag_ms": round(self.visible_lag_ms, 1),
            "rss_peak_mb": round(self.rss_peak_mb),
            "rss_peak_anonymous_mb": round(self.rss_peak_anon_mb),
            "cpu_us_per_span": round(self.cpu_s / per_span * 1e6),
            "disk_bytes_per_span": round(self.disk_bytes / per_span),
            "reads_ms": self.reads_ms,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_and_rss(pid: int) -> tuple[float, float, float]:
    """CPU seconds, RSS in MB, and the anonymous part of that RSS in MB, of a process tree."""
    cpu, rss, anon = 0.0, 0.0, 0.0
    for p in tree(pid):
        try:
            cpu += cpu_seconds(p)
            p_rss, p_anon = rss_mb(p)
        except OSError:
            continue
        rss += p_rss
        anon += p_anon
    return cpu, rss, anon


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def post_until_acked(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    """One OTLP request, sent again on 429/503 after the hinted delay (at most a second)."""
    while True:
        async with session.post(url, data=body, headers=PB) as r:
            await r.read()
            if r.status == 200:
                return
            if r.status not in (429, 503):
                raise SystemExit(f"{url} answered {r.status}")
            await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 1.0))


async def send_all(url: str, batches: list[Batch], concurrency: int) -> None:
    """Every request, by ``concurrency`` senders, each retrying 429/503 after the hinted delay."""
    queue = list(reversed(batches))
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            while queue:
                await post_until_acked(session, url, queue.pop().body)

        await asyncio.gather(*(sender() for _ in range(concurrency)))


async def timed_reads(
    session: aiohttp.ClientSession,
    urls: list[str],
    runs: int,
    headers: dict[str, str] | None = None,
    warm: bool = True,
) -> dict[str, float]:
    """p50 / p95 in ms of ``runs`` rounds of GETs of every URL, after one warm-up (unless not ``warm``)."""
    times = []
    for url in urls[:1] if warm else []:
        async with session.get(url, headers=headers) as r:
            await r.read()
    for _ in range(runs):
        for url in urls:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise SystemExit(f"{url} answered {r.status}")
            times.append((time.perf_counter() - started) * 1000)
    return {"p50": round(statistics.median(times), 1), "p95": round(percentile(times, 95), 1)}


async def sampled(pid: int, work: Any) -> tuple[Any, tuple[float, float]]:
    """Run ``work`` while sampling the process tree's RSS; its result, and the RSS peak with its
    anonymous part (the rest is file pages: libraries' code and data)."""
    peak = (0.0, 0.0)

    async def sample() -> None:
        nonlocal peak
        while True:
            _, rss, anon = cpu_and_rss(pid)
            peak = max(peak, (rss, anon))
            await asyncio.sleep(0.2)

    task = asyncio.create_task(sample())
    try:
        return await work, peak
    finally:
        task.cancel()


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns / 1e9)) + f".{ns % 10**9 // 1000:06d}Z"


async def run_tracehouse(plan: Plan) -> Report:
    batches, spans, sample, window, args, tmp = plan
    report = Report("tracehouse", spans=spans)
    process, info = start_server(tmp / "tracehouse-data", [])
    try:
        cpu0 = cpu_and_rss(process.pid)[0]
        started = time.perf_counter()
        _, peak = await sampled(process.pid, send_all(info["otlp_http_url"] + "/v1/traces", batches, args.concurrency))
        report.end_to_end_s = time.perf_counter() - started  # every span acked is committed
        async with aiohttp.ClientSession() as session:
            last = batches[-1].trace_ids[-1]
            while True:
                async with session.get(f"{info['api_url']}/api/v1/traces/{last}") as r:
                    await r.read()
                    if r.status == 200:
                        break
                await asyncio.sleep(0.005)
            report.visible_lag_ms = (time.perf_counter() - started - report.end_to_end_s) * 1000
            report.cpu_s = cpu_and_rss(process.pid)[0] - cpu0
            report.rss_peak_mb, report.rss_peak_anon_mb = peak
            api = info["api_url"] + "/api/v1/traces"
            lo, hi = window
            newest = f"{api}?limit=50&start=2000-01-01T00:00:00Z"
            ui_list = newest + "&preview=false"  # what the UI's list asks for: no input/output previews
            inside = f"{api}?limit=50&start={iso(lo)}&end={iso(hi)}"
            report.reads_ms = {
                "trace_by_id": await timed_reads(session, [f"{api}/{t}" for t in sample], args.runs),
                "list_50_newest": await timed_reads(session, [newest], args.runs * 10),
                "list_50_window": await timed_reads(session, [inside], args.runs * 10),
                "ui_list_50_newest": await timed_reads(session, [ui_list], args.runs * 10),
                "ui_list_50_window": await timed_reads(session, [inside + "&preview=false"], args.runs * 10),
            }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    report.disk_bytes = disk_bytes(tmp / "tracehouse-data")
    return report


def phoenix_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "phoenix").exists():
        print(f"installing arize-phoenix=={PHOENIX_VERSION} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"arize-phoenix=={PHOENIX_VERSION}"], check=True)
    return python


async def phoenix_count(session: aiohttp.ClientSession, base: str) -> int:
    query = {"query": "{ projects { edges { node { name recordCount } } } }"}
    async with session.post(base + "/graphql", json=query) as r:
        doc = await r.json()
    return sum(e["node"]["recordCount"] for e in doc["data"]["projects"]["edges"])


def start_phoenix(venv: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``phoenix serve`` on free ports, its store (SQLite) in ``tmp/phoenix-data``."""
    phoenix_python(venv)
    port, grpc_port = free_port(), free_port()
    work = tmp / "phoenix-data"
    work.mkdir()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(work), "PHOENIX_PORT": str(port), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_GRPC_PORT": str(grpc_port), "PHOENIX_TELEMETRY_ENABLED": "false"}  # fmt: skip
    log = open(tmp / "phoenix.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen([str(venv / "bin" / "phoenix"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


async def run_phoenix(process: subprocess.Popen[bytes], base: str, plan: Plan) -> Report:
    batches, spans, sample, window, args, tmp = plan
    report = Report("phoenix " + PHOENIX_VERSION, spans=spans)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.poll() is not None:
                    raise SystemExit(f"phoenix exited: {(tmp / 'phoenix.log').read_text()[-2000:]}")
                await asyncio.sleep(0.2)
            cpu0 = cpu_and_rss(process.pid)[0]
            started = time.perf_counter()

            async def ingest() -> float:
                await send_all(base + "/v1/traces", batches, args.concurrency)
                acked = time.perf_counter()
                # Polling a remote store: stored in SQLite, where Phoenix reads from.
                while await phoenix_count(session, base) < spans:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                return acked

            acked, peak = await sampled(process.pid, ingest())
            report.end_to_end_s = time.perf_counter() - started
            last = batches[-1].trace_ids[-1]
            spans_api = base + "/v1/projects/default/spans"
            while True:
                async with session.get(spans_api, params={"trace_id": last}) as r:
                    if r.status == 200 and (await r.json())["data"]:
                        break
                await asyncio.sleep(0.005)
            report.visible_lag_ms = (time.perf_counter() - acked) * 1000
            report.cpu_s = cpu_and_rss(process.pid)[0] - cpu0
            report.rss_peak_mb, report.rss_peak_anon_mb = peak
            lo, hi = window
            traces = base + "/v1/projects/default/traces"
            by_id = [f"{spans_api}?trace_id={t}&limit=1000" for t in sample]
            inside = f"{traces}?limit=50&start_time={iso(lo)}&end_time={iso(hi)}"
            report.reads_ms = {
                "trace_by_id": await timed_reads(session, by_id, args.runs),
                "list_50_newest": await timed_reads(session, [f"{traces}?limit=50"], args.runs * 10),
                "list_50_window": await timed_reads(session, [inside], args.runs * 10),
            }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    report.disk_bytes = disk_bytes(tmp / "phoenix-data")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=11_200, help="about 2,000 traces")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="reads of each sampled trace")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--phoenix-venv", default=str(Path(tempfile.gettempdir()) / "tracehouse-peer-phoenix"))
    parser.add_argument("--skip-phoenix", action="store_true")
    args = parser.parse_args()
    start_ns = time.time_ns() - 3600 * 10**9
    batches = list(Workload(args.seed).batches(args.spans, 512, start_ns))
    spans = sum(b.spans for b in batches)
    traces = [t for b in batches for t in b.trace_ids]
    sample = traces[:: max(1, len(traces) // 50)][:50]
    # Traces are 2 ms apart: the window is the middle half of the workload's time.
    end_ns = start_ns + 2_000_000 * len(traces)
    window = (start_ns + (end_ns - start_ns) // 4, end_ns - (end_ns - start_ns) // 4)
    reports = []
    with tempfile.TemporaryDirectory(prefix="tracehouse-peer-") as tmp:
        plan = Plan(batches, spans, sample, window, args, Path(tmp))
        reports.append(asyncio.run(run_tracehouse(plan)))
        if not args.skip_phoenix:
            process, base = start_phoenix(Path(args.phoenix_venv), Path(tmp))
            reports.append(asyncio.run(run_phoenix(process, base, plan)))
    out: dict[str, Any] = {
        "workload": {
            "spans": spans,
            "traces": len(traces),
            "requests": len(batches),
            "otlp_bytes": sum(len(b.body) for b in batches),
            "concurrency": args.concurrency,
        },
        "systems": [r.summary() for r in reports],
    }
    if len(reports) == 2:
        th, px = (r.summary() for r in reports)
        ratio = lambda a, b: round(a / b, 2) if a and b else None  # noqa: E731
        out["phoenix_over_tracehouse"] = {
            "durable_end_to_end": ratio(px["durable_end_to_end_s"], th["durable_end_to_end_s"]),
            "visible_lag": ratio(px["visible_lag_ms"], th["visible_lag_ms"]),
            "rss_peak": ratio(px["rss_peak_mb"], th["rss_peak_mb"]),
            "cpu_per_span": ratio(px["cpu_us_per_span"], th["cpu_us_per_span"]),
            "disk_per_span": ratio(px["disk_bytes_per_span"], th["disk_bytes_per_span"]),
            **{f"{k}_p95": ratio(px["reads_ms"][k]["p95"], th["reads_ms"][k]["p95"]) for k in px["reads_ms"]},
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
