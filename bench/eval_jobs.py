"""What the evaluation worker's round costs once many jobs exist: it asks for due jobs each second.

Writes ``--jobs`` LLM-as-a-judge jobs into a fresh embedded store, each as three versions in
parts of their own (pending, running, done), and ``--pending`` more left pending, then times
``EvalStore.due_jobs`` (the worker's question each second): wall time and the process's CPU
time (ClickHouse's threads included).

    python -m bench.eval_jobs --jobs 300000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from storage import Store
from storage.evaluations import EvalJob

BATCH = 50_000


def _job(i: int, status: str, created: dt.datetime) -> EvalJob:
    attempts = 0 if status == "pending" else 1
    return EvalJob(f"project-{i % 3}", f"rule-{i % 5}", f"job-{i}", f"{i:032x}", f"{i:016x}", status, attempts,
                   "", "", 0.8, 0, 120, 15, 900, created)  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(data_dir=Path(tmp) / "data")
        try:
            jobs = store.evaluations
            start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
            for first in range(0, args.jobs, BATCH):
                numbers = range(first, min(first + BATCH, args.jobs))
                for status in ("pending", "running", "done"):
                    await jobs.put_jobs([_job(i, status, start + dt.timedelta(seconds=i)) for i in numbers])
            await jobs.put_jobs([_job(args.jobs + i, "pending", dt.datetime.now(dt.UTC)) for i in range(args.pending)])
            walls, cpus = [], []
            for _ in range(args.rounds):
                cpu, wall = time.process_time(), time.perf_counter()
                due = await jobs.due_jobs(time.time_ns(), 64)
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            assert len(due) == min(64, args.pending), len(due)
        finally:
            await store.close()
    return {
        "jobs": args.jobs,
        "versions": 3 * args.jobs + args.pending,
        "due_jobs_wall_ms_p50": round(statistics.median(walls), 1),
        "due_jobs_cpu_ms_p50": round(statistics.median(cpus), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300_000, help="finished jobs (three versions each)")
    parser.add_argument("--pending", type=int, default=64, help="jobs left pending")
    parser.add_argument("--rounds", type=int, default=9)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
