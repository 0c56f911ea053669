"""The traces list with attribute and metadata filters (the UI's "Attribute key=value" and
"Metadata key=value"), with a text search, and without filters with and without previews, straight on the reader,
warm: each case run ``--runs`` times after two untimed, over the whole time range of a store
written by ``bench.peer`` or ``bench.query``.

    python -m bench.list_filters --data-dir <store> --project default

Against an older checkout: ``PYTHONPATH=<its tree> python bench/list_filters.py ...`` from this one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from storage import Store
from storage.reader import TraceQuery


async def timed_pages(store: Store, project: str, query: TraceQuery, runs: int) -> tuple[int, list[float]]:
    """The traces a page of ``query`` holds, and ``runs`` timings of it (ms) after two untimed."""
    times, found = [], 0
    for i in range(runs + 2):
        started = time.perf_counter()
        page = await store.reader.list_traces(project, query)
        if i >= 2:
            times.append((time.perf_counter() - started) * 1000)
        found = len(page.items)
    return found, times


async def run(data_dir: str, project: str, runs: int) -> dict[str, Any]:
    store = await Store.open(data_dir=data_dir)
    try:
        bounds = await store.backend.query(
            "SELECT toUnixTimestamp64Nano(min(start_time)) AS lo, toUnixTimestamp64Nano(max(start_time)) AS hi "
            "FROM spans WHERE project_id = {p:String}",
            {"p": project},
        )
        lo, hi = int(bounds[0]["lo"]) - 10**9, int(bounds[0]["hi"]) + 10**9
        rare = await store.backend.query(
            "SELECT span_attributes['gen_ai.response.id'] AS v FROM spans WHERE project_id = {p:String} "
            "AND span_attributes['gen_ai.response.id'] != '' LIMIT 1",
            {"p": project},
        )
        cases: dict[str, dict[str, Any]] = {
            "none, with previews (the REST list, a session's page)": {"previews": True},
            "none, without previews (the UI's list)": {},
            "one common attribute (llm.provider=openai)": {"attributes": {"llm.provider": "openai"}},
            "one rare attribute (a response id)": {"attributes": {"gen_ai.response.id": rare[0]["v"] if rare else "x"}},
            "two attributes (provider, operation)": {
                "attributes": {"llm.provider": "openai", "gen_ai.operation.name": "chat"}
            },
            "one metadata entry (none has it)": {"metadata": {"ticket": "T-1"}},
            "text search, a common word (the)": {"search": "the"},
            "text search, found nowhere": {"search": "zqxwv-nowhere"},
            # Looked for as typed and as JSON escapes it (\u9000\u8d27): two needles.
            "text search, beyond ASCII, found nowhere": {"search": "退货"},
        }
        if "metadata" not in TraceQuery.__dataclass_fields__:  # run on a commit before metadata filters
            cases = {k: v for k, v in cases.items() if "metadata" not in v}
        out: dict[str, Any] = {}
        for name, filters in cases.items():
            found, times = await timed_pages(store, project, TraceQuery(lo, hi, **{"previews": False, **filters}), runs)
            times.sort()
            out[name] = {"traces": found, "p50": round(statistics.median(times), 1),
                         "p95": round(times[max(0, round(0.95 * len(times)) - 1)], 1)}  # fmt: skip
        return out
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--project", default="default")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.data_dir, args.project, args.runs)), indent=2))


if __name__ == "__main__":
    main()
