"""Tracehouse's own metrics, in Prometheus text format at ``/metrics`` on each HTTP port.

One registry per process (not prometheus_client's global one), passed to the parts that
count, so that tests and several servers in one process do not mix their numbers.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)

if TYPE_CHECKING:
    from tracehouse.disk_reserve import DiskReserve

__all__ = ["CONTENT_TYPE", "Telemetry"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "tracehouse_receiver_requests",
            "Export requests, by transport and outcome.",
            ["transport", "outcome"],
            registry=r,
        )
        self.spans_received = Counter(
            "tracehouse_receiver_spans_received", "Spans in export requests.", ["transport"], registry=r
        )
        self.spans_accepted = Counter("tracehouse_receiver_spans_accepted", "Spans stored.", ["transport"], registry=r)
        self.spans_rejected = Counter(
            "tracehouse_receiver_spans_rejected", "Spans rejected as invalid.", ["transport"], registry=r
        )
        self.records_accepted = Counter(
            "tracehouse_receiver_records_accepted",
            "Log records, metric data points and Langfuse ingestion events stored.",
            ["signal", "transport"],
            registry=r,
        )
        self.records_rejected = Counter(
            "tracehouse_receiver_records_rejected",
            "Log records, metric data points and Langfuse ingestion events rejected as invalid.",
            ["signal", "transport"],
            registry=r,
        )
        self.unavailable = Counter(
            "tracehouse_receiver_unavailable", "Requests answered 503 / UNAVAILABLE.", ["reason"], registry=r
        )
        self.batch_rows = Histogram(
            "tracehouse_store_insert_rows",
            "Rows per insert (group commit).",
            buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "tracehouse_store_insert_seconds",
            "Time to commit one insert.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.inflight_bytes = Gauge(
            "tracehouse_receiver_inflight_bytes", "Bytes of requests being decoded or awaiting commit.", registry=r
        )
        self.wal_bytes = Gauge(
            "tracehouse_wal_bytes", "Bytes of the span write-ahead log on disk (batches not inserted yet).", registry=r
        )
        self.wal_batches = Gauge(
            "tracehouse_wal_batches", "Span batches answered from the write-ahead log, not inserted yet.", registry=r
        )
        self.wal_set_aside = Counter(
            "tracehouse_wal_set_aside",
            "Logged span batches the store refused, kept in wal/refused/ for an operator.",
            registry=r,
        )
        self.query_seconds = Histogram(
            "tracehouse_query_seconds",
            "API request latency, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.backup_last_success = Gauge(
            "tracehouse_backup_last_success_timestamp_seconds",
            "When the newest scheduled backup was made (Unix time; 0: none yet).",
            registry=r,
        )
        self.backup_failures = Counter(
            "tracehouse_backup_failures", "Scheduled backups that failed (each tried again later).", registry=r
        )
        # The process's own: memory and CPU (process_*), the garbage collector's collections by
        # generation (python_gc_*), and the start-up objects frozen out of them
        # (tracehouse.start_up_heap; 0 where the server was not started by ``tracehouse``).
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        Gauge(
            "tracehouse_gc_frozen_objects",
            "Objects made at start-up that the garbage collector no longer walks.",
            registry=r,
        ).set_function(gc.get_freeze_count)

    def watch_disk(self, reserve: DiskReserve) -> None:
        """The data directory's free bytes and its reserve, read at each scrape."""
        Gauge(
            "tracehouse_disk_free_bytes", "Free bytes on the data directory's file system.", registry=self.registry
        ).set_function(lambda: reserve.state().free)
        Gauge(
            "tracehouse_disk_reserve_bytes",
            "Free bytes kept for the store's own work: below it, new data is refused (503 / UNAVAILABLE).",
            registry=self.registry,
        ).set_function(lambda: reserve.reserve_bytes)

    def render(self) -> bytes:
        return generate_latest(self.registry)
