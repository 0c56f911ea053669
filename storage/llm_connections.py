"""Model connections in ClickHouse: one versioned row per (project, provider name). The secrets
arrive sealed (credentials.secret_box); this module never sees them in the clear."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import LLM_CONNECTIONS
from storage.timestamps import as_utc

__all__ = ["LlmConnection", "LlmConnectionStore"]


@dataclass(frozen=True)
class LlmConnection:
    project_id: str
    id: str
    provider: str
    adapter: str
    base_url: str
    secret_sealed: str
    secret_hint: str
    custom_models: tuple[str, ...]
    with_default_models: bool
    headers_sealed: str
    header_keys: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime


def _connection(r: Row) -> LlmConnection:
    return LlmConnection(
        r["project_id"], r["id"], r["provider"], r["adapter"], r["base_url"], r["secret_sealed"], r["secret_hint"],
        tuple(r["custom_models"]), bool(r["with_default_models"]), r["headers_sealed"], tuple(r["header_keys"]),
        as_utc(r["created_at"]), as_utc(r["updated_at"]),
    )  # fmt: skip


class LlmConnectionStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    async def list(self, project_id: str, provider: str | None = None) -> list[LlmConnection]:
        """Current connections of a project (one by provider name), by name."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id}
        if provider is not None:
            where.append("provider = {provider:String}")
            params["provider"] = provider
        rows = await self._backend.query(
            "SELECT project_id, id, provider, adapter, base_url, secret_sealed, secret_hint, custom_models, "
            "with_default_models, headers_sealed, header_keys, created_at, updated_at "
            f"FROM llm_connections FINAL WHERE {' AND '.join(where)} ORDER BY provider",
            params,
        )
        return [_connection(r) for r in rows]

    async def put(self, c: LlmConnection, deleted: bool = False) -> LlmConnection:
        stamp = self._versions.next()
        row = {
            **c.__dict__,
            "custom_models": list(c.custom_models),
            "header_keys": list(c.header_keys),
            "with_default_models": int(c.with_default_models),
            "updated_at": stamp,
            "is_deleted": int(deleted),
        }
        await self._backend.insert(
            LLM_CONNECTIONS.name, pa.Table.from_pylist([row], schema=LLM_CONNECTIONS.arrow_schema())
        )
        return replace(c, updated_at=stamp)
