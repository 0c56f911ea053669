"""Data lifecycle: per-project retention applied to existing rows, and deletion of a trace, a
session or a user's data (GDPR requests) from every table that holds it."""

from __future__ import annotations

from storage.api import Backend
from storage.projects import MAX_RETENTION_DAYS, Project, Projects
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["Lifecycle"]

# Tables keyed by (project, trace id) that hold a trace's rows, and how their retention is set.
TRACE_TABLES = ("spans", "trace_index", "traces", "scores")


class Lifecycle:
    def __init__(self, backend: Backend, projects: Projects) -> None:
        self._backend = backend
        self._projects = projects

    async def set_retention(self, project_ref: str, days: int) -> Project:
        """Keep a project's data ``days`` days (0: forever), from now on and for the data stored
        already: its rows are rewritten with the new retention and the TTL applied at once."""
        if not 0 <= days <= MAX_RETENTION_DAYS:
            raise InvalidInput(f"retention must be 0 (forever) to {MAX_RETENTION_DAYS} days")
        project = await self._projects.get_project(project_ref)
        await self._projects.update_retention(project.id, days)
        for table in TRACE_TABLES:
            await self._backend.execute(
                f"ALTER TABLE {table} UPDATE retention_days = {{days:UInt16}} "
                "WHERE project_id = {project:String} SETTINGS mutations_sync = 1",
                {"days": days, "project": project.id},
            )
            await self._backend.execute(f"ALTER TABLE {table} MATERIALIZE TTL SETTINGS mutations_sync = 1")
        return await self._projects.get_project(project.id)

    async def _delete_traces(self, project: str, trace_ids: list[str]) -> int:
        if not trace_ids:
            return 0
        params = {"project": project, "ids": trace_ids}
        for table in TRACE_TABLES:
            await self._backend.execute(
                f"DELETE FROM {table} WHERE project_id = {{project:String}} AND trace_id IN {{ids:Array(String)}}",
                params,
            )
        return len(trace_ids)

    async def delete_trace(self, project_ref: str, trace_id: str) -> int:
        project = await self._projects.get_project(project_ref)
        rows = await self._backend.query(
            "SELECT DISTINCT trace_id FROM trace_index WHERE project_id = {p:String} AND trace_id = {t:String}",
            {"p": project.id, "t": trace_id},
        )
        if not rows:
            raise NotFound(f"no trace {trace_id!r} in project {project.name!r}")
        return await self._delete_traces(project.id, [trace_id])

    async def delete_where(self, project_ref: str, column: str, value: str) -> int:
        """Delete every trace that has a span with ``column`` = ``value`` (session_id or user_id), and
        the scores given to that session or user."""
        if column not in ("session_id", "user_id"):
            raise ValueError(column)
        project = await self._projects.get_project(project_ref)
        rows = await self._backend.query(
            f"SELECT DISTINCT trace_id FROM spans WHERE project_id = {{p:String}} AND {column} = {{v:String}}",
            {"p": project.id, "v": value},
        )
        count = await self._delete_traces(project.id, [r["trace_id"] for r in rows])
        if column == "session_id":
            await self._backend.execute(
                "DELETE FROM scores WHERE project_id = {p:String} AND session_id = {v:String}",
                {"p": project.id, "v": value},
            )
        return count

    async def delete(self, project_ref: str, kind: str, ident: str) -> int:
        """Delete a ``trace`` by id, or every trace of a ``session`` or a ``user``; the number deleted."""
        if kind == "trace":
            return await self.delete_trace(project_ref, ident)
        if kind in ("session", "user"):
            return await self.delete_where(project_ref, f"{kind}_id", ident)
        raise InvalidInput(f"cannot delete a {kind!r}: trace, session or user")
