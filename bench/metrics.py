"""OTLP metrics: durable points/s over OTLP/HTTP protobuf, then what the Metrics page costs.

Starts ``tracehouse serve`` on a fresh data directory (as bench.ingest does). ``--services`` apps
each export, once a minute over the last ``--hours``, cumulative points of the metrics an LLM app
sends: a token counter by model and token type, the GenAI instrumentations' two histograms
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``), a request-time histogram
by route (16 buckets), a queue-depth gauge and an up-down counter: 27 series per app. A request
holds one app's ten exports (as a collector's batch processor would send them); N senders each
wait for their answer. Then, with the server still running, the Metrics page's reads over HTTP,
warm, p50 / p95: the range's metric list, and the charts' PromQL (a counter by a label, a
histogram's p95 and mean, a gauge) over the last hour and the last day.

    python -m bench.metrics --services 20 --hours 24 [--keep /tmp/m720k]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from bench.ingest import drive, start_server, stored_rows
from bench.peer import percentile

MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet")
ROUTES = ("/chat", "/search", "/summarize", "/translate", "/agent")
QUEUES = ("ingest", "embed", "judge", "mail")
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30]
TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attrs(target: object, attrs: dict[str, str]) -> None:
    for key, value in attrs.items():
        kv: KeyValue = target.attributes.add()  # type: ignore[attr-defined]
        kv.key, kv.value.string_value = key, value


class App:
    """One service's instruments, with their cumulative state, collected once a minute."""

    def __init__(self, name: str, rng: random.Random, start_ns: int) -> None:
        self.name, self.rng, self.start_ns = name, rng, start_ns
        self.tokens = {(m, t): 0 for m in MODELS for t in ("input", "output")}
        self.hists: dict[tuple[str, str], tuple[list[int], float]] = {}
        self.active = 0

    def _observe(self, key: tuple[str, str], bounds: list[float], value: float) -> None:
        counts, total = self.hists.get(key, ([0] * (len(bounds) + 1), 0.0))
        counts[next((i for i, b in enumerate(bounds) if value <= b), len(bounds))] += 1
        self.hists[key] = (counts, total + value)

    def step(self) -> None:
        for _ in range(self.rng.randrange(20, 60)):  # calls in this minute
            model, route = self.rng.choice(MODELS), self.rng.choice(ROUTES)
            used_in, used_out = self.rng.randrange(50, 3000), self.rng.randrange(10, 800)
            self.tokens[(model, "input")] += used_in
            self.tokens[(model, "output")] += used_out
            seconds = self.rng.lognormvariate(-0.5, 0.8)
            self._observe(("route", route), BOUNDS, seconds)
            self._observe(("duration", model), BOUNDS, seconds)
            self._observe(("usage", f"{model}|input"), TOKEN_BOUNDS, used_in)
            self._observe(("usage", f"{model}|output"), TOKEN_BOUNDS, used_out)
        self.active = max(0, self.active + self.rng.randrange(-3, 4))

    def collect(self, scope: object, at_ns: int) -> None:
        def metric(name: str, unit: str) -> Metric:
            m: Metric = scope.metrics.add()  # type: ignore[attr-defined]
            m.name, m.unit = name, unit
            return m

        tokens = metric("app.tokens", "{token}")
        tokens.sum.aggregation_temporality, tokens.sum.is_monotonic = CUMULATIVE, True
        for (model, kind), value in self.tokens.items():
            p = tokens.sum.data_points.add(start_time_unix_nano=self.start_ns, time_unix_nano=at_ns, as_int=value)
            _attrs(p, {"model": model, "gen_ai.token.type": kind})
        for key, name, unit, bounds in (
            ("route", "app.request.duration", "s", BOUNDS),
            ("duration", "gen_ai.client.operation.duration", "s", BOUNDS),
            ("usage", "gen_ai.client.token.usage", "{token}", TOKEN_BOUNDS),
        ):
            m = metric(name, unit)
            m.histogram.aggregation_temporality = CUMULATIVE
            for (kind, label), (counts, total) in self.hists.items():
                if kind != key:
                    continue
                p = m.histogram.data_points.add(
                    start_time_unix_nano=self.start_ns, time_unix_nano=at_ns, count=sum(counts), sum=total
                )
                p.bucket_counts.extend(counts)
                p.explicit_bounds.extend(bounds)
                if key == "route":
                    _attrs(p, {"http.route": label})
                elif key == "duration":
                    _attrs(p, {"gen_ai.request.model": label})
                else:
                    model, kind_of = label.split("|")
                    _attrs(p, {"gen_ai.request.model": model, "gen_ai.token.type": kind_of})
        depth = metric("app.queue.depth", "{item}")
        for queue in QUEUES:
            p = depth.gauge.data_points.add(time_unix_nano=at_ns, as_int=self.rng.randrange(0, 200))
            _attrs(p, {"queue": queue})
        active = metric("app.active_requests", "{request}")
        active.sum.aggregation_temporality, active.sum.is_monotonic = CUMULATIVE, False
        active.sum.data_points.add(start_time_unix_nano=self.start_ns, time_unix_nano=at_ns, as_int=self.active)


