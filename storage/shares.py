"""Traces shared by a public link (``trace_shares``): who made a trace public or private, newest wins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from storage.api import Backend
from storage.projects import Versions
from storage.tables import TRACE_SHARES
from tracehouse.ttl_cache import TtlCache

__all__ = ["TraceShares"]


# How stale ``chosen`` may be about a choice made through another process. Choices made through
# this one are seen at once; ``get`` (who may read a trace by its link) is never stale.
CHOSEN_TTL_S = 5.0


class TraceShares:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()
        self._chosen = TtlCache(CHOSEN_TTL_S)  # by project, then trace: the choice, or None

    async def get(self, project_id: str, trace_id: str) -> bool | None:
        """Whether the trace was made public (True) or private (False) here; None if never."""
        return (await self._read(project_id, [trace_id])).get(trace_id)

    async def chosen(self, project_id: str, trace_ids: Sequence[str]) -> dict[str, bool]:
        """Of ``trace_ids``, those made public (True) or private (False) here; the others are absent.
        Answers are kept a few seconds (``CHOSEN_TTL_S``): a trace read again, as the Langfuse SDKs
        and Grafana read them, asks the store once."""
        kept = await self._chosen.get_many(project_id, trace_ids, lambda ids: self._read(project_id, ids))
        return {trace_id: choice for trace_id, choice in kept.items() if choice is not None}

    async def _read(self, project_id: str, trace_ids: Sequence[str]) -> dict[str, bool]:
        if not trace_ids:
            return {}
        rows = await self._backend.query(
            "SELECT trace_id, public FROM trace_shares FINAL WHERE project_id = {p:String} "
            "AND trace_id IN {t:Array(String)} AND is_deleted = 0",
            {"p": project_id, "t": list(trace_ids)},
        )
        return {r["trace_id"]: bool(r["public"]) for r in rows}

    async def set(self, project_id: str, trace_id: str, public: bool, user_id: str) -> None:
        """Make the trace public or private; a later call wins."""
        stamp = self._versions.next()
        row = {"project_id": project_id, "trace_id": trace_id, "public": int(public), "set_by": user_id,
               "created_at": dt.datetime.now(dt.UTC), "updated_at": stamp, "is_deleted": 0}  # fmt: skip
        await self._backend.insert(TRACE_SHARES.name, pa.Table.from_pylist([row], schema=TRACE_SHARES.arrow_schema()))
        self._chosen.clear()  # also keeps no answer of a read that was under way
