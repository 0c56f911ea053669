"""Data lifecycle: per-project retention applied to existing rows, and deletion of a trace, a
session or a user's data (GDPR requests) from every table that holds it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from storage.api import Backend
from storage.projects import MAX_RETENTION_DAYS, Project, Projects
from storage.schema import LOCAL_SUFFIX, Cluster, Table
from storage.tables import ALL_TABLES, API_KEYS, AUDIT_LOG, MEDIA
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["Lifecycle", "delete_sql", "mutation_target", "retention_sql"]

log = logging.getLogger(__name__)

# Tables keyed by (project, trace id) that hold a trace's rows (logs: the records of its spans;
# trace_media: which uploaded files it holds, swept with their files once no trace holds them).
TRACE_TABLES = ("spans", "trace_index", "traces", "scores", "logs", "trace_media")
# Tables with a retention but no trace: the retention is applied to them too.
PROJECT_TABLES = (*TRACE_TABLES, "metric_points")
# How long a delete of traces waits for acknowledged spans to be inserted: inserts take well under
# a second; past this the store is stalled and the delete goes ahead (it may fail the same way).
CATCH_UP_S = 10.0


# What a deleted project leaves: its key pairs (revoked, so a client using one is told so) and the
# audit log (who did what, the deletion too). Every other table with its rows is erased.
KEPT_ON_PROJECT_DELETE = frozenset({API_KEYS.name, AUDIT_LOG.name})
PROJECT_DATA_TABLES = tuple(
    t for t in ALL_TABLES if t.name not in KEPT_ON_PROJECT_DELETE and any(c.name == "project_id" for c in t.columns)
)


def mutation_target(table: str, cluster: Cluster | None) -> str:
    """Where a DELETE or ALTER of a trace table goes: the table itself on one node; on a cluster
    the shard-local tables on every node (a Distributed table cannot be mutated)."""
    if cluster is None:
        return table
    return f"{table}{LOCAL_SUFFIX} ON CLUSTER '{cluster.name}'"


def delete_sql(table: str, cluster: Cluster | None, column: str = "trace_id") -> str:
    """Delete the rows of some traces (``column`` IN {ids}), or of a session (``column`` = {v})."""
    where = "trace_id IN {ids:Array(String)}" if column == "trace_id" else f"{column} = {{v:String}}"
    return f"DELETE FROM {mutation_target(table, cluster)} WHERE project_id = {{project:String}} AND {where}"


def retention_sql(table: str, cluster: Cluster | None) -> list[str]:
    """Set a project's retention on its stored rows, then apply the TTL to them at once."""
    target = mutation_target(table, cluster)
    return [
        f"ALTER TABLE {target} UPDATE retention_days = {{days:UInt16}} "
        "WHERE project_id = {project:String} SETTINGS mutations_sync = 2",
        f"ALTER TABLE {target} MATERIALIZE TTL SETTINGS mutations_sync = 2",
    ]


