"""Every read path a trace is read through, over HTTP, on an existing store: p50 / p95.

Starts the API of ``tracehouse serve`` in this process on the data directory of a
``bench.query`` or ``bench.peer`` load, with an API key for the project (Basic auth, as
Langfuse SDKs and Grafana send it), and times, warm:

- trace by id through the REST API (what the UI's trace view asks), Langfuse's
  ``GET /api/public/traces/{id}`` and Tempo's ``GET /tempo/api/traces/{id}``;
- 50 traces, newest first, as the UI asks (no previews), over the whole store and over a window
  inside it, and Langfuse's ``GET /api/public/traces`` (page 1 of 50, newest first);
- Langfuse's trace by id and page 1 again with ``fields=core,scores,metrics`` (no input, output
  or observations), as a client that asks for those groups only, and page 1 with Langfuse's JSON
  ``filter`` (on the traces' cost and tags, and on their spans' levels);
- the UI's Observations tab: 50 observations newest first, and 50 generations of the window inside;
- Langfuse's observation lists: ``GET /api/public/observations`` (page 1 of 50) and
  ``GET /api/public/v2/observations`` (50, as SDK 5 asks by default, with input and output, and
  with Langfuse's JSON ``filter``: slow generations, and a user's with a condition on trace tags);
- the busiest user's traces (50, as the Users page's link asks) and the busiest session's page
  (``GET /api/v1/sessions/{id}``: its traces with previews and the whole session's totals).

Each trace-by-id path is timed three ways: the first read of each stored trace (the trace cache
emptied before, so its spans are read from ClickHouse); two more rounds of the same traces, which
the trace cache serves while the traces are unchanged; and the first read of traces just sent
through OTLP/HTTP (one trace per request, as an app exports them, the reads right after the
answers, ``--traces`` of them), which the batches this process inserted last serve (``--trace-cache-mb 0``: neither).

    python -m bench.read_paths --data-dir /tmp/s112 --project default
    python -m bench.read_paths --data-dir /tmp/qb10 --project bench-03
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bench.peer import iso, timed_reads
from bench.workload import Workload
from storage import Store
from storage.projects import DEFAULT_ORGANIZATION_ID, KeyPair
from tracehouse.errors import NotFound
from tracehouse.server import running
from tracehouse.settings import load_settings
from tracehouse.start_up_heap import settle_start_up_heap


async def project_with_key(store: Store, ref: str, note: str) -> tuple[str, KeyPair, dict[str, str]]:
    """The project a load wrote (registered if ``bench.query`` wrote it under a bare id), a key
    pair of it, and that pair as a Basic Authorization header."""
    try:
        project = (await store.projects.get_project(ref)).id
    except NotFound:  # bench.query writes spans under fixed ids: register the one read here
        await store.projects._put_project(ref, ref, DEFAULT_ORGANIZATION_ID, 0, dt.datetime.now(dt.UTC))
        project = ref
    keys = await store.projects.create_key(project, note=note)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{keys.public_key}:{keys.secret_key}".encode()).decode()}
    return project, keys, auth


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="default", help="the project id the load wrote")
    parser.add_argument("--traces", type=int, default=50, help="distinct traces read by id")
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--trace-cache-mb", type=int, default=32, help="the server's trace cache (0: none)")
    args = parser.parse_args()

    settings = load_settings(
        data_dir=args.data_dir,
        api_port=0,
        otlp_grpc_port=0,
        otlp_http_port=0,
        eval_worker=False,
        log_level="warning",
        trace_cache_mb=args.trace_cache_mb,
    )
    async with running(settings, ("api", "receiver")) as live:
        settle_start_up_heap()  # as `tracehouse serve` does once started
        store = live.store
        project, keys, auth = await project_with_key(store, args.project, "bench.read_paths")
        ids = [
            r["trace_id"]
            for r in await store.backend.query(
                "SELECT trace_id FROM trace_index WHERE project_id = {p:String} LIMIT 20000", {"p": project}
            )
        ]
        sample = random.Random(args.seed).sample(ids, min(args.traces, len(ids)))
        bounds = await store.backend.query(
            "SELECT toUnixTimestamp64Nano(min(start_time)) AS lo, "
            "quantilesExact(0.375, 0.5, 0.625)(toUnixTimestamp64Nano(start_time)) AS middle "
            "FROM trace_index WHERE project_id = {p:String}",
            {"p": project},
        )
        lo, (w_lo, median, w_hi) = bounds[0]["lo"], bounds[0]["middle"]
        # The busiest user and session: the traces list a user's link opens, and a session's page.
        owners = await store.backend.query(
            "SELECT (SELECT user_id FROM traces WHERE project_id = {p:String} AND user_id != '' "
            "GROUP BY user_id ORDER BY count() DESC, user_id LIMIT 1) AS user, "
            "(SELECT session_id FROM traces WHERE project_id = {p:String} AND session_id != '' "
            "GROUP BY session_id ORDER BY count() DESC, session_id LIMIT 1) AS session",
            {"p": project},
        )
        user, session_id = owners[0]["user"], owners[0]["session"]
        # A window inside: the middle quarter of the project's traces by their start, at most a day
        # (as the UI asks), around the median trace. By the traces, not by the first and last
        # start: a few traces written long after the rest (an earlier run's) must not leave the
        # window empty, nor may a gap between days of traces (bench.query spreads them at random).
        half = min((w_hi - w_lo) // 2, 12 * 3600 * 10**9)
        mid = median
        inside = f"start={iso(mid - half)}&end={iso(mid + half + 1)}"
        base = live.api_url
        rest = f"{base}/api/v1/traces"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{rest}?limit=50&{inside}&preview=false", headers=auth) as r:
                in_window = len((await r.json())["items"])
            if in_window < 50:  # a list shorter than a page measures less than the UI's
                raise SystemExit(f"only {in_window} traces in the window inside ({inside})")

            async def timed(urls: list[str]) -> dict[str, float]:
                # About ``runs`` requests in all, however many URLs: rounds of every URL.
                return await timed_reads(session, urls, max(1, args.runs // len(urls)), auth)

            async def first_and_again(urls: list[str]) -> dict[str, dict[str, float]]:
                async with session.get(urls[0], headers=auth) as r:  # the connection and the code warm
                    await r.read()
                store.trace_cache.forget(project)
                first = await timed_reads(session, urls, 1, auth, warm=False)
                return {"first_read": first, "read_again": await timed_reads(session, urls, 2, auth, warm=False)}

            workload = Workload(seed=args.seed)
            fresh_start = time.time_ns() - 60 * 10**9

            async def just_written(url_of: Callable[[str], str]) -> dict[str, float]:
                # Fresh traces, one per request, each read once right after all are acknowledged.
                ids = []
                for batch in workload.batches(args.traces * 10, 1, fresh_start):  # ~6.5 spans a trace
                    body, trace_ids = batch.fresh(os.urandom(8))  # new ids in every run, not retries
                    async with session.post(
                        f"{live.otlp_http_url}/v1/traces",
                        data=body,
                        headers={**auth, "Content-Type": "application/x-protobuf"},
                    ) as r:
                        if r.status != 200:
                            raise SystemExit(f"OTLP export answered {r.status}")
                    ids += trace_ids
                if len(ids) < args.traces:
                    raise SystemExit(f"only {len(ids)} traces sent")
                return await timed_reads(session, [url_of(t) for t in ids[: args.traces]], 1, auth, warm=False)

            report = {
                "store": str(args.data_dir),
                "project": project,
                "traces_in_project": len(ids) if len(ids) < 20000 else "20000+",
                "trace_cache_mb": args.trace_cache_mb,
                "first_read_just_written": {
                    "rest_ui": await just_written(lambda t: f"{rest}/{t}"),
                    "langfuse": await just_written(lambda t: f"{base}/api/public/traces/{t}"),
                    "tempo": await just_written(lambda t: f"{base}/tempo/api/traces/{t}"),
                },
                "trace_by_id": {
                    "rest_ui": await first_and_again([f"{rest}/{t}" for t in sample]),
                    "langfuse": await first_and_again([f"{base}/api/public/traces/{t}" for t in sample]),
                    # Langfuse's field groups without io and observations: no span is read.
                    "langfuse_core_scores_metrics": await timed(
                        [f"{base}/api/public/traces/{t}?fields=core,scores,metrics" for t in sample]
                    ),
                    "tempo": await first_and_again([f"{base}/tempo/api/traces/{t}" for t in sample]),
                },
                "list_50": {
                    "ui_newest": await timed([f"{rest}?limit=50&start={iso(lo)}&preview=false"]),
                    "ui_window_inside": await timed([f"{rest}?limit=50&{inside}&preview=false"]),
                    "langfuse_newest_page_1": await timed([f"{base}/api/public/traces?limit=50&page=1"]),
                    # Langfuse's JSON filter: on the summary (cost and tags), and on the spans'
                    # levels (every trace has no more than 100 errors: the page is full).
                    "langfuse_filter_cost_tags_page_1": await timed(
                        [f"{base}/api/public/traces?limit=50&page=1&filter={quote(COST_AND_TAGS)}"]
                    ),
                    "langfuse_filter_error_count_page_1": await timed(
                        [f"{base}/api/public/traces?limit=50&page=1&filter={quote(FEW_ERRORS)}"]
                    ),
                    # Without io: the roots' input, output and metadata are not read.
                    "langfuse_newest_page_1_core_scores_metrics": await timed(
                        [f"{base}/api/public/traces?limit=50&page=1&fields=core,scores,metrics"]
                    ),
                    # A user's traces (the Users page's and a trace's user link), and a session's
                    # page (its traces with previews, and the whole session's totals).
                    "ui_user_traces": await timed(
                        [f"{rest}?limit=50&start={iso(lo)}&user_id={quote(user)}&preview=false"]
                    ),
                    "ui_session_page": await timed([f"{base}/api/v1/sessions/{quote(session_id)}"]),
                    # The Observations tab.
                    "ui_observations_newest": await timed(
                        [f"{base}/api/v1/spans?limit=50&start={iso(lo)}&observations_only=true&fields=light"]
                    ),
                    "ui_generations_window_inside": await timed(
                        [
                            f"{base}/api/v1/spans?limit=50&{inside}&observations_only=true&observation_type=GENERATION&fields=light"
                        ]
                    ),
                    # Langfuse's observation lists: v1 pages (with their count), and v2 as SDK 5's
                    # ``api.observations.get_many()`` asks by default (core and basic) and with io.
                    "langfuse_observations_page_1": await timed([f"{base}/api/public/observations?limit=50&page=1"]),
                    "langfuse_v2_observations": await timed([f"{base}/api/public/v2/observations?limit=50"]),
                    "langfuse_v2_observations_io": await timed(
                        [f"{base}/api/public/v2/observations?limit=50&fields=core,basic,io,usage"]
                    ),
                    # Langfuse's JSON filter: the spans' own columns, and the busiest user's traces
                    # through their summary (a condition on the trace, as traceName or tags are).
                    "langfuse_v2_observations_filter_slow_generations": await timed(
                        [f"{base}/api/public/v2/observations?limit=50&filter={quote(SLOW_GENERATIONS)}"]
                    ),
                    "langfuse_v2_observations_filter_user_trace_tags": await timed(
                        [
                            f"{base}/api/public/v2/observations?limit=50&filter="
                            + quote(json.dumps([*_user(user), *NO_SUCH_TAG]))
                        ]
                    ),
                },
                # Where trace reads were served from memory: the batches just inserted (the first
                # reads of traces just written) and the trace cache (reads again).
                "reads_from_memory": {
                    "recent_batches": store.recent_spans.hits,
                    "trace_cache": store.trace_cache.hits,
                },
            }
        await store.projects.revoke_key(keys.public_key)
    print(json.dumps(report, indent=2))


# Conditions of Langfuse's filter. Observations: generations over a second, and a condition on
# their traces' tags that every trace meets (so that the page is full and the summary read
# whole). Traces: cost and tags (the summary), and error counts (their spans) that all meet.
SLOW_GENERATIONS = json.dumps(
    [
        {"type": "string", "column": "type", "operator": "=", "value": "GENERATION"},
        {"type": "number", "column": "latency", "operator": ">=", "value": 1},
    ]
)
NO_SUCH_TAG = [{"type": "arrayOptions", "column": "traceTags", "operator": "none of", "value": ["no-such-tag"]}]
COST_AND_TAGS = json.dumps(
    [
        {"type": "number", "column": "totalCost", "operator": ">=", "value": 0},
        {"type": "arrayOptions", "column": "tags", "operator": "none of", "value": ["no-such-tag"]},
    ]
)
FEW_ERRORS = json.dumps([{"type": "number", "column": "errorCount", "operator": "<=", "value": 100}])


def _user(user: str) -> list[dict[str, str]]:
    return [{"type": "string", "column": "userId", "operator": "=", "value": user}]


if __name__ == "__main__":
    asyncio.run(main())
