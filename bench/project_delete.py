"""Deleting a project with its data, on a store written by ``bench.query`` or ``bench.peer``: how
long the delete takes (what the Settings page's Delete waits for), the rows it erases, and another
project's newest traces read before and after (unchanged, and as fast).

Run it on a copy of the store: the project is gone afterwards.

    cp -r /tmp/qb10 /tmp/qb10-copy
    python -m bench.project_delete --data-dir /tmp/qb10-copy --project bench-03 --other bench-04
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from bench.list_filters import timed_pages
from storage import Store
from storage.lifecycle import PROJECT_DATA_TABLES
from storage.reader import TraceQuery


async def _rows(store: Store, project: str) -> dict[str, int]:
    out = {}
    for table in PROJECT_DATA_TABLES:
        rows = await store.backend.query(
            f"SELECT count() AS n FROM {table.name} WHERE project_id = {{p:String}}", {"p": project}
        )
        out[table.name] = int(rows[0]["n"])
    return {k: v for k, v in out.items() if v}


async def _newest(store: Store, project: str, runs: int) -> tuple[int, float]:
    """How many traces the other project's newest page holds, and its read's median (ms)."""
    found, times = await timed_pages(store, project, TraceQuery(0, time.time_ns() + 10**12, previews=False), runs)
    return found, round(statistics.median(times), 1)


async def run(data_dir: str, project: str, other: str, runs: int) -> dict[str, Any]:
    store = await Store.open(data_dir=data_dir)
    try:
        doomed = (await store.projects.get_project(project)).id
        kept = (await store.projects.get_project(other)).id
        before = await _rows(store, doomed)
        other_before = await _newest(store, kept, runs)
        started = time.perf_counter()
        await store.lifecycle.delete_project(doomed)
        seconds = time.perf_counter() - started
        after = await _rows(store, doomed)
        other_after = await _newest(store, kept, runs)
        return {
            "project": project,
            "rows_before": before,
            "rows_after": after,
            "delete_s": round(seconds, 2),
            "other_newest_page": {"before": other_before, "after": other_after},
        }
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="a copy of a bench store: the project is deleted")
    parser.add_argument("--project", required=True, help="the project to delete (id or name)")
    parser.add_argument("--other", required=True, help="another project, read before and after")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.data_dir, args.project, args.other, args.runs)), indent=1))


if __name__ == "__main__":
    main()
