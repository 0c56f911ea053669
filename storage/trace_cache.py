"""The spans of recently read traces, kept in memory with the version of the trace they were read at.

A trace read asks the trace index for the trace's bounds first (storage.reader); the same row
now also says how many rows were ever written for the trace and when the last write was
(``TraceVersion``). Any write of a span of the trace changes both, in every process that reads
the store, so a trace read again is served from here while its version is unchanged, and read
from ClickHouse again once anything was written to it. That spares the heaviest query of a point
read (all of a span's columns: tens of milliseconds in this engine) when a trace is opened again:
the UI's trace view reloaded or polled, Grafana's panels refreshed, an SDK fetching a trace it
scores. Traces are kept pickled: their size is known exactly, and each reader gets its own copy.
"""

from __future__ import annotations

import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from storage.api import Row

__all__ = ["MemoryBudget", "TraceCache", "TraceVersion"]

# A trace is also read again after this long, whatever its version: deletions by retention
# reach spans and the trace index at different moments.
MAX_AGE_S = 600.0


class TraceVersion(NamedTuple):
    """What the trace index says of a trace's writes: their number, and the newest one (epoch µs)."""

    writes: int
    last_write_us: int


@dataclass
class _Entry:
    version: TraceVersion
    blob: bytes
    stored_at: float
    bounds: tuple[int, int] | None = None  # its spans' first start and last end (epoch ns)


class MemoryBudget:
    """A byte budget (0: nothing kept) and the hits and misses of what is kept in it: the base of
    the in-memory trace stores (this cache, storage.recent_spans)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes


class TraceCache(MemoryBudget):
    """A bounded LRU of traces' spans by (project, trace id), valid for one version of the trace."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        # One trace may take at most an eighth of the budget: a huge trace must not evict all others.
        self._max_entry = self.max_bytes // 8
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, project: str, trace_id: str, version: TraceVersion) -> list[Row] | None:
        """The spans stored for this version of the trace (a copy), or None."""
        key = (project, trace_id)
        entry = self._entries.get(key)
        if entry is None or entry.version != version or time.monotonic() - entry.stored_at > MAX_AGE_S:
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        spans: list[Row] = pickle.loads(entry.blob)
        return spans

    def bounds(self, project: str, trace_id: str) -> tuple[int, int] | None:
        """The bounds the trace had when it was kept, whatever its version now (a guess a reader
        checks against the trace index), or None."""
        entry = self._entries.get((project, trace_id))
        return entry.bounds if entry is not None else None

    def put(
        self,
        project: str,
        trace_id: str,
        version: TraceVersion,
        spans: list[Row],
        bounds: tuple[int, int] | None = None,
    ) -> None:
        """Keep ``spans`` as this version of the trace (unless they are too large to keep)."""
        key = (project, trace_id)
        self._drop(key)
        if not self.max_bytes:
            return
        blob = pickle.dumps(spans, protocol=pickle.HIGHEST_PROTOCOL)
        if len(blob) > self._max_entry:
            return
        self._entries[key] = _Entry(version, blob, time.monotonic(), bounds)
        self._bytes += len(blob)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def forget(self, project: str, trace_id: str | None = None) -> None:
        """Drop a trace, or every trace of a project."""
        if trace_id is not None:
            self._drop((project, trace_id))
            return
        for key in [k for k in self._entries if k[0] == project]:
            self._drop(key)

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.blob)