class Lifecycle:
    def __init__(
        self,
        backend: Backend,
        projects: Projects,
        after_delete: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self._backend = backend
        self._projects = projects
        self._after_delete = after_delete
        self._cluster: Cluster | None = backend.cluster
        self._erasing: dict[str, asyncio.Future[None]] = {}  # project id -> its erase, while it runs
        # Waits (up to a time) for the batches this process acknowledged to be inserted; set by a
        # process that ingests. A delete of traces waits for it first, so that spans acknowledged
        # before it (from the write-ahead log) are deleted with the rest, not let in after it.
        self.writes_caught_up: Callable[[float], Awaitable[bool]] | None = None

    async def set_retention(self, project_ref: str, days: int) -> Project:
        """Keep a project's data ``days`` days (0: forever), from now on and for the data stored
        already: its rows are rewritten with the new retention and the TTL applied at once."""
        if not 0 <= days <= MAX_RETENTION_DAYS:
            raise InvalidInput(f"retention must be 0 (forever) to {MAX_RETENTION_DAYS} days")
        project = await self._projects.get_project(project_ref)
        await self._projects.update_retention(project.id, days)
        for table in PROJECT_TABLES:
            for statement in retention_sql(table, self._cluster):
                await self._backend.execute(statement, {"days": days, "project": project.id})
        if self._after_delete is not None:
            await self._after_delete(project.id)
        return await self._projects.get_project(project.id)

    async def delete_project(self, project_ref: str) -> Project:
        """Delete a project and its data: its keys are revoked, it is no longer listed, and every
        row it holds is erased (traces, logs, metrics, scores, prompts, datasets, evaluations,
        model connections, comments, media and their files). Only its revoked keys and the audit
        log remain."""
        project, erase = await self.start_project_delete(project_ref)
        await erase
        return project

    async def start_project_delete(self, project_ref: str) -> tuple[Project, asyncio.Future[None]]:
        """Delete a project (no longer listed, its keys revoked) and start the erase of its rows,
        which goes on whoever waits for it (``erased_within``): seconds per half a million spans.
        ``erase_leftovers`` finishes an erase that a stop of the server cut short."""
        project = await self._projects.delete_project(project_ref)
        erase = asyncio.ensure_future(self._erase_project(project.id, PROJECT_DATA_TABLES))
        self._erasing[project.id] = erase
        erase.add_done_callback(lambda done: self._erase_done(project.id, done))
        return project, erase

    @staticmethod
    async def erased_within(erase: asyncio.Future[None], wait_s: float) -> bool:
        """Whether ``erase`` (of ``start_project_delete``) is done within ``wait_s`` seconds (it
        goes on after); raises what it raised."""
        try:
            await asyncio.wait_for(asyncio.shield(erase), wait_s)
        except TimeoutError:
            return False
        return True

    def _erase_done(self, project: str, erase: asyncio.Future[None]) -> None:
        self._erasing.pop(project, None)
        if not erase.cancelled() and erase.exception() is not None:  # the upkeep tries it again
            log.error("erasing a deleted project's rows failed: %s", erase.exception())

    async def erase_leftovers(self) -> dict[str, list[str]]:
        """Erase the rows that reached deleted projects after their erase: batches acknowledged
        before the keys were revoked and still in the write-ahead log, or replayed from it at the
        next start, or taken by a receiver in another process that had not yet heard of the
        revoked keys. Deleted project id -> the tables that held some (none: {})."""
        # A project whose erase is running is left to it.
        deleted = [p for p in await self._projects.deleted_project_ids() if p not in self._erasing]
        if not deleted:
            return {}
        found: dict[str, list[Table]] = {}
        for table in PROJECT_DATA_TABLES:
            rows = await self._backend.query(
                f"SELECT DISTINCT project_id AS p FROM {table.name} WHERE project_id IN {{ids:Array(String)}}",
                {"ids": deleted},
            )
            for row in rows:
                found.setdefault(row["p"], []).append(table)
        for project, tables in found.items():
            await self._erase_project(project, tables)
        return {project: [t.name for t in tables] for project, tables in found.items()}

    async def _erase_project(self, project: str, tables: Sequence[Table]) -> None:
        # The media records last: the sweep finds the files no trace or item holds once those are gone.
        for table in tables:
            if table.name != MEDIA.name:
                await self._erase(table, project)
        if self._after_delete is not None:
            await self._after_delete(project)
        if any(t.name == MEDIA.name for t in tables):
            await self._erase(MEDIA, project)

    async def _erase(self, table: Table, project: str) -> None:
        target = mutation_target(table.name, self._cluster) if table.shard_key else table.name
        await self._backend.execute(f"DELETE FROM {target} WHERE project_id = {{project:String}}", {"project": project})

    async def _catch_up(self) -> None:
        if self.writes_caught_up is not None and not await self.writes_caught_up(CATCH_UP_S):
            log.warning("deleting traces while acknowledged spans still wait for a stalled store")

    async def _delete_traces(self, project: str, trace_ids: list[str]) -> int:
        if not trace_ids:
            return 0
        params = {"project": project, "ids": trace_ids}
        for table in TRACE_TABLES:
            await self._backend.execute(delete_sql(table, self._cluster), params)
        if self._after_delete is not None:
            await self._after_delete(project)
        return len(trace_ids)

    async def delete_trace(self, project_ref: str, trace_id: str) -> int:
        project = await self._projects.get_project(project_ref)
        await self._catch_up()
        rows = await self._backend.query(
            "SELECT DISTINCT trace_id FROM trace_index WHERE project_id = {p:String} AND trace_id = {t:String}",
            {"p": project.id, "t": trace_id},
        )
        if not rows:
            raise NotFound(f"no trace {trace_id!r} in project {project.name!r}")
        return await self._delete_traces(project.id, [trace_id])

    async def delete_traces(self, project_ref: str, trace_ids: list[str]) -> int:
        """Delete those of ``trace_ids`` that are stored (others are left unsaid); how many."""
        project = await self._projects.get_project(project_ref)
        await self._catch_up()
        rows = await self._backend.query(
            "SELECT DISTINCT trace_id FROM trace_index WHERE project_id = {p:String} AND trace_id IN {t:Array(String)}",
            {"p": project.id, "t": trace_ids},
        )
        return await self._delete_traces(project.id, [r["trace_id"] for r in rows])

    async def delete_where(self, project_ref: str, column: str, value: str) -> int:
        """Delete every trace that has a span with ``column`` = ``value`` (session_id or user_id), and
        the scores given to that session or user."""
        if column not in ("session_id", "user_id"):
            raise ValueError(column)
        project = await self._projects.get_project(project_ref)
        await self._catch_up()
        rows = await self._backend.query(
            f"SELECT DISTINCT trace_id FROM spans WHERE project_id = {{p:String}} AND {column} = {{v:String}}",
            {"p": project.id, "v": value},
        )
        count = await self._delete_traces(project.id, [r["trace_id"] for r in rows])
        if column == "session_id":
            await self._backend.execute(
                delete_sql("scores", self._cluster, "session_id"), {"project": project.id, "v": value}
            )
        return count

    async def delete(self, project_ref: str, kind: str, ident: str) -> int:
        """Delete a ``trace`` by id, or every trace of a ``session`` or a ``user``; the number deleted."""
        if kind == "trace":
            return await self.delete_trace(project_ref, ident)
        if kind in ("session", "user"):
            return await self.delete_where(project_ref, f"{kind}_id", ident)
        raise InvalidInput(f"cannot delete a {kind!r}: trace, session or user")
