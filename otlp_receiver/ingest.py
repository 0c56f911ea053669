"""The one ingest path both transports call: parse -> decode and map -> group commit."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otlp_receiver.batcher import Batcher, Reservation
from otlp_receiver.decode import (
    DecodeContext,
    DecodeResult,
    decode_body,
    decode_bytes,
    decode_request,
    table_from_ipc,
)
from otlp_receiver.decode_logs import LogsDecodeResult, decode_logs_bytes
from otlp_receiver.decode_metrics import MetricsDecodeResult, decode_metrics_bytes
from otlp_receiver.langfuse.service import Access, BatchResult, LangfuseIngest
from otlp_receiver.nested_calls import count_with_stored, uncount
from otlp_receiver.wal import WriteAheadLog
from pricing import PriceBook
from storage import Store
from storage.projects import DEFAULT_PROJECT_ID
from tracehouse.disk_reserve import DiskReserve
from tracehouse.errors import InvalidInput, StorageUnavailable, TracehouseError
from tracehouse.telemetry import Telemetry
from tracehouse.ttl_cache import TtlCache
from tracehouse.without_pandas import keep_pandas_out

__all__ = ["IngestService", "IngestSettings", "RecordsResult", "Signal"]

log = logging.getLogger(__name__)

Format = Literal["protobuf", "json"]
Signal = Literal["logs", "metrics"]
RecordsResult = LogsDecodeResult | MetricsDecodeResult
RECORD_DECODERS = {"logs": decode_logs_bytes, "metrics": decode_metrics_bytes}
CONTEXT_TTL_S = 5.0


@dataclass(frozen=True)
class IngestSettings:
    max_body_bytes: int = 64 * 1024 * 1024
    max_inflight_bytes: int = 256 * 1024 * 1024
    decode_workers: int = 0  # processes decoding requests; 0: one thread in this process
    wal_dir: Path | None = None  # the span write-ahead log's directory; None: no log
    log_batches: bool = True  # answer span batches from the log under load (else only replay it)
    linger_s: float = 0.25
    disk: DiskReserve | None = None  # the data directory's free space, watched against a reserve


REPLAY_ROWS = 16_384  # rows per insert while replaying the log at start-up


def default_decode_workers() -> int:
    """Decoder processes for this machine: none up to two cores (measured: on two cores a
    thread decodes as fast, since ClickHouse and the event loop need the other core), else
    one per core beyond two, as decoding is pure Python and holds the GIL."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(cores - 2, 8)


