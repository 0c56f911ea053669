"""Acked means durable, through kill -9.

`tracehouse serve` runs in a subprocess while several senders push OTLP over HTTP and gRPC and
record every request the server acknowledged. The server is killed with SIGKILL at random
moments, several times, and restarted on the same data directory. At the end every request that
was never acknowledged is sent again (as an exporter's retry would), a share of the acknowledged
ones too (an exporter that lost the answer), and the store must hold every span exactly once:
no acked span lost, nothing counted twice in the per-trace summaries. A fifth sender posts log
records to /v1/logs under the same kills: every acked record is stored, and read once. A sixth
posts Langfuse ingestion batches (traces with a generation created, then updated, in separate
batches): every acked event is stored, each observation once, with its update merged. Span
requests that arrive while an insert runs are answered from the write-ahead log: the starts after
the kills replay it, and that too must store each span once.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from storage import Store
from tests.conftest import Server, run_cli, start_server
from tests.otlp_data import request

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("TRACEHOUSE_CRASH_SEED", "20261127"))
KILLS = 4
SENDERS = [("http", 0), ("http", 1), ("grpc", 2), ("grpc", 3), ("logs", 4), ("langfuse", 5)]
RECORDS_PER_REQUEST = 8
TRACES_PER_REQUEST = 4
SPANS_PER_TRACE = 6
INPUT_TOKENS = 11
OUTPUT_TOKENS = 4
AUTH: dict[str, str] = {}  # the key pair every sender uses, set by the test


@dataclass
class Sent:
    """One export request and what became of it."""

    body: bytes
    trace_ids: list[str]
    acked: bool = False
    records: list[str] = field(default_factory=list)  # log record bodies, for a logs request
    generations: list[str] = field(default_factory=list)  # observation ids, for a Langfuse batch
    langfuse: bool = False


@dataclass
class Ledger:
    requests: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)

    def acked(self) -> list[Sent]:
        return [r for r in self.requests if r.acked]


def make_request(rng: random.Random, sender: int, n: int) -> Sent:
    """TRACES_PER_REQUEST traces of SPANS_PER_TRACE generations each, with fixed token counts."""
    spans, trace_ids = [], []
    now = time.time_ns()
    for t in range(TRACES_PER_REQUEST):
        trace_id = rng.randbytes(12) + bytes([sender, n >> 16 & 255, n >> 8 & 255, t])
        trace_ids.append(trace_id.hex())
        root = rng.randbytes(8)
        for s in range(SPANS_PER_TRACE):
            spans.append(
                {
                    "trace_id": trace_id,
                    "span_id": root if s == 0 else rng.randbytes(8),
                    "parent_span_id": b"" if s == 0 else root,
                    "name": "chat gpt-4o" if s else "agent",
                    "start": now + s * 1_000_000,
                    "end": now + (s + 1) * 1_000_000,
                    "attrs": {
                        "gen_ai.operation.name": "chat",
                        # The root's call is another model's: not a wrapper of the calls under it
                        # (otlp_receiver.nested_calls), so that every span's tokens count.
                        "gen_ai.request.model": "gpt-4o" if s else "claude-sonnet-4-5",
                        "gen_ai.usage.input_tokens": INPUT_TOKENS,
                        "gen_ai.usage.output_tokens": OUTPUT_TOKENS,
                    },
                }
            )
    body = request(spans, {"service.name": f"sender-{sender}"}).SerializeToString()
    return Sent(body, trace_ids)


def make_log_request(sender: int, n: int) -> Sent:
    """RECORDS_PER_REQUEST log records, each with a body of its own."""
    from tests.test_otlp_logs import log_request

    bodies = [f"log {sender}-{n}-{i}" for i in range(RECORDS_PER_REQUEST)]
    now = time.time_ns()
    records = [{"time": now + i, "body": body, "severity": 9} for i, body in enumerate(bodies)]
    return Sent(log_request(records, service=f"sender-{sender}").SerializeToString(), [], records=bodies)


def make_langfuse_batch(sender: int, n: int) -> Sent:
    """Langfuse SDK events: even batches create traces and generations, odd ones update the
    generations of the batch before (an update may also come first, after a kill)."""
    import json
    import uuid

    base = n - n % 2
    ids = [f"lf-{sender}-{base}-{i}" for i in range(TRACES_PER_REQUEST)]
    at = "2026-11-30T10:00:00Z"
    if n % 2 == 0:
        events = [
            e
            for i in ids
            for e in (
                {"id": f"{i}-t", "type": "trace-create", "timestamp": at, "body": {"id": i, "name": "lf"}},
                {
                    "id": f"{i}-g",
                    "type": "generation-create",
                    "timestamp": at,
                    "body": {"id": f"{i}-gen", "traceId": i, "name": "llm", "startTime": at,
                             "usage": {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS}},
                },
            )
        ]  # fmt: skip
    else:
        events = [
            {"id": f"{i}-u", "type": "generation-update", "timestamp": "2026-11-30T10:00:01Z",
             "body": {"id": f"{i}-gen", "traceId": i, "output": "done"}}
            for i in ids
        ]  # fmt: skip
    body = json.dumps({"batch": events, "metadata": {"batch_id": str(uuid.uuid4())}}).encode()
    return Sent(body, [], generations=[f"{i}-gen" for i in ids], langfuse=True)


def send_langfuse(server: Server, body: bytes) -> bool:
    return send_http(server.api_url, body, "/api/public/ingestion", "application/json", status=207)


def send_http(
    url: str, body: bytes, path: str = "/v1/traces", content_type: str = "application/x-protobuf", status: int = 200
) -> bool:
    headers = {"Content-Type": content_type, **AUTH}
    req = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            response.read()
            return response.status == status
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def send_grpc(address: str, body: bytes) -> bool:
    with grpc.insecure_channel(address) as channel:
        stub = TraceServiceStub(channel)
        try:
            stub.Export(
                ExportTraceServiceRequest.FromString(body),
                timeout=30,
                metadata=tuple((k.lower(), v) for k, v in AUTH.items()),
            )
        except grpc.RpcError:
            return False
        return True


def sender_loop(
    transport: str, index: int, server: Server, ledger: Ledger, stop: threading.Event, rng: random.Random
) -> None:
    n = 0
    while not stop.is_set():
        if transport == "langfuse":
            sent = make_langfuse_batch(index, n)
        elif transport == "logs":
            sent = make_log_request(index, n)
        else:
            sent = make_request(rng, index, n)
        n += 1
        with ledger.lock:
            ledger.requests.append(sent)
        if transport == "langfuse":
            sent.acked = send_langfuse(server, sent.body)
        elif transport == "logs":
            sent.acked = send_http(server.otlp_http_url, sent.body, "/v1/logs")
        elif transport == "http":
            sent.acked = send_http(server.otlp_http_url, sent.body)
        else:
            sent.acked = send_grpc(server.otlp_grpc_address, sent.body)
        if not sent.acked:
            time.sleep(0.05)  # the server is gone; the phase ends with the kill


def resend(server: Server, sent: Sent, transport: str) -> None:
    for _ in range(100):
        if sent.langfuse:
            ok = send_langfuse(server, sent.body)
        elif sent.records:
            ok = send_http(server.otlp_http_url, sent.body, "/v1/logs")
        elif transport == "http":
            ok = send_http(server.otlp_http_url, sent.body)
        else:
            ok = send_grpc(server.otlp_grpc_address, sent.body)
        if ok:
            sent.acked = True
            return
        time.sleep(0.2)
    raise AssertionError("a resent request was never acknowledged by the restarted server")


async def stored(
    data_dir: Path,
) -> tuple[dict[str, int], dict[str, tuple[int, int, int]], dict[str, int], dict[str, tuple[int, str]]]:
    """Spans rows per trace (no FINAL: duplicates not merged yet are counted), the summary's
    span count and token sums per trace (sums never collapse, so a double count shows), and the
    log records per body as readers see them (one row per record id)."""
    store = await Store.open(data_dir=data_dir)
    try:
        rows = await store.backend.query(
            "SELECT trace_id, count() AS n, uniqExact(span_id) AS u FROM spans "
            "WHERE project_id = 'default' AND sign = 1 AND NOT startsWith(trace_id, 'lf-') GROUP BY trace_id"
        )
        spans = {}
        for r in rows:
            assert r["n"] == r["u"], f"trace {r['trace_id']} holds a span twice ({r['n']} rows, {r['u']} spans)"
            spans[r["trace_id"]] = int(r["n"])
        summary = {
            r["trace_id"]: (int(r["spans"]), int(r["inp"]), int(r["out"]))
            for r in await store.backend.query(
                "SELECT trace_id, sum(span_count) AS spans, sum(input_tokens) AS inp, sum(output_tokens) AS out "
                "FROM traces WHERE project_id = 'default' GROUP BY trace_id"
            )
        }
        logs = {
            r["body"]: int(r["n"])
            for r in await store.backend.query(
                "SELECT body, count() AS n FROM (SELECT body FROM logs WHERE project_id = 'default' "
                "ORDER BY record_id LIMIT 1 BY record_id) GROUP BY body"
            )
        }
        # Langfuse observations: rows as readers see them (FINAL), and the merged output.
        generations = {
            r["span_id"]: (int(r["n"]), r["output"])
            for r in await store.backend.query(
                "SELECT span_id, count() AS n, any(output) AS output FROM spans FINAL "
                "WHERE project_id = 'default' AND startsWith(trace_id, 'lf-') AND observation_type = 'GENERATION' "
                "GROUP BY span_id"
            )
        }
    finally:
        await store.close()
    return spans, summary, logs, generations


def test_every_acked_span_survives_kill_9_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    ledger = Ledger()
    # A key for every sender: Langfuse's API always names one (and then OTLP needs it too).
    key = run_cli("keys", "create", "--project", "default", "--data-dir", str(data_dir))
    assert key.returncode == 0, key.stderr
    public = next(w for w in key.stdout.split() if w.startswith("pk-th-"))
    secret = next(w for w in key.stdout.split() if w.startswith("sk-th-"))
    AUTH["Authorization"] = "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()
    kills = 0
    for phase in range(KILLS):
        server = start_server(data_dir, "--log-level", "warning")
        stop = threading.Event()
        threads = []
        for transport, index in SENDERS:
            t = threading.Thread(
                target=sender_loop,
                args=(transport, index * 16 + phase, server, ledger, stop, random.Random(rng.random())),
                daemon=True,
            )
            threads.append(t)
            t.start()
        time.sleep(rng.uniform(1.5, 4.0))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
        kills += 1
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a sender hung after the kill"

    acked_before = len(ledger.acked())
    unacked = [r for r in ledger.requests if not r.acked]
    assert acked_before > 0 and unacked, "the kills must land while requests are acked and in flight"

    # Restart; the exporters retry what they never saw acknowledged, and some that were acked.
    server = start_server(data_dir, "--log-level", "warning")
    try:
        for i, sent in enumerate(ledger.requests):
            if not sent.acked or i % 5 == 0:
                resend(server, sent, "http" if i % 2 else "grpc")
    finally:
        assert server.stop() == 0, server.log()

    # Senders that found an insert running were answered from the write-ahead log: the kills
    # left some of those behind, and the starts after them replayed the log.
    replays = [p for p in tmp_path.glob("serve-*.log") if "from the write-ahead log" in p.read_text()]
    assert replays, "no start replayed the write-ahead log: the kills never found a logged batch"

    spans, summary, logs, generations = asyncio.run(stored(data_dir))
    expected_generations = {g for r in ledger.requests if r.acked for g in r.generations}
    assert expected_generations, "the Langfuse sender must have been acknowledged"
    lost_generations = expected_generations - generations.keys()
    assert not lost_generations, f"{len(lost_generations)} acked Langfuse observations lost after {kills} kills"
    assert all(n == 1 for n, _ in generations.values()), "a Langfuse observation is stored twice"
    updated = {g for r in ledger.requests if r.acked and b"generation-update" in r.body for g in r.generations}
    assert all(generations[g][1] == '"done"' or generations[g][1] == "done" for g in updated & generations.keys())
    expected_records = {b for r in ledger.requests for b in r.records}
    assert expected_records, "the logs sender must have sent"
    lost_records = expected_records - logs.keys()
    assert not lost_records, f"{len(lost_records)} acked log records lost after {kills} kills"
    doubled_records = {b: n for b, n in logs.items() if n != 1}
    assert not doubled_records, f"log records stored twice: {list(doubled_records.items())[:5]}"
    expected_traces = {t for r in ledger.requests for t in r.trace_ids}
    missing = expected_traces - spans.keys()
    assert not missing, f"{len(missing)} acked traces lost after {kills} kills"
    wrong = {t: n for t, n in spans.items() if t in expected_traces and n != SPANS_PER_TRACE}
    assert not wrong, f"traces with lost or doubled spans: {list(wrong.items())[:5]}"
    want = (SPANS_PER_TRACE, SPANS_PER_TRACE * INPUT_TOKENS, SPANS_PER_TRACE * OUTPUT_TOKENS)
    doubled = {t: v for t, v in summary.items() if t in expected_traces and v != want}
    assert not doubled, f"summaries counted twice or short: {list(doubled.items())[:5]}"
    print(
        f"\ncrash durability: seed {SEED}, {kills} kills, {len(ledger.requests)} requests "
        f"({acked_before} acked before the kills, {len(unacked)} unacked then resent), "
        f"{len(expected_traces) * SPANS_PER_TRACE} spans, {len(expected_records)} log records and "
        f"{len(expected_generations)} Langfuse generations, 0 lost, 0 doubled"
    )
