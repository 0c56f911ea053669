"""The traces list's export (``GET /api/v1/traces/export``) over HTTP, on a copy of a store written
by ``bench.peer`` or ``bench.query``: ``tracehouse serve`` on it, then each format downloaded
``--runs`` times. Prints the traces, bytes, seconds and the server's RSS before and at its peak.

    python -m bench.export --data-dir <a copy of a store> --project default
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.ingest import rss_mb, start_server


def run(data_dir: Path, project: str, runs: int, max_traces: int) -> list[dict[str, Any]]:
    process, info = start_server(data_dir, [])
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(process.pid)[0])
            time.sleep(0.05)

    out = []
    try:
        time.sleep(2)  # settled after start
        before = rss_mb(process.pid)[0]
        threading.Thread(target=sample, daemon=True).start()
        for _ in range(runs):
            for fmt in ("csv", "jsonl"):
                url = (f"{info['api_url']}/api/v1/traces/export?format={fmt}&project={project}"
                       f"&start=2000-01-01T00:00:00Z&max={max_traces}")  # fmt: skip
                started = time.monotonic()
                with urllib.request.urlopen(url) as response:
                    body = response.read()
                seconds = time.monotonic() - started
                if fmt == "csv":  # quoted cells may hold line breaks: count records, not lines
                    traces = len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))) - 1
                else:
                    traces = body.count(b"\n")
                out.append({"format": fmt, "traces": traces, "seconds": round(seconds, 2),
                            "mb": round(len(body) / 1e6, 1), "rss_before_mb": round(before),
                            "rss_peak_mb": round(peak[0])})  # fmt: skip
    finally:
        done.set()
        process.terminate()
        process.wait(timeout=60)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", default="default")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--max", type=int, default=10_000)
    args = parser.parse_args()
    for row in run(args.data_dir, args.project, args.runs, args.max):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
