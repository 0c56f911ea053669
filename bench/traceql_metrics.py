"""TraceQL metrics over HTTP on an existing store, as Grafana asks them: p50 / p95.

Starts the API on the data directory of a ``bench.query`` or ``bench.peer`` load, with an API
key for the project, and times ``GET /tempo/api/metrics/query_range`` for the queries of
Grafana's Traces Drilldown app and two GenAI panels, over the last hour and the last day of
the project's spans (ending at its newest span), with Grafana's default step (Tempo's: about
240 points, 15 s and 5 min here) and the default exemplars, warm; then the Drilldown's
searches (``GET /tempo/api/search``): its span list (``select``) and its Structure tab (several
spansets and the nested-set numbers), 200 traces at most, over the same windows; then the
Service Graph's and service table's instant PromQL queries (``GET /prometheus/api/v1/query``)
over the same ranges.

    python -m bench.traceql_metrics --data-dir /tmp/s112 --project default
    python -m bench.traceql_metrics --data-dir /tmp/qb10 --project bench-03
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench.peer import timed_reads
from bench.read_paths import project_with_key
from tracehouse.server import running
from tracehouse.settings import load_settings
from tracehouse.start_up_heap import settle_start_up_heap

QUERIES = {
    "root spans, rate": "{nestedSetParent<0 && true} | rate()",
    "root spans, rate by service": "{nestedSetParent<0 && true} | rate() by (resource.service.name)",
    "errors, rate by service": "{nestedSetParent<0 && status = error} | rate() by (resource.service.name)",
    "root spans, p90 duration": "{nestedSetParent<0 && true} | quantile_over_time(duration, 0.9)",
    "root spans, duration heatmap": "{nestedSetParent<0 && true} | histogram_over_time(duration)",
    "cost by model": "{ } | sum_over_time(span.gen_ai.usage.cost) by (span.gen_ai.request.model)",
    "comparison, errors against the rest": "{nestedSetParent<0 && true} | compare({status = error}, 10)",
}
SEARCHES = {
    "search: span list with select()": "{nestedSetParent<0 && true} | select(status, resource.service.name, name)",
    "search: Structure tab": "({nestedSetParent<0 && true } &>> { kind = server }) || ({nestedSetParent<0 && true }) "
    "| select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)",
    "search: a descendant": '{nestedSetParent<0} >> { span.gen_ai.request.model = "gpt-4o" }',
}
SERVICE_GRAPH = {
    "service graph: calls": "sum by (client, server) (rate(traces_service_graph_request_total[{r}]))",
    "service graph: server seconds": "sum by (client, server) "
    "(rate(traces_service_graph_request_server_seconds_sum[{r}]))",
    "service table: calls by span name": "topk(5, sum by (span_name) "
    '(rate(traces_spanmetrics_calls_total{{span_kind="SPAN_KIND_SERVER"}}[{r}])))',
}
WINDOWS = {"last hour": 3600, "last day": 86_400}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="default", help="the project id the load wrote")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    settings = load_settings(
        data_dir=args.data_dir, api_port=0, otlp_grpc_port=0, otlp_http_port=0, eval_worker=False, log_level="warning"
    )
    async with running(settings, ("api",)) as live:
        settle_start_up_heap()  # as `tracehouse serve` does once started
        store = live.store
        project, keys, auth = await project_with_key(store, args.project, "bench.traceql_metrics")
        [row] = await store.backend.query(
            "SELECT toUnixTimestamp64Nano(max(start_time)) AS hi, count() AS spans FROM spans "
            "WHERE project_id = {p:String}",
            {"p": project},
        )
        end = row["hi"] // 10**9 + 1
        report: dict[str, object] = {"project": project, "spans_in_project": row["spans"], "runs": args.runs}
        async with aiohttp.ClientSession() as session:
            for window, seconds in WINDOWS.items():
                for name, q in QUERIES.items():
                    url = f"{live.api_url}/tempo/api/metrics/query_range?" + urlencode(
                        {"q": q, "start": end - seconds, "end": end}
                    )
                    async with session.get(url, headers=auth) as r:
                        doc = await r.json()
                    timing = await timed_reads(session, [url], args.runs, auth)
                    series = len(doc["series"])
                    report[f"{window}: {name}"] = {
                        **timing,
                        "series": series,
                        "spans": doc["metrics"]["inspectedSpans"],
                    }
                    print(
                        f"{window:9s} {name:38s} p50 {timing['p50']:7.1f} p95 {timing['p95']:7.1f} ms"
                        f"  {series:3d} series, {doc['metrics']['inspectedSpans']} spans",
                        flush=True,
                    )
                for name, q in SEARCHES.items():
                    url = f"{live.api_url}/tempo/api/search?" + urlencode(
                        {"q": q, "start": end - seconds, "end": end, "limit": 200, "spss": 20}
                    )
                    async with session.get(url, headers=auth) as r:
                        traces = len((await r.json())["traces"])
                    timing = await timed_reads(session, [url], args.runs, auth)
                    report[f"{window}: {name}"] = {**timing, "traces": traces}
                    print(
                        f"{window:9s} {name:38s} p50 {timing['p50']:7.1f} p95 {timing['p95']:7.1f} ms  {traces} traces",
                        flush=True,
                    )
                for name, q in SERVICE_GRAPH.items():
                    url = f"{live.api_url}/prometheus/api/v1/query?" + urlencode(
                        {"query": q.format(r=f"{seconds}s"), "time": end}
                    )
                    async with session.get(url, headers=auth) as r:
                        found = len((await r.json())["data"]["result"])
                    timing = await timed_reads(session, [url], args.runs, auth)
                    report[f"{window}: {name}"] = {**timing, "series": found}
                    print(
                        f"{window:9s} {name:38s} p50 {timing['p50']:7.1f} p95 {timing['p95']:7.1f} ms  {found} series",
                        flush=True,
                    )
        await store.projects.revoke_key(keys.public_key)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
