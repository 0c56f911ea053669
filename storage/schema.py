"""The ClickHouse schema, declared once, rendered for a single node or for a cluster.

Every table is a ``Table`` value; materialized views are ``View`` values whose SELECT
names the tables it reads with ``{table}`` placeholders. ``render`` turns them into
statements: plain ``*MergeTree`` tables for the embedded store or a server, or
``Replicated*MergeTree`` local tables plus ``Distributed`` tables, ``ON CLUSTER``,
for a cluster. Sharded tables are sharded by trace id so that a whole trace, and so
every per-trace aggregate, lives on one shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

__all__ = [
    "Column",
    "Rebuild",
    "Table",
    "TableSettings",
    "View",
    "render",
]

LOCAL_SUFFIX = "_local"


@dataclass(frozen=True)
class Column:
    """A column: its ClickHouse type and, for tables we insert into, its Arrow type."""

    name: str
    type: str
    arrow: pa.DataType | None = None
    codec: str | None = None
    default: str | None = None

    def ddl(self) -> str:
        parts = [f"`{self.name}`", self.type]
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.codec:
            parts.append(f"CODEC({self.codec})")
        return " ".join(parts)


@dataclass(frozen=True)
class Table:
    """A MergeTree-family table.

    ``shard_key`` set: sharded on a cluster (local table + Distributed). Unset: a small
    table replicated in full to every node of the cluster.
    """

    name: str
    columns: Sequence[Column]
    engine: str  # MergeTree family name without "Replicated", e.g. "ReplacingMergeTree"
    order_by: str
    engine_args: Sequence[str] = ()
    partition_by: str | None = None
    primary_key: str | None = None
    ttl: str | None = None
    indexes: Sequence[str] = ()
    settings: Sequence[str] = ()
    shard_key: str | None = None

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of an insert into this table (columns with an Arrow type)."""
        return pa.schema(
            [pa.field(c.name, c.arrow, nullable=c.type.startswith("Nullable")) for c in self.columns if c.arrow]
        )

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class View:
    """A materialized view feeding ``target`` from the tables named in ``select``."""

    name: str
    target: str
    select: str  # with {table} placeholders, e.g. "... FROM {spans}"
    reads: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Cluster:
    """Where a cluster rendering goes: the cluster name and the database."""

    name: str
    database: str


def _body(table: Table, engine: str) -> str:
    lines = [c.ddl() for c in table.columns]
    lines += [f"INDEX {ix}" for ix in table.indexes]
    body = ",\n    ".join(lines)
    clauses = [f"(\n    {body}\n)", f"ENGINE = {engine}"]
    if table.partition_by:
        clauses.append(f"PARTITION BY {table.partition_by}")
    if table.primary_key:
        clauses.append(f"PRIMARY KEY {table.primary_key}")
    clauses.append(f"ORDER BY {table.order_by}")
    if table.ttl:
        clauses.append(f"TTL {table.ttl}")
    if table.settings:
        clauses.append("SETTINGS " + ", ".join(table.settings))
    return "\n".join(clauses)


@dataclass(frozen=True)
class TableSettings:
    """A change of an existing table's MergeTree settings (``ALTER TABLE ... MODIFY SETTING``).

    The table's own definition carries the same settings, so a new store gets them at
    creation and the ALTER changes nothing there.
    """

    table: str
    settings: Sequence[str]


@dataclass(frozen=True)
class Rebuild:
    """Recreate a table fed by a materialized view, from the rows of the view's source.

    Drops the view and the table, creates the table anew (its current definition), fills it
    with the view's SELECT over everything the source holds, then creates the view. Every step
    is idempotent, so an interrupted rebuild is simply run again. Writers must be stopped while
    it runs (it runs at start-up, before the receiver listens): an insert between the backfill
    and the view's creation would miss the table.
    """

    table: Table
    view: View


@dataclass(frozen=True)
class NewColumns:
    """Columns added to a table fed by a materialized view, with no moment at which an insert
    misses the table, so writers of the older version may go on during the migration.

    The columns are added (the view's table and, on a cluster, its Distributed table); the
    ``view`` that fills them, under a new name, is created before ``old_view`` is dropped, so an
    insert between the two feeds both (the table's aggregates must not mind: min, max, a sum that
    is only a version). Then the view's SELECT over everything its source holds is inserted once
    more, which gives stored rows the new columns' values.
    """

    table: Table
    columns: Sequence[str]
    view: View
    old_view: str


@dataclass(frozen=True)
class NewIndex:
    """A data-skipping index added to a stored table (``index`` as in ``Table.indexes``): parts
    written from then on carry it, and the stored ones are given it by a mutation that runs in
    the background, so start-up does not wait on a large store."""

    table: str
    index: str


def _engine(table: Table, replication_path: str | None) -> str:
    args = list(table.engine_args)
    if replication_path is None:
        return f"{table.engine}({', '.join(args)})"
    args = [f"'{replication_path}'", "'{replica}'", *args]
    return f"Replicated{table.engine}({', '.join(args)})"