def requests(services: int, hours: float, seed: int, per_request: int = 10) -> tuple[list[bytes], int]:
    """The export requests in time order, and the number of points they hold."""
    rng = random.Random(seed)
    minutes = int(hours * 60)
    first = (time.time_ns() // 60_000_000_000 - minutes) * 60_000_000_000
    apps = [App(f"app-{i:02d}", random.Random(rng.random()), first - 60 * 10**9) for i in range(services)]
    bodies, points = [], 0
    for chunk in range(0, minutes, per_request):
        for app in apps:
            request = ExportMetricsServiceRequest()
            rm = request.resource_metrics.add()
            _attrs(rm.resource, {"service.name": app.name})
            scope = rm.scope_metrics.add()
            scope.scope.name = "bench.metrics"
            for minute in range(chunk, min(chunk + per_request, minutes)):
                app.step()
                app.collect(scope, first + minute * 60 * 10**9)
            points += sum(len(getattr(m, m.WhichOneof("data")).data_points) for m in scope.metrics)
            bodies.append(request.SerializeToString())
    return bodies, points


async def timed(session: aiohttp.ClientSession, url: str, params: dict[str, str], runs: int) -> dict[str, float]:
    async with session.get(url, params=params) as r:  # warm
        await r.read()
        if r.status != 200:
            raise SystemExit(f"{url} {params} answered {r.status}: {await r.text()}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with session.get(url, params=params) as r:
            await r.read()
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(statistics.median(times), 1), "p95": round(percentile(times, 95), 1)}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    bodies, points = requests(args.services, args.hours, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.keep or Path(tmp) / "data"
        data_dir.mkdir(parents=True)
        process, info = start_server(data_dir, [])
        try:
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            refused = 0

            async def sender(session: aiohttp.ClientSession) -> None:
                nonlocal refused
                while not queue.empty():
                    body = queue.get_nowait()
                    while True:
                        async with session.post(
                            info["otlp_http_url"] + "/v1/metrics",
                            data=body,
                            headers={"Content-Type": "application/x-protobuf"},
                        ) as r:
                            await r.read()
                            if r.status == 200:
                                break
                            if r.status != 503:
                                raise SystemExit(f"/v1/metrics answered {r.status}")
                            refused += 1
                            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

            async with aiohttp.ClientSession() as session:
                senders = [sender(session) for _ in range(args.concurrency)]
                elapsed, peak = await drive(process, senders, stop=False)  # then its reads
                api = info["api_url"]
                rng_url = api + "/prometheus/api/v1/query_range"
                now = int(time.time())
                reads: dict[str, object] = {}
                for label, seconds, step in (("last_hour", 3600, 60), ("last_day", 86400, 1800)):
                    start = str((now - seconds) // step * step + step)
                    window = {"start": start, "end": str(now // step * step + step), "step": str(step)}
                    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - seconds))
                    reads[label] = {
                        "metric_list": await timed(session, api + "/api/v1/metrics/otlp", {"start": iso}, args.runs),
                        "counter_by_model": await timed(
                            session,
                            rng_url,
                            {"query": f"sum by (model) (increase(app_tokens_total[{step}s]))", **window},
                            args.runs,
                        ),
                        "histogram_p95": await timed(
                            session,
                            rng_url,
                            {
                                "query": "histogram_quantile(0.95, sum by (le) "
                                f"(increase(app_request_duration_seconds_bucket[{step}s])))",
                                **window,
                            },
                            args.runs,
                        ),
                        "histogram_mean": await timed(
                            session,
                            rng_url,
                            {
                                "query": f"sum (increase(app_request_duration_seconds_sum[{step}s])) / "
                                f"sum (increase(app_request_duration_seconds_count[{step}s]))",
                                **window,
                            },
                            args.runs,
                        ),
                        "gauge_by_queue": await timed(
                            session, rng_url, {"query": "avg by (queue) (app_queue_depth)", **window}, args.runs
                        ),
                    }
                rows = await (
                    await session.get(
                        api + "/prometheus/api/v1/query",
                        params={"query": "count(app_queue_depth)", "time": str(now + 60)},
                    )
                ).json()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        [stored] = await stored_rows(data_dir, "metric_points")
        return {
            "services": args.services,
            "hours": args.hours,
            "requests": len(bodies),
            "points": points,
            "stored": stored,
            "seconds": round(elapsed, 2),
            "points_per_s": round(points / elapsed),
            "refused_503": refused,
            "otlp_bytes_per_point": round(sum(len(b) for b in bodies) / points, 1),
            "server_rss_peak_mb": round(peak),
            "queue_depth_series_now": rows["data"]["result"][0]["value"][1] if rows["data"]["result"] else None,
            "reads_ms": reads,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="a new data directory to load and keep (default: a temporary one)")
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
