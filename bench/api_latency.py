"""Latency of small API requests made with an API key, on an idle embedded server.

Starts ``tracehouse serve`` on a fresh data directory, creates a key with the CLI (which goes
through the running server), stores one batch of workload spans, then sends sequential GETs
with ``Authorization: Basic`` and reports p50 and p95 per path. This is what a script or a
Grafana panel pays per call when the store has nothing else to do.

    python -m bench.api_latency --requests 200
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.ingest import ROOT, start_server
from bench.workload import Workload

PATHS = ("/api/v1/traces", "/api/v1/sessions")


def _get(url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracehouse-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        process, info = start_server(data_dir, [])
        try:
            created = subprocess.run(
                [sys.executable, "-m", "tracehouse", "keys", "create", "--data-dir", str(data_dir)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            public = re.search(r"pk-th-[\w-]+", created)
            secret = re.search(r"sk-th-[\w-]+", created)
            if public is None or secret is None:
                raise SystemExit(f"no key pair in the CLI's output:\n{created}")
            token = base64.b64encode(f"{public.group(0)}:{secret.group(0)}".encode()).decode()
            headers = {"Authorization": "Basic " + token}
            batch = next(iter(Workload(1).batches(512, 512, time.time_ns())))
            request = urllib.request.Request(
                info["otlp_http_url"] + "/v1/traces",
                data=batch.body,
                headers={**headers, "Content-Type": "application/x-protobuf"},
            )
            urllib.request.urlopen(request).read()
            report = {}
            for path in PATHS:
                url = info["api_url"] + path
                for _ in range(20):  # warm up
                    _get(url, headers)
                times = sorted(_get(url, headers) for _ in range(args.requests))
                report[path] = {
                    "p50_ms": round(times[len(times) // 2], 1),
                    "p95_ms": round(times[int(len(times) * 0.95)], 1),
                }
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
