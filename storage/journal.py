"""Crash repair for the span summaries: an insert journal and the rebuild it drives.

An insert into ``spans`` also feeds the ``trace_index`` and ``traces`` views, and ClickHouse
commits the three parts one after the other, not atomically. A process killed between them
leaves a trace whose spans are stored but whose index or summary rows are missing. A retried
export would then not be recognised as stored, and would be counted twice.

So, on the embedded store, every span insert first writes the (project, trace id) pairs it
touches to a small file in ``<data_dir>/journal/``, fsynced, and removes the file once the
insert has committed. A file still there at start-up names every trace the crash could have
left half-summarised. ``recover`` rebuilds their index and summary rows from the spans
themselves, then removes the file. The rebuild is idempotent, so a crash during recovery is
repaired by the next start.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from storage.api import Backend
from storage.tables import TRACE_INDEX, TRACE_INDEX_MV, TRACES, TRACES_MV

__all__ = ["JOURNAL_DIR", "WAL_DIR", "InsertJournal", "rebuild_summaries"]

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
# The span write-ahead log's directory beside it (otlp_receiver.wal writes it; a backup copies both).
WAL_DIR = "wal"

# The current version of each span of the given traces: rows that are not cancelled, newest first.
_CURRENT_SPANS = """(
    SELECT * FROM spans
    WHERE project_id = {project:String} AND trace_id IN {ids:Array(String)} AND sign = 1
    ORDER BY ingested_at DESC
    LIMIT 1 BY project_id, trace_id, span_id
)"""


class InsertJournal:
    """Pending span inserts, one fsynced file each, in ``<data_dir>/journal``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / JOURNAL_DIR
        self.path.mkdir(parents=True, exist_ok=True)
        self._ids = itertools.count()
        self._pid = os.getpid()

    def begin(self, keys: Iterable[tuple[str, str]]) -> Path:
        """Record the (project, trace id) pairs an insert is about to touch; durable on return."""
        entry = self.path / f"{self._pid}-{next(self._ids)}.json"
        data = json.dumps(sorted(set(keys))).encode()
        fd = os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def end(self, entry: Path) -> None:
        """The insert committed: forget it. (If this is lost in a crash, recovery is a no-op rebuild.)"""
        entry.unlink(missing_ok=True)

    def pending(self) -> tuple[list[Path], dict[str, set[str]]]:
        """Entries left by a crash, and the trace ids they name by project. A torn entry (the crash
        came while it was written, so before its insert began) names nothing."""
        entries = sorted(self.path.glob("*.json"))
        traces: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            try:
                pairs = json.loads(entry.read_bytes())
            except ValueError:
                continue
            for project, trace_id in pairs:
                traces[project].add(trace_id)
        return entries, traces

    async def recover(self, backend: Backend) -> int:
        """Rebuild the summaries of every trace an unfinished insert (a crash, a refused view) may
        have left half-written; how many."""
        entries, traces = self.pending()
        repaired = 0
        for project, ids in traces.items():
            await rebuild_summaries(backend, project, sorted(ids))
            repaired += len(ids)
        for entry in entries:
            entry.unlink(missing_ok=True)
        if repaired:
            log.warning("repaired the summaries of %d traces whose insert did not finish", repaired)
        return repaired


async def rebuild_summaries(backend: Backend, project: str, trace_ids: list[str], chunk: int = 2_000) -> None:
    """Make ``trace_index``, ``traces`` and ``split_traces`` rows of these traces agree with their spans."""
    for start in range(0, len(trace_ids), chunk):
        params = {"project": project, "ids": trace_ids[start : start + chunk]}
        # min/max aggregates: inserting the index rows again changes nothing if they were there.
        await backend.execute(
            _insert(TRACE_INDEX.name, [c.name for c in TRACE_INDEX.columns], TRACE_INDEX_MV.select), params
        )
        # Sums are not idempotent: replace the summary rows of these traces.
        await backend.execute(
            "DELETE FROM traces WHERE project_id = {project:String} AND trace_id IN {ids:Array(String)}", params
        )
        await backend.execute(_insert(TRACES.name, [c.name for c in TRACES.columns], TRACES_MV.select), params)
        # A split trace recorded again changes nothing (min and max of the same days).
        await backend.execute(
            "INSERT INTO split_traces (project_id, trace_id, first_day, last_day, retention_days) "
            "SELECT project_id, trace_id, min(toDate32(start_time)), max(toDate32(start_time)), max(retention_days) "
            "FROM " + _CURRENT_SPANS + " AS s GROUP BY project_id, trace_id HAVING uniqExact(toDate32(start_time)) > 1",
            params,
        )


def _insert(table: str, columns: list[str], view_select: str) -> str:
    """The view's SELECT run over the current spans of the given traces, into its target."""
    return f"INSERT INTO {table} ({', '.join(columns)}) " + view_select.replace("{spans}", _CURRENT_SPANS)
