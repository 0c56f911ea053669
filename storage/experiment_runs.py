"""Experiments the server runs itself (the UI's "Run an experiment"), in ClickHouse.

One versioned row per dataset run: what it runs (``spec``), its state and its counts. The runner
writes a version when the run starts, as items finish (at most about once a second) and when it
ends. A run still ``running`` when the server starts was cut short by a stop or a crash: the
runner picks it up again (experiments.runner).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from storage.api import Backend
from storage.projects import Versions
from storage.tables import EXPERIMENT_RUNS
from storage.timestamps import as_utc

__all__ = ["ExperimentRun", "ExperimentRuns"]

_COLUMNS = "project_id, dataset_id, run_id, run_name, spec, state, total, done, failed, errors, created_at, updated_at"


@dataclass(frozen=True)
class ExperimentRun:
    project_id: str
    dataset_id: str
    run_id: str
    run_name: str
    spec: str  # JSON
    state: str  # running | done | failed
    total: int
    done: int
    failed: int
    errors: str  # JSON list of strings
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class ExperimentRuns:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def put(self, run: ExperimentRun) -> None:
        """Write a new version of the run's row."""
        row: dict[str, Any] = {**run.__dict__, "updated_at": self._versions.next(), "is_deleted": 0}
        await self._backend.insert(
            EXPERIMENT_RUNS.name, pa.Table.from_pylist([row], schema=EXPERIMENT_RUNS.arrow_schema())
        )

    async def list(
        self, project_id: str | None = None, dataset_id: str | None = None, state: str | None = None
    ) -> list[ExperimentRun]:
        """Current rows, newest first: of one project (and dataset), or of every project."""
        where, params = ["is_deleted = 0"], {}
        for column, value in (("project_id", project_id), ("dataset_id", dataset_id), ("state", state)):
            if value is not None:
                where.append(f"{column} = {{{column}:String}}")
                params[column] = value
        rows = await self._backend.query(
            f"SELECT {_COLUMNS} FROM experiment_runs FINAL WHERE {' AND '.join(where)} ORDER BY created_at DESC",
            params,
        )
        return [
            ExperimentRun(**{**r, "created_at": as_utc(r["created_at"]), "updated_at": as_utc(r["updated_at"])})
            for r in rows
        ]
