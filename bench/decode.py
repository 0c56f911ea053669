"""Decode alone: the receiver's span decoding (OTLP protobuf request to typed rows) over the seeded
workload, without a server or a store: what a change to the mapping costs per span.

    python -m bench.decode                       # this checkout
    python -m bench.decode --baseline <rev>      # side by side with a git revision, alternating

Each tree's compiled decoder is built before its turn (``tracehouse compile``: one build at a time,
and a tree whose sources differ from the build runs the pure-Python decoder). Reports the best of
five passes, in µs per span.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.ingest import compile_decoder

ROOT = Path(__file__).resolve().parents[1]

# Run in the tree measured, with its own modules first on the path.
PROGRAM = """
import json, sys, time
from bench.workload import Workload
from otlp_receiver.decode import DecodeContext, decode_request, parse_protobuf_request
spans, seed = int(sys.argv[1]), int(sys.argv[2])
batches = list(Workload(seed=seed).batches(spans, 2_000, time.time_ns() - 3_600 * 10**9))
requests = [parse_protobuf_request(b.body) for b in batches]
count = sum(b.spans for b in batches)
context = DecodeContext(project_id="bench")
decode_request(requests[0], context)
best = float("inf")
for _ in range(5):
    started = time.perf_counter()
    for request in requests:
        decode_request(request, context)
    best = min(best, time.perf_counter() - started)
try:
    from tracehouse.compiled import status
    decoder = status()
except ImportError:  # a revision from before the compiled decoder
    decoder = "pure Python"
print(json.dumps({"spans": count, "us_per_span": round(best / count * 1e6, 1), "decoder": decoder}))
"""


def one_run(root: Path, spans: int, seed: int) -> dict[str, object]:
    """Decode the workload with the code in ``root``; its report."""
    compile_decoder(root)
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(spans), str(seed)], cwd=root, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"decode failed in {root}:\n{result.stderr[-3000:]}")
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline", help="a git revision to run side by side with this checkout (alternating)")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/this-checkout pairs with --baseline")
    args = parser.parse_args()
    if not args.baseline:
        print(json.dumps(one_run(ROOT, args.spans, args.seed)))
        return
    runs: list[tuple[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory(prefix="tracehouse-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), args.baseline], cwd=ROOT, check=True)
        try:
            for _ in range(args.rounds):
                for label, root in ((args.baseline, tree), ("this checkout", ROOT)):
                    report = one_run(root, args.spans, args.seed)
                    runs.append((label, report))
                    print(json.dumps({"code": label, **report}), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
            compile_decoder(ROOT)  # leave this checkout's build in place
    print("\n| Code | decoder | µs per span |")
    print("|---|---|---|")
    for label, report in runs:
        print(f"| {label} | {report['decoder']} | {report['us_per_span']} |")


if __name__ == "__main__":
    main()
