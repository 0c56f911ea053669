"""What counting the tokens of generations sent without usage costs (otlp_receiver/token_count.py).

The seeded workload's spans are decoded twice in one process, as sent (their model calls report
usage: nothing is counted) and with the calls' usage attributes removed (as streamed calls without
usage come: every call of an OpenAI model is counted, 0.5-4 KB of messages each way), best of
``--rounds``; the difference per counted call is what counting costs. Also: the first count's wait
while tiktoken's encoding loads (from its cache), and the process's RSS before and after.

    python -m bench.token_count [--spans 20000] [--rounds 5]

Needs tiktoken's encodings in its cache (TIKTOKEN_CACHE_DIR; ./dev test puts them in
.venv/tiktoken-cache) or internet access.
"""

from __future__ import annotations

import argparse
import resource
import time

import pyarrow.compute as pc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.workload import Workload
from otlp_receiver.decode import DecodeContext, decode_request
from otlp_receiver.token_count import counted_usage

USAGE_KEYS = ("gen_ai.usage.", "llm.token_count.")
MODEL_KEYS = ("gen_ai.request.model", "llm.model_name")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _without_usage(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest.FromString(body)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                kept = [kv for kv in span.attributes if not kv.key.startswith(USAGE_KEYS)]
                if len(kept) != len(span.attributes):
                    del span.attributes[:]
                    span.attributes.extend(kept)
    return request


def _best(requests: list[ExportTraceServiceRequest], rounds: int) -> tuple[float, int]:
    """Best seconds over ``rounds`` decodes of all requests, and the tokens the last one counted."""
    ctx = DecodeContext(project_id="bench")
    best = float("inf")
    tokens = 0
    for _ in range(rounds):
        start = time.perf_counter()
        tables = [decode_request(r, ctx).table for r in requests]
        best = min(best, time.perf_counter() - start)
        tokens = sum(pc.sum(t.column("input_tokens")).as_py() or 0 for t in tables if t is not None)
    return best, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    batches = list(Workload(seed=42).batches(args.spans, 2_000, time.time_ns() - 3_600 * 10**9))
    as_sent = [ExportTraceServiceRequest.FromString(b.body) for b in batches]
    stripped = [_without_usage(b.body) for b in batches]
    spans = sum(b.spans for b in batches)
    models = [
        next(kv.value.string_value for kv in s.attributes if kv.key in MODEL_KEYS)
        for r in as_sent
        for rs in r.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
        if any(kv.key.startswith(USAGE_KEYS) for kv in s.attributes)
        and any(kv.key in MODEL_KEYS for kv in s.attributes)
    ]
    calls = sum(1 for m in models if m.startswith("gpt-"))

    before = _rss_mb()
    start = time.perf_counter()
    counted_usage("gpt-4o", "warm up", "")  # loads o200k_base
    load_s = time.perf_counter() - start
    loaded = _rss_mb()
    counted_usage("gpt-4", "warm up", "")  # and cl100k_base
    both = _rss_mb()

    _best(as_sent[:2], 1)  # warm: the first decode of a process pays for imports and caches
    sent_s, _ = _best(as_sent, args.rounds)
    bare_s, counted_tokens = _best(stripped, args.rounds)
    print(f"workload: {spans:,} spans, {len(models):,} model calls ({calls:,} of OpenAI's), best of {args.rounds}")
    print(f"decode as sent (usage reported):  {sent_s / spans * 1e6:7.1f} µs per span")
    print(f"decode without the calls' usage:   {bare_s / spans * 1e6:7.1f} µs per span")
    per_call = (bare_s - sent_s) / calls * 1e6
    print(f"counting, per OpenAI model call:   {per_call:7.1f} µs ({counted_tokens:,} input tokens counted)")
    print(f"first count (o200k_base loads):    {load_s * 1000:7.0f} ms")
    print(f"RSS: {before:.0f} MB, {loaded:.0f} MB with o200k_base, {both:.0f} MB with cl100k_base too")


if __name__ == "__main__":
    main()
