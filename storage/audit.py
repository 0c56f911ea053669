"""The audit log (``audit_log``): who changed what, through which route, and when."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.tables import AUDIT_LOG
from storage.timestamps import as_utc

__all__ = ["AuditEntry", "AuditLog"]


@dataclass(frozen=True)
class AuditEntry:
    organization_id: str
    project_id: str  # "" for an organization's own changes
    actor_kind: str  # user | api_key | organization_key | admin_token | local
    actor_id: str
    actor_name: str
    method: str
    route: str
    target: dict[str, str] = field(default_factory=dict)
    status: int = 200
    timestamp: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _entry(r: Row) -> AuditEntry:
    return AuditEntry(
        r["organization_id"], r["project_id"], r["actor_kind"], r["actor_id"], r["actor_name"], r["method"],
        r["route"], dict(r["target"]), int(r["status"]), as_utc(r["timestamp"]), r["id"],
    )  # fmt: skip


class AuditLog:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def record(self, entry: AuditEntry) -> None:
        """Store one entry (durably, as every table here)."""
        row: dict[str, Any] = {**entry.__dict__, "target": list(entry.target.items())}
        await self._backend.insert(AUDIT_LOG.name, pa.Table.from_pylist([row], schema=AUDIT_LOG.arrow_schema()))

    async def entries(
        self,
        organization_id: str,
        project_id: str | None,
        limit: int,
        before: tuple[int, str] | None = None,
        actor: str | None = None,
        actions: list[str] | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first: the organization's all (``project_id`` None) or one project's;
        ``before`` is the (µs since the epoch, id) of the last entry of the page before. ``actor``:
        text in who made the change (an email, a key's public key); ``actions``: "METHOD route"
        of the changes wanted."""
        where = ["organization_id = {org:String}"]
        params: dict[str, Any] = {"org": organization_id, "limit": limit}
        if actor:
            where.append("(positionCaseInsensitive(actor_name, {actor:String}) > 0 OR actor_id = {actor:String})")
            params["actor"] = actor
        if actions:
            where.append("concat(method, ' ', route) IN {actions:Array(String)}")
            params["actions"] = actions
        if project_id is not None:
            where.append("project_id = {project:String}")
            params["project"] = project_id
        if before is not None:
            where.append("(toUnixTimestamp64Micro(timestamp), id) < ({before_us:Int64}, {before_id:String})")
            params["before_us"], params["before_id"] = before
        rows = await self._backend.query(
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY timestamp DESC, id DESC "
            "LIMIT {limit:UInt32}",
            params,
        )
        return [_entry(r) for r in rows]