def _render_table(table: Table, cluster: Cluster | None) -> list[str]:
    if cluster is None:
        return [f"CREATE TABLE IF NOT EXISTS {table.name}\n{_body(table, _engine(table, None))}"]
    on = f"ON CLUSTER '{cluster.name}'"
    if table.shard_key is None:
        # Small table: one replication queue for the whole cluster, a full copy per node.
        path = f"/clickhouse/tables/all/{cluster.database}/{table.name}"
        return [f"CREATE TABLE IF NOT EXISTS {table.name} {on}\n{_body(table, _engine(table, path))}"]
    local = table.name + LOCAL_SUFFIX
    path = "/clickhouse/tables/{shard}/" + f"{cluster.database}/{local}"
    return [
        f"CREATE TABLE IF NOT EXISTS {local} {on}\n{_body(table, _engine(table, path))}",
        f"CREATE TABLE IF NOT EXISTS {table.name} {on} AS {local}\n"
        f"ENGINE = Distributed('{cluster.name}', '{cluster.database}', '{local}', {table.shard_key})",
    ]


def _render_view(view: View, tables: dict[str, Table], cluster: Cluster | None) -> list[str]:
    def physical(name: str) -> str:
        # On a cluster a view reads and writes the shard-local tables: each shard
        # aggregates its own spans, which are whole traces.
        if cluster is not None and tables[name].shard_key is not None:
            return name + LOCAL_SUFFIX
        return name

    select = view.select.format(**{name: physical(name) for name in view.reads})
    on = f" ON CLUSTER '{cluster.name}'" if cluster else ""
    return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view.name}{on} TO {physical(view.target)}\nAS {select}"]


def _render_settings(change: TableSettings, tables: dict[str, Table], cluster: Cluster | None) -> str:
    name, on = change.table, ""
    if cluster is not None:
        on = f" ON CLUSTER '{cluster.name}'"
        if tables[name].shard_key is not None:
            name += LOCAL_SUFFIX  # settings belong to the MergeTree, not to the Distributed table
    return f"ALTER TABLE {name}{on} MODIFY SETTING {', '.join(change.settings)}"


def _render_new_index(change: NewIndex, tables: dict[str, Table], cluster: Cluster | None) -> list[str]:
    name, on = change.table, ""
    if cluster is not None:
        on = f" ON CLUSTER '{cluster.name}'"
        if tables[name].shard_key is not None:
            name += LOCAL_SUFFIX  # indexes belong to the MergeTree, not to the Distributed table
    return [
        f"ALTER TABLE {name}{on} ADD INDEX IF NOT EXISTS {change.index}",
        f"ALTER TABLE {name}{on} MATERIALIZE INDEX {change.index.split()[0]}",
    ]


def _render_rebuild(rebuild: Rebuild, tables: dict[str, Table], cluster: Cluster | None) -> list[str]:
    table, view = rebuild.table, rebuild.view
    on = f" ON CLUSTER '{cluster.name}'" if cluster else ""
    statements = [f"DROP VIEW IF EXISTS {view.name}{on} SYNC", f"DROP TABLE IF EXISTS {table.name}{on} SYNC"]
    if cluster is not None and table.shard_key is not None:
        statements.append(f"DROP TABLE IF EXISTS {table.name}{LOCAL_SUFFIX}{on} SYNC")
    statements += _render_table(table, cluster)
    # The logical names: on a cluster, the Distributed tables, so one statement reads every shard
    # and sends each summary row to the shard of its trace (the same shard key as the source).
    select = view.select.format(**{name: name for name in view.reads})
    statements.append(f"INSERT INTO {table.name}\n{select}\nSETTINGS insert_distributed_sync = 1")
    statements += _render_view(view, tables, cluster)
    return statements


def _render_new_columns(change: NewColumns, tables: dict[str, Table], cluster: Cluster | None) -> list[str]:
    table = change.table
    on = f" ON CLUSTER '{cluster.name}'" if cluster else ""
    targets = [table.name]
    if cluster is not None and table.shard_key is not None:
        targets.insert(0, table.name + LOCAL_SUFFIX)  # the MergeTree first, then the Distributed table
    types = {c.name: c.type for c in table.columns}
    adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {name} {types[name]}" for name in change.columns)
    statements = [f"ALTER TABLE {target}{on} {adds}" for target in targets]
    statements += _render_view(change.view, tables, cluster)
    statements.append(f"DROP VIEW IF EXISTS {change.old_view}{on} SYNC")
    select = change.view.select.format(**{name: name for name in change.view.reads})
    statements.append(f"INSERT INTO {table.name}\n{select}\nSETTINGS insert_distributed_sync = 1")
    return statements


def render(
    objects: Sequence[Table | View | TableSettings | Rebuild | NewColumns | NewIndex | str],
    tables: dict[str, Table],
    cluster: Cluster | None = None,
) -> list[str]:
    """Statements creating ``objects`` (plain SQL strings pass through unchanged)."""
    statements: list[str] = []
    for obj in objects:
        if isinstance(obj, Table):
            statements += _render_table(obj, cluster)
        elif isinstance(obj, View):
            statements += _render_view(obj, tables, cluster)
        elif isinstance(obj, TableSettings):
            statements.append(_render_settings(obj, tables, cluster))
        elif isinstance(obj, Rebuild):
            statements += _render_rebuild(obj, tables, cluster)
        elif isinstance(obj, NewColumns):
            statements += _render_new_columns(obj, tables, cluster)
        elif isinstance(obj, NewIndex):
            statements += _render_new_index(obj, tables, cluster)
        else:
            statements.append(obj)
    return statements