class IngestService:
    """Stores OTLP requests; each call returns once its spans are committed."""

    def __init__(self, store: Store, settings: IngestSettings, telemetry: Telemetry | None = None) -> None:
        self.store = store
        self.settings = settings
        self.telemetry = telemetry or Telemetry()
        # One model call recorded twice in two requests counts once (otlp_receiver.nested_calls).
        store.writer.stored_calls_rule = count_with_stored
        store.writer.uncount_rule = uncount
        # Langfuse ingestion is a lane of the same batcher: its batches merge with stored state.
        self.langfuse = LangfuseIngest(store)
        self.wal = WriteAheadLog(settings.wal_dir) if settings.wal_dir is not None else None
        self.batcher = Batcher(
            {**store.writers, "langfuse": self.langfuse},
            settings.max_inflight_bytes,
            wal=self.wal if settings.log_batches else None,
            linger_s=settings.linger_s,
            disk=settings.disk,
        )
        self.batcher.telemetry = self.telemetry
        # Decoding is CPU work: off the event loop, so that the loop keeps accepting, and in
        # separate processes when configured, so that it runs on every core.
        self._decoder: Executor = self._new_decoder()
        self._log_decoder = ThreadPoolExecutor(1, thread_name_prefix="otlp-decode-logs")
        # Projects, retention and prices: the common short-lived cache, cleared by the change hook.
        self._context = TtlCache(CONTEXT_TTL_S)

    async def __aenter__(self) -> IngestService:
        if self.wal is not None:
            await self.replay()
        await self.batcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.batcher.close()
        if self.wal is not None:
            await self.wal.close()
        self._decoder.shutdown(wait=True)
        self._log_decoder.shutdown(wait=True)

    async def replay(self) -> int:
        """Insert what the write-ahead log holds from before a crash, then empty it; the rows.
        The span writer skips spans stored already, so a batch whose insert had committed is not
        stored twice, and a crash during the replay is repaired by the next one."""
        assert self.wal is not None
        rows = 0
        chunk: list[pa.Table] = []
        for record in self.wal.records():
            chunk.append(record.table)
            if sum(t.num_rows for t in chunk) >= REPLAY_ROWS:
                rows += await self._replay_chunk(chunk)
                chunk = []
        if chunk:
            rows += await self._replay_chunk(chunk)
        self.wal.discard_replayed()
        if rows:
            log.warning("replayed %d spans from the write-ahead log (an unclean shutdown)", rows)
        return rows

    async def _replay_chunk(self, tables: list[pa.Table]) -> int:
        """Insert logged batches together; if the store refuses that, batch by batch, and a batch
        it refuses alone is set aside, not retried at every start (StorageUnavailable propagates:
        the start fails and the log stays)."""
        writer = self.store.writers["spans"]
        assert self.wal is not None
        if len(tables) > 1:
            try:
                return await writer.write(pa.concat_tables(tables))
            except StorageUnavailable:
                raise
            except Exception:
                log.warning("the store refused a replayed chunk; replaying its batches one by one", exc_info=True)
        rows = 0
        for table in tables:
            written = await self.wal.write_or_set_aside(writer.write, table)
            if written is None:
                self.telemetry.wal_set_aside.inc()
            else:
                rows += written
        return rows

    def _new_decoder(self) -> Executor:
        if self.settings.decode_workers <= 0:
            return ThreadPoolExecutor(1, thread_name_prefix="otlp-decode")
        # forkserver: never fork this process, whose embedded ClickHouse runs threads.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(self.settings.decode_workers, mp_context=context, initializer=keep_pandas_out)

    async def snapshot(self) -> tuple[dict[str, str], dict[str, int], PriceBook]:
        """Projects by name, retention and price overrides; refreshed every few seconds."""

        async def load() -> tuple[dict[str, str], dict[str, int], PriceBook]:
            projects = await self.store.projects.list_projects()
            names = Counter(p.name for p in projects)
            # A name that projects of several organizations share routes nowhere ("").
            by_name = {p.name: p.id if names[p.name] == 1 else "" for p in projects} | {p.id: p.id for p in projects}
            retention = {p.id: p.retention_days for p in projects}
            overrides: dict[str, list[tuple[str, str, dict[str, object]]]] = {}
            for o in await self.store.prices.list_overrides():
                overrides.setdefault(o.project_id, []).append(
                    (o.id, o.match_pattern, {k: str(v) for k, v in o.prices.items()})
                )
            return by_name, retention, PriceBook(overrides)

        result: tuple[dict[str, str], dict[str, int], PriceBook] = await self._context.get("snapshot", "", load)
        return result

    async def _decode(self, body: bytes | ExportTraceServiceRequest, fmt: Format, ctx: DecodeContext) -> DecodeResult:
        loop = asyncio.get_running_loop()
        if not isinstance(self._decoder, ProcessPoolExecutor):
            # A thread shares our memory: a parsed request goes in and the table comes out as they are.
            if isinstance(body, bytes):
                return await loop.run_in_executor(self._decoder, decode_bytes, body, fmt, ctx)
            return await loop.run_in_executor(self._decoder, decode_request, body, ctx)
        # A decoder process takes and returns bytes: the request as protobuf, the table as Arrow IPC.
        if not isinstance(body, bytes):
            body = body.SerializeToString()
        try:
            payload, accepted, rejected, message = await loop.run_in_executor(
                self._decoder, decode_body, body, fmt, ctx
            )
        except BrokenProcessPool:
            # A decoder process died (a crash in a parser on hostile input): replace the pool
            # and refuse this request; the others go on.
            log.error("a decoder process died; restarting the decoder pool")
            self._decoder = self._new_decoder()
            raise InvalidInput("the request could not be decoded (the decoder failed on it)") from None
        table = table_from_ipc(payload) if payload is not None else None
        return DecodeResult(table, accepted, rejected, message)

    def invalidate(self) -> None:
        """Forget cached projects and prices (after they change in this process)."""
        self._context.clear()

    async def ingest(
        self, body: bytes | ExportTraceServiceRequest, fmt: Format, project_id: str | None, transport: str = "http"
    ) -> DecodeResult:
        """Store one export request, counting it (see ``_ingest``)."""
        t = self.telemetry
        try:
            result = await self._ingest(body, fmt, project_id)
        except TracehouseError as exc:
            self._count_refusal(transport, exc)
            raise
        finally:
            t.inflight_bytes.set(self.batcher.inflight_bytes)
        t.requests.labels(transport, "ok").inc()
        t.spans_received.labels(transport).inc(result.accepted + result.rejected)
        t.spans_accepted.labels(transport).inc(result.accepted)
        t.spans_rejected.labels(transport).inc(result.rejected)
        return result

    async def ingest_records(
        self, signal: Signal, body: bytes, fmt: Format, project_id: str | None, transport: str = "http"
    ) -> RecordsResult:
        """Store one OTLP logs or metrics request: every table it decodes to (log records and the
        scores of evaluation events; data points) is durable before this returns. Raises as
        ``ingest``; partial rejections are in the result."""
        t = self.telemetry
        reservation: Reservation | None = None
        try:
            # Inside: a refusal to admit (overload, outage, a full disk) is counted like the others.
            reservation = await self.batcher.admit(len(body))
            ctx = await self._context_for(project_id)
            loop = asyncio.get_running_loop()
            # In a thread even with decoder processes: their volume is small next to spans'.
            result = await loop.run_in_executor(self._log_decoder, RECORD_DECODERS[signal], body, fmt, ctx)
            await asyncio.gather(
                *(self.batcher.commit(table, reservation, lane) for lane, table in result.tables.items())
            )
        except TracehouseError as exc:
            self._count_refusal(transport, exc)
            raise
        finally:
            if reservation is not None:
                reservation.release()
            t.inflight_bytes.set(self.batcher.inflight_bytes)
        t.requests.labels(transport, "ok").inc()
        t.records_accepted.labels(signal, transport).inc(result.accepted)
        t.records_rejected.labels(signal, transport).inc(result.rejected)
        return result

    async def ingest_langfuse(self, access: Access, batch: list[Any], nbytes: int) -> BatchResult:
        """Store a batch of Langfuse ingestion events: parsed here, merged and written by the
        batcher's Langfuse lane, durable before this returns. Raises Overloaded or
        StorageUnavailable (then nothing of it is stored); bad events fail alone in the result."""
        t = self.telemetry
        reservation: Reservation | None = None
        try:
            reservation = await self.batcher.admit(nbytes)
            _, retention, prices = await self.snapshot()
            self.langfuse.prices = prices
            batch, refused = await self._check_score_configs(access.project_id, batch)
            result, job = self.langfuse.prepare(access, batch, retention.get(access.project_id, 0))
            result.errors.extend(refused)
            if job.events:
                await self.batcher.commit(job, reservation, "langfuse")
        except TracehouseError as exc:
            self._count_refusal("langfuse", exc)
            raise
        finally:
            if reservation is not None:
                reservation.release()
            t.inflight_bytes.set(self.batcher.inflight_bytes)
        t.requests.labels("langfuse", "ok").inc()
        t.records_accepted.labels("langfuse_events", "langfuse").inc(len(result.successes))
        t.records_rejected.labels("langfuse_events", "langfuse").inc(len(result.errors))
        return result

    async def _check_score_configs(self, project: str, batch: list[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
        """Scores that name a score config must fit it: the others fail alone, with the reason."""
        named = [e for e in batch if isinstance(e, dict) and e.get("type") == "score-create"
                 and isinstance(e.get("body"), dict) and e["body"].get("configId")]  # fmt: skip
        if not named:
            return batch, []

        async def load() -> dict[str, Any]:
            return {c.id: c for c in await self.store.annotations.configs(project)}

        configs = await self._context.get("score_configs", project, load)
        kept, refused = [], []
        for event in batch:
            body = event.get("body") if isinstance(event, dict) else None
            config_id = body.get("configId") if isinstance(body, dict) and event.get("type") == "score-create" else None
            if config_id:
                config = configs.get(config_id)
                problem = config.problem(body.get("value"), body.get("dataType")) if config else (
                    f"score config {config_id!r} does not exist in this project")  # fmt: skip
                if problem:
                    refused.append(
                        {"id": event.get("id"), "status": 400, "message": "Invalid request data", "error": problem}
                    )
                    continue
            kept.append(event)
        return kept, refused

    def _count_refusal(self, transport: str, exc: TracehouseError) -> None:
        self.telemetry.requests.labels(transport, exc.code).inc()
        if exc.http_status == 503:
            self.telemetry.unavailable.labels(exc.code).inc()

    async def _context_for(self, project_id: str | None) -> DecodeContext:
        by_name, retention, prices = await self.snapshot()
        return DecodeContext(
            project_id=project_id,
            default_project=DEFAULT_PROJECT_ID,
            projects_by_name=by_name,
            retention_days=retention,
            prices=prices,
        )

    async def _ingest(
        self, body: bytes | ExportTraceServiceRequest, fmt: Format, project_id: str | None
    ) -> DecodeResult:
        """Parse, map and durably store one export request. Raises InvalidInput, Overloaded,
        StorageUnavailable; partial rejections are in the result."""
        size = len(body) if isinstance(body, bytes) else body.ByteSize()
        reservation = await self.batcher.admit(size)
        try:
            ctx = await self._context_for(project_id)
            result = await self._decode(body, fmt, ctx)
            if result.table is not None:
                await self.batcher.commit(result.table, reservation)
            return result
        finally:
            reservation.release()
