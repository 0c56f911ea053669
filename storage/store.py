"""The store: one backend, migrated, with its writer, reader and project registry."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from storage.annotations import AnnotationStore
from storage.api import Backend, BatchWriter, Row, TraceSource, VersionedEventStore
from storage.audit import AuditLog
from storage.backends import open_backend
from storage.comments import CommentStore
from storage.datasets import DatasetStore
from storage.evaluations import EvalStore
from storage.experiment_runs import ExperimentRuns
from storage.invitations import Invitations
from storage.journal import InsertJournal
from storage.langfuse import LangfuseReader, LangfuseStore
from storage.lifecycle import Lifecycle
from storage.llm_connections import LlmConnectionStore
from storage.logs import LogReader
from storage.media import MediaBlobs, MediaFiles, MediaStore
from storage.metrics import MetricsReader
from storage.metrics_query import MetricsQuery, run_metrics_query
from storage.migrations import migrate, schema_version
from storage.organizations import Organizations
from storage.otlp_metrics import OtlpMetricsReader
from storage.prices import Prices
from storage.projects import Projects
from storage.prompts import PromptStore
from storage.reader import TraceReader
from storage.recent_spans import RecentSpans
from storage.shares import TraceShares
from storage.skills import SkillStore
from storage.tables import LOGS, METRIC_POINTS, SCORES
from storage.tempo import TempoReader
from storage.trace_cache import TraceCache
from storage.users import Users
from storage.writer import RowWriter, SpanWriter

__all__ = ["Store"]

log = logging.getLogger(__name__)

# Traces read recently, kept in memory while unchanged: a few hundred typical traces.
DEFAULT_TRACE_CACHE_BYTES = 32 * 1024 * 1024


class Store:
    """Everything above ``storage`` talks to the store through this object."""

    def __init__(
        self,
        backend: Backend,
        media_dir: Path | None = None,
        media: MediaBlobs | None = None,
        trace_cache_bytes: int = DEFAULT_TRACE_CACHE_BYTES,
    ) -> None:
        self.backend = backend
        self.projects = Projects(backend)
        self.prices = Prices(backend)
        data_dir = getattr(backend, "data_dir", None)
        # The embedded store's directory (None on a ClickHouse server): where local files live.
        self.data_dir: Path | None = Path(data_dir) if data_dir else None
        if media_dir is None and data_dir:
            media_dir = Path(data_dir) / "media"
        # The bytes of media: an object store when one is given, else files on this machine.
        self.media = MediaStore(backend, media or (MediaFiles(media_dir) if media_dir else None))
        # Traces read recently, kept in memory while unchanged (storage.trace_cache).
        self.trace_cache = TraceCache(trace_cache_bytes)
        # The span batches inserted last, for the first read of a trace just written
        # (storage.recent_spans): a quarter of the trace cache's budget more.
        self.recent_spans = RecentSpans(trace_cache_bytes // 4)
        # Deleting traces (GDPR requests, retention) deletes the files only they held.
        self.lifecycle = Lifecycle(backend, self.projects, after_delete=self._after_delete)
        self.organizations = Organizations(backend, self.projects)
        self.invitations = Invitations(backend)
        self.prompts = PromptStore(backend)
        self.skills = SkillStore(backend)
        self.datasets = DatasetStore(backend)
        self.experiment_runs = ExperimentRuns(backend)
        self.llm_connections = LlmConnectionStore(backend)
        self.evaluations = EvalStore(backend)
        self.annotations = AnnotationStore(backend)
        self.comments = CommentStore(backend)
        self.shares = TraceShares(backend)
        self.audit = AuditLog(backend)
        self.users = Users(backend)
        # The embedded store repairs view rows a crash left half-written (storage/journal.py).
        self.journal = InsertJournal(data_dir) if backend.kind == "embedded" and data_dir else None
        self.writer = SpanWriter(backend, self.journal, self.recent_spans)
        # Every table the receiver writes, by the name its batches are committed under.
        self.writers: dict[str, BatchWriter] = {
            "spans": self.writer,
            "logs": RowWriter(backend, LOGS),
            "scores": RowWriter(backend, SCORES),
            "metrics": RowWriter(backend, METRIC_POINTS),
        }
        self.reader: TraceSource = TraceReader(backend, self.trace_cache, self.recent_spans)
        self.logs = LogReader(backend)
        # Every other reader and writer callers need: they go through the store, never its backend.
        self.langfuse = LangfuseReader(backend)
        self.langfuse_writer: VersionedEventStore = LangfuseStore(backend, self.journal, self.recent_spans)
        self.tempo = TempoReader(backend)
        self.metrics = MetricsReader(backend)
        self.otlp_metrics = OtlpMetricsReader(backend)

    @classmethod
    async def open(
        cls,
        *,
        data_dir: Path | None = None,
        clickhouse_url: str | None = None,
        server_options: Mapping[str, Any] | None = None,
        run_migrations: bool = True,
        media_dir: Path | None = None,
        media: MediaBlobs | None = None,
        trace_cache_bytes: int = DEFAULT_TRACE_CACHE_BYTES,
    ) -> Store:
        """Open the embedded store in ``data_dir`` or the server at ``clickhouse_url``,
        apply pending migrations and create the default organization and project."""
        backend = open_backend(data_dir=data_dir, clickhouse_url=clickhouse_url, server_options=server_options)
        store = cls(backend, media_dir or (Path(data_dir) / "media" if data_dir else None), media, trace_cache_bytes)
        try:
            if run_migrations:
                applied = await migrate(backend)
                if applied:
                    log.info("schema migrated to version %d", applied[-1])
                await store.projects.ensure_defaults()
            if store.journal is not None:
                await store.journal.recover(backend)
        except BaseException:
            await backend.close()
            raise
        return store

    async def _after_delete(self, project: str) -> int:
        # Another process's copies are read again when the trace index no longer has the trace.
        self.trace_cache.forget(project)
        self.recent_spans.forget(project)
        return await self.media.sweep(project)

    async def metrics_query(self, project: str, query: MetricsQuery) -> list[Row]:
        """Langfuse's metrics query (``/api/public/v2/metrics``) over one project."""
        return await run_metrics_query(self.backend, project, query)

    async def server_clock(self) -> tuple[str, float]:
        """The ClickHouse version and its clock (Unix seconds): for ``tracehouse doctor``."""
        rows = await self.backend.query("SELECT version() AS v, toUnixTimestamp64Milli(now64(3)) AS now")
        return str(rows[0]["v"]), rows[0]["now"] / 1000

    async def schema_version(self) -> int:
        return await schema_version(self.backend)

    def release_start_up_memory(self) -> int:
        """Drop the embedded engine's library pages that starting the process touched; the
        bytes released (storage.backends.library_pages)."""
        if self.backend.kind != "embedded":
            return 0
        # Imported here: importing chdb alone touches 168 MB, which a ClickHouse-server process never needs.
        from storage.backends.embedded import ENGINE_LIBRARY
        from storage.backends.library_pages import release_library_pages

        return release_library_pages(ENGINE_LIBRARY)

    async def close(self) -> None:
        await self.backend.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
