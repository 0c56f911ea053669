"""Comments on traces, observations, sessions and prompts: one versioned row each."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import COMMENTS

__all__ = ["CommentStore"]


class CommentStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def list(
        self,
        project_id: str,
        object_type: str | None = None,
        object_id: str | None = None,
        author: str | None = None,
        comment_id: str | None = None,
    ) -> list[Row]:
        """Current comments of a project, oldest first, filtered."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id}
        for column, value in (("object_type", object_type), ("object_id", object_id), ("author_user_id", author),
                              ("id", comment_id)):  # fmt: skip
            if value is not None:
                where.append(f"{column} = {{{column}:String}}")
                params[column] = value
        return await self._backend.query(
            "SELECT id, object_type, object_id, content, author_user_id, created_at, updated_at "
            f"FROM comments FINAL WHERE {' AND '.join(where)} ORDER BY created_at, id",
            params,
        )

    async def put(self, project_id: str, row: dict[str, Any], deleted: bool = False) -> None:
        stamp = self._versions.next()
        full = {"project_id": project_id, "created_at": dt.datetime.now(dt.UTC), **row, "updated_at": stamp,
                "is_deleted": int(deleted)}  # fmt: skip
        await self._backend.insert(COMMENTS.name, pa.Table.from_pylist([full], schema=COMMENTS.arrow_schema()))
