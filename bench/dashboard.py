"""The dashboard page as the UI loads it: its six API calls at once, over a running server's
store, for the last day, 7 days and 30 days before the newest trace (each range's interval as
the UI picks it); the page's time until its last answer, and each call's alone.

    python -m bench.dashboard --url http://127.0.0.1:3000 --project bench-01 \\
        --public-key pk-th-... --secret-key sk-th-...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import time
from typing import Any

import aiohttp

from bench.ingest import percentile

DAY = 86_400
# (name, path, query beyond project and start); the interval is filled in per range
CALLS: list[tuple[str, str, dict[str, str]]] = [
    ("activity", "/api/v1/metrics/timeseries", {"interval": ""}),
    ("by model", "/api/v1/metrics/timeseries", {"interval": "", "group_by": "model", "observation_type": "GENERATION"}),
    ("by type", "/api/v1/metrics/timeseries", {"interval": "", "group_by": "observation_type"}),
    ("users by cost", "/api/v1/users", {"sort": "total_cost", "limit": "5"}),
    ("traces by cost", "/api/v1/traces", {"sort": "total_cost", "order": "desc", "limit": "5", "preview": "false"}),
    ("scores", "/api/v1/scores/summary", {}),
]


def interval(seconds: int) -> str:
    """The UI's bucket for a range (ui/pages.js)."""
    return str(3600 if seconds <= DAY else 6 * 3600 if seconds <= 7 * DAY else DAY)


async def timed(session: aiohttp.ClientSession, url: str, query: dict[str, str], auth: dict[str, str]) -> float:
    started = time.perf_counter()
    async with session.get(url, params=query, headers=auth) as response:
        body = await response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: HTTP {response.status} {body[:300]!r}")
    return (time.perf_counter() - started) * 1000


async def run(args: argparse.Namespace) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{args.public_key}:{args.secret_key}".encode()).decode()}
    async with aiohttp.ClientSession() as session:
        newest: Any = None
        async with session.get(
            args.url + "/api/v1/traces",
            params={"project": args.project, "start": "1970-01-01T00:00:00Z", "limit": "1", "preview": "false"},
            headers=auth,
        ) as response:
            items = (await response.json())["items"]
            if not items:
                raise SystemExit(f"project {args.project} has no traces")
            newest = items[0]["start_time"] / 1e9
        print("| Range | page p50 / p95 ms | " + " | ".join(f"{n} alone p50" for n, _, _ in CALLS) + " |")
        print("|---" * (len(CALLS) + 2) + "|")
        for seconds in (DAY, 7 * DAY, 30 * DAY):
            start = dt.datetime.fromtimestamp(newest - seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            queries = [
                (
                    args.url + path,
                    {"project": args.project, "start": start, **{k: v or interval(seconds) for k, v in q.items()}},
                )
                for _, path, q in CALLS
            ]
            pages: list[float] = []
            for i in range(args.runs + 2):
                started = time.perf_counter()
                await asyncio.gather(*(timed(session, url, q, auth) for url, q in queries))
                if i >= 2:
                    pages.append((time.perf_counter() - started) * 1000)
            alone = []
            for url, q in queries:
                times = [await timed(session, url, q, auth) for _ in range(args.runs + 2)][2:]
                alone.append(percentile(times, 50))
            print(
                f"| {seconds // DAY} d | {percentile(pages, 50):.0f} / {percentile(pages, 95):.0f} | "
                + " | ".join(f"{ms:.0f}" for ms in alone)
                + " |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--project", default="default")
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
