"""The storage interface every backend implements, and what callers may rely on.

A backend runs SQL written in ClickHouse's dialect with server-side parameters
(``{name:Type}``); it never pastes values into SQL. The same statements run on the
embedded engine (chDB) and on a ClickHouse server (clickhouse-driver).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pyarrow as pa

from storage.schema import Cluster

__all__ = ["Backend", "Params", "Row"]

Params = Mapping[str, Any]
Row = dict[str, Any]


class Backend(Protocol):
    """A ClickHouse connection pool with an async face.

    Edge cases every implementation honours:
    - ``insert`` returns only once the rows are committed (a part is written); if it
      raises, none of the rows of that call are visible.
    - Driver and network failures surface as ``StorageUnavailable`` (retryable); SQL
      and data errors as ``InvalidInput`` only where the caller's data is at fault,
      otherwise they propagate as ``RuntimeError`` (a bug of ours).
    - ``query`` returns plain Python values: ``Map`` columns as ``dict``, ``Decimal`` as
      ``decimal.Decimal``. Readers select times as integers (nanoseconds) so that both
      drivers agree.
    """

    kind: str
    # The cluster the schema lives on (tables ON CLUSTER, mutations on the shard-local tables),
    # or None for a single node.
    cluster: Cluster | None

    async def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        """Insert every row of ``data`` into ``table`` (columns matched by name), with the
        ClickHouse query ``settings`` given (names from code, never from input)."""

    async def query(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a SELECT and return its rows as dicts."""

    async def query_arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        """Run a SELECT and return an Arrow table (for bulk reads and benchmarks)."""

    async def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT, mutations)."""

    async def close(self) -> None:
        """Release every connection; waits for running statements."""
