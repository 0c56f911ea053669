"""Where a trace-by-id read spends its time, on a store loaded by ``bench.query``: the fixed cost
of a query, the trace's bounds, a one-column read of its rows, every column, and each column
alone (warm, medians of repeated runs, run straight on the engine's connection).

    python -m bench.point_reads --data-dir /tmp/qb10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from storage import Store
from storage.backends.embedded import EmbeddedBackend, format_param
from storage.reader import SPAN_COLUMNS
from storage.tables import SPANS

BASE = (
    " FROM spans AS s WHERE s.project_id = {project:String} AND s.trace_id = {trace_id:String} AND s.sign = 1"
    " AND toStartOfHour(s.start_time) >= toStartOfHour({lo:DateTime64(9)})"
    " AND toStartOfHour(s.start_time) <= toStartOfHour({hi:DateTime64(9)})"
    " AND s.start_time >= {lo:DateTime64(9)} AND s.start_time <= {hi:DateTime64(9)}"
)
BOUNDS = (
    "SELECT min(start_time) AS lo, max(end_time) AS hi FROM trace_index"
    " WHERE project_id = {project:String} AND trace_id = {trace_id:String}"
)


def median_ms(conn: Any, sql: str, params: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.query(sql, "Null", params=params)
        times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[len(times) // 2], 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--traces", type=int, default=5)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    store = await Store.open(data_dir=args.data_dir)
    backend = store.backend
    assert isinstance(backend, EmbeddedBackend), "point reads are profiled on the embedded engine"
    try:
        picks = await backend.query(
            "SELECT project_id AS p, trace_id AS t, min(start_time) AS lo, max(end_time) AS hi FROM trace_index "
            "GROUP BY p, t ORDER BY cityHash64(t) LIMIT {n:UInt32}",
            {"n": args.traces},
        )

        def profile(conn: Any) -> dict[str, Any]:
            stages: dict[str, list[float]] = {}
            columns: dict[str, list[float]] = {}
            for pick in picks:
                params = {
                    "project": format_param(pick["p"]),
                    "trace_id": format_param(pick["t"]),
                    "lo": format_param(pick["lo"]),
                    "hi": format_param(pick["hi"]),
                }
                for name, sql in (
                    ("select_1", "SELECT 1"),
                    ("bounds", BOUNDS),
                    ("count_of_its_rows", "SELECT count()" + BASE),
                    ("one_column", "SELECT s.span_id" + BASE),
                    ("every_column", f"SELECT {SPAN_COLUMNS}" + BASE),
                ):
                    stages.setdefault(name, []).append(median_ms(conn, sql, params, args.runs))
                for column in SPANS.columns:
                    columns.setdefault(column.name, []).append(
                        median_ms(conn, f"SELECT s.{column.name}" + BASE, params, args.runs)
                    )
            mean = {k: round(sum(v) / len(v), 1) for k, v in stages.items()}
            by_column = {k: round(sum(v) / len(v), 1) for k, v in columns.items()}
            dearest = dict(sorted(by_column.items(), key=lambda kv: -kv[1])[:8])
            return {"traces": len(picks), "stages_ms": mean, "dearest_columns_ms": dearest,
                    "median_one_column_ms": sorted(by_column.values())[len(by_column) // 2]}  # fmt: skip

        report = await backend._run(backend._readers, "profile", profile)
    finally:
        await store.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
