"""A store outage under the real OpenTelemetry SDK: the receiver refuses at once with a retry
hint (503 / UNAVAILABLE), holds no more than its in-flight bound, and once the store is back the
SDK's own retries deliver every span, each stored once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests.conftest import serving
from tests.otel import exporter, provider
from tests.test_otlp_errors import GatedBackend, count
from tracehouse.server import Running
from tracehouse.telemetry import Telemetry

pytestmark = pytest.mark.slow

# Three retries of each sender fall in it (the receiver's hints grow 1, 1, 2 s), which leaves the
# HTTP exporter three of its six attempts for the herd that follows; at 4 s the hints reached 4 s
# and left two, and on a slow, loaded CI machine a sender spent both on a full waiting room.
OUTAGE_S = 3.0
SPANS_PER_SENDER = 15
# Small enough that the four senders pass it while the store is stalled (a span request is ~330 bytes).
INFLIGHT_BOUND = 1024  # the smallest bound the settings allow


@pytest.fixture
async def bounded(tmp_path: Path):
    async with serving(tmp_path / "data", max_inflight_bytes=INFLIGHT_BOUND) as r:
        yield r


class Recording(SpanExporter):
    """The SDK exporter, with the outcome of every export counted: a span whose export the SDK
    gave up on was never acknowledged, so it is not the server's to keep."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.results: list[SpanExportResult] = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.extend([result] * len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


def refusals(telemetry: Telemetry) -> float:
    """503 / UNAVAILABLE answers counted so far."""
    return sum(s.value for m in telemetry.unavailable.collect() for s in m.samples if s.name.endswith("_total"))


def emit(recording: Recording, tag: str) -> None:
    """A service emitting spans one by one; SimpleSpanProcessor blocks in the exporter's retries."""
    tp = provider(recording, service=f"outage-{tag}")
    tracer = tp.get_tracer("outage")
    for i in range(SPANS_PER_SENDER):
        with tracer.start_as_current_span(f"{tag}-{i}") as span:
            span.set_attribute("gen_ai.usage.input_tokens", 3)
    tp.shutdown()


@pytest.mark.parametrize("mode", ["failing", "stalled"])
async def test_sdk_retries_deliver_everything_after_an_outage(bounded: Running, mode: str) -> None:
    gated = GatedBackend(bounded.store.writer._backend)
    bounded.store.writer._backend = gated
    if mode == "failing":
        gated.fail = True  # every insert raises StorageUnavailable
    # "stalled": inserts hang at the gate until it opens
    assert bounded.ingest is not None
    telemetry = bounded.ingest.telemetry
    refused_before = refusals(telemetry)

    peak = peak_waiting = 0
    sampling = True

    async def sample() -> None:
        nonlocal peak, peak_waiting
        while sampling:
            peak = max(peak, bounded.ingest.batcher.inflight_bytes)
            peak_waiting = max(peak_waiting, bounded.ingest.batcher.waiting_bytes)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    # An export budget of 60 s (the SDK's default is 10), so that retries outlast the outage on a
    # busy CI machine too.
    recordings = {
        f"{kind}-{n}": Recording(exporter(kind, bounded, timeout=60)) for n in range(2) for kind in ("http", "grpc")
    }
    senders = [threading.Thread(target=emit, args=(r, tag), daemon=True) for tag, r in recordings.items()]
    started = time.monotonic()
    for t in senders:
        t.start()
    await asyncio.sleep(OUTAGE_S)
    gated.fail = False
    gated.gate.set()  # the store is back
    await asyncio.to_thread(lambda: [t.join(120) for t in senders])
    sampling = False
    await sampler
    assert not any(t.is_alive() for t in senders)

    await bounded.ingest.batcher.settled()  # batches answered from the write-ahead log go in after
    expected = SPANS_PER_SENDER * len(senders)
    outcomes = [result for r in recordings.values() for result in r.results]
    assert outcomes.count(SpanExportResult.SUCCESS) == expected, "the SDK gave up on some spans: " + str(outcomes)
    stored = await count(bounded, "service_name LIKE 'outage-%'")
    assert stored == expected, f"{stored} spans stored of {expected} sent through a {OUTAGE_S} s outage"
    dupes = await bounded.store.backend.query(
        "SELECT count() - uniqExact(trace_id, span_id) AS d FROM spans WHERE service_name LIKE 'outage-%'"
    )
    assert dupes[0]["d"] == 0
    tokens = await bounded.store.backend.query(
        "SELECT sum(input_tokens) AS t FROM traces WHERE arrayExists(s -> startsWith(s, 'outage-'), services)"
    )
    assert tokens[0]["t"] == 3 * expected  # nothing counted twice in the summaries
    refused = refusals(telemetry)
    assert refused > refused_before, "during the outage the receiver must answer 503 / UNAVAILABLE"
    assert peak <= INFLIGHT_BOUND, f"in-flight bytes reached {peak}, over the bound {INFLIGHT_BOUND}"
    assert peak_waiting <= INFLIGHT_BOUND, f"waiting bytes reached {peak_waiting}, over the bound"
    assert bounded.ingest.batcher.inflight_bytes == 0
    print(
        f"\noutage ({mode}): {OUTAGE_S} s, {expected} spans sent by 4 SDK exporters, {stored} stored once, "
        f"{int(refused - refused_before)} refusals, peak in-flight {peak} bytes, "
        f"done {time.monotonic() - started:.1f} s after the start"
    )
