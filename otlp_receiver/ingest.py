"""The one ingest path both transports call: parse -> decode and map -> group commit."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otlp_receiver.batcher import Batcher
from otlp_receiver.decode import DecodeContext, DecodeResult, decode_request, parse_protobuf_request
from otlp_receiver.json_decode import parse_json_request
from otlp_receiver.pricing import PriceBook
from storage import Store
from storage.projects import DEFAULT_PROJECT_ID

__all__ = ["IngestService", "IngestSettings"]

log = logging.getLogger(__name__)

Format = Literal["protobuf", "json"]
CONTEXT_TTL_S = 5.0


@dataclass(frozen=True)
class IngestSettings:
    max_body_bytes: int = 64 * 1024 * 1024
    max_inflight_bytes: int = 256 * 1024 * 1024


class IngestService:
    """Stores OTLP requests; each call returns once its spans are committed."""

    def __init__(self, store: Store, settings: IngestSettings) -> None:
        self.store = store
        self.settings = settings
        self.batcher = Batcher(store.writer, settings.max_inflight_bytes)
        # Decoding is CPU work: keep it off the event loop so that the loop keeps accepting.
        self._decoder = ThreadPoolExecutor(1, thread_name_prefix="otlp-decode")
        self._context: tuple[float, dict[str, str], dict[str, int], PriceBook] | None = None
        self._context_lock = asyncio.Lock()

    async def __aenter__(self) -> IngestService:
        await self.batcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.batcher.close()
        self._decoder.shutdown(wait=True)

    async def _snapshot(self) -> tuple[dict[str, str], dict[str, int], PriceBook]:
        """Projects by name, retention and price overrides; refreshed every few seconds."""
        now = time.monotonic()
        if self._context and self._context[0] > now:
            return self._context[1], self._context[2], self._context[3]
        async with self._context_lock:
            if self._context and self._context[0] > now:
                return self._context[1], self._context[2], self._context[3]
            projects = await self.store.projects.list_projects()
            by_name = {p.name: p.id for p in projects} | {p.id: p.id for p in projects}
            retention = {p.id: p.retention_days for p in projects}
            overrides: dict[str, list[tuple[str, str, dict[str, object]]]] = {}
            for o in await self.store.prices.list_overrides():
                overrides.setdefault(o.project_id, []).append(
                    (o.id, o.match_pattern, {k: str(v) for k, v in o.prices.items()})
                )
            self._context = (now + CONTEXT_TTL_S, by_name, retention, PriceBook(overrides))
            return by_name, retention, self._context[3]

    def invalidate(self) -> None:
        """Forget cached projects and prices (after they change in this process)."""
        self._context = None

    async def ingest(
        self, body: bytes | ExportTraceServiceRequest, fmt: Format, project_id: str | None
    ) -> DecodeResult:
        """Parse, map and durably store one export request. Raises InvalidInput, Overloaded,
        StorageUnavailable; partial rejections are in the result."""
        size = len(body) if isinstance(body, bytes) else body.ByteSize()
        reservation = self.batcher.reserve(size)
        try:
            by_name, retention, prices = await self._snapshot()
            ctx = DecodeContext(
                project_id=project_id,
                default_project=DEFAULT_PROJECT_ID,
                projects_by_name=by_name,
                retention_days=retention,
                prices=prices,
            )

            def work() -> DecodeResult:
                if isinstance(body, bytes):
                    request = parse_protobuf_request(body) if fmt == "protobuf" else parse_json_request(body)
                else:
                    request = body
                return decode_request(request, ctx)

            result = await asyncio.get_running_loop().run_in_executor(self._decoder, work)
            if result.table is not None:
                await self.batcher.commit(result.table, reservation)
            return result
        finally:
            reservation.release()
