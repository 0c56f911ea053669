"""The span writer's rule for a model call recorded twice (otlp_receiver.nested_calls) alone: what it
costs per span of an insert, over the seeded workload as it is (no wrappers: the rule's first look
finds nothing to compare) and with each model call wrapped in a generation of its own (a LangChain
handler's above an instrumentation's: every trace compared, every wrapper rewritten).

    python -m bench.nested_calls

Decodes the workload, then times ``count_with_stored`` over inserts of whole requests up to 16,384
rows (the write-ahead log's size under load), best of five; µs per span.
"""

from __future__ import annotations

import argparse
import json
import time

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.workload import Workload
from otlp_receiver.decode import DecodeContext, decode_request, parse_protobuf_request
from otlp_receiver.nested_calls import COUNTED_IN, count_with_stored
from storage.writer import conform

INSERT_ROWS = 16_384


def _wrap_calls(request: ExportTraceServiceRequest) -> None:
    """Put a wrapper's generation, of the call's model and usage, above each model call."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            calls = [s for s in scope_spans.spans if s.name.startswith("chat ")]
            for call in calls:
                wrapper = scope_spans.spans.add()
                wrapper.CopyFrom(call)
                wrapper.name = "wrapper " + call.name
                wrapper.span_id = bytes(reversed(call.span_id))
                wrapper.start_time_unix_nano = call.start_time_unix_nano - 1_000_000
                wrapper.end_time_unix_nano = call.end_time_unix_nano + 1_000_000
                call.parent_span_id = wrapper.span_id


def _inserts(spans: int, seed: int, wrapped: bool) -> list[pa.Table]:
    batches = list(Workload(seed=seed).batches(spans, 2_000, time.time_ns() - 3_600 * 10**9))
    context = DecodeContext(project_id="bench")
    tables = []
    for batch in batches:
        request = parse_protobuf_request(batch.body)
        if wrapped:
            _wrap_calls(request)
        table = decode_request(request, context).table
        assert table is not None
        tables.append(table)
    # Whole requests per insert, as the write-ahead log drains them (a wrapper comes after its call
    # in its request; a request split between inserts would meet the stored look-up instead).
    inserts: list[list[pa.Table]] = [[]]
    for table in tables:
        if inserts[-1] and sum(t.num_rows for t in inserts[-1]) + table.num_rows > INSERT_ROWS:
            inserts.append([])
        inserts[-1].append(table)
    return [conform(pa.concat_tables(group)) for group in inserts]


def measure(spans: int, seed: int, wrapped: bool) -> dict[str, object]:
    """Time the rule over the workload's inserts; its report."""
    inserts = _inserts(spans, seed, wrapped)
    rows = sum(t.num_rows for t in inserts)
    best, rewritten = float("inf"), 0
    for _ in range(5):
        started = time.perf_counter()
        settled = [count_with_stored(t, []) for t in inserts]
        best = min(best, time.perf_counter() - started)
        rewritten = sum(
            sum(1 for attrs in t.column("span_attributes").to_pylist() if any(k == COUNTED_IN for k, _ in attrs))
            for t in settled
        )
    return {
        "workload": "each call wrapped" if wrapped else "as is",
        "spans": rows,
        "wrappers": rewritten,
        "us_per_span": round(best / rows * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for wrapped in (False, True):
        print(json.dumps(measure(args.spans, args.seed, wrapped)), flush=True)


if __name__ == "__main__":
    main()
