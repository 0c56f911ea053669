"""Embedded ClickHouse (chDB) on a data directory.

chDB runs the real ClickHouse engine in this process. One connection serves one
statement at a time, while separate connections run in parallel (chDB releases the
GIL), so the backend keeps one writer connection on its own thread, so that reads
never queue behind an insert, and a small pool of reader connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import functools
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# chDB's allocator (jemalloc) keeps freed pages for 5 s before it returns them, and merges
# free hundreds of MB at a time, so under steady ingest the process held ~100 MB more than
# it used. Read once, when chDB loads; a JE_MALLOC_CONF of the user's own wins.
os.environ.setdefault("JE_MALLOC_CONF", "dirty_decay_ms:500")

import chdb  # only now: jemalloc reads its configuration when chDB loads
import pyarrow as pa

from storage.api import Params, Row
from storage.backends._errors import translate
from storage.backends.dirlock import DirLock
from storage.backends.library_pages import release_library_pages
from storage.identifiers import check_identifier
from storage.schema import Cluster

__all__ = ["EmbeddedBackend", "format_param"]

READER_THREADS = 2
# The engine itself: ClickHouse compiled into one shared library.
ENGINE_LIBRARY = Path(chdb._chdb.__file__)
ENGINE_DIR = "clickhouse"


def _quote(value: Any) -> str:
    """A value as a ClickHouse literal inside a composite parameter (array, tuple, map)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if value is None:
        return "NULL"
    return format_param(value)


def _table(result: Any) -> pa.Table:
    """A result in chDB's Arrow (file) format as a table. chDB's own "ArrowTable" does the same
    but imports pandas first (~36 MB and ~300 modules in the server, for nothing)."""
    if len(result) == 0:
        return pa.Table.from_batches([], schema=pa.schema([]))
    return pa.ipc.open_file(result.get_memview().view()).read_all()


def format_param(value: Any) -> str:
    """Render a Python value in ClickHouse's text format for query parameters.

    Scalars use the escaped (TSV) form, composites the quoted literal form; both
    round-trip any string, including quotes, backslashes and control characters.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, str):
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\0", "\\0")
        )
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return str(value.isoformat(sep=" "))
    if isinstance(value, (list, tuple, set, frozenset)):
        inner = ",".join(_quote(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot bind a {type(value).__name__} as a query parameter")


@functools.cache
def _release_start_up_pages() -> None:
    # Once per process, when the engine has first started: later opens touch little of the library.
    release_library_pages(ENGINE_LIBRARY)


def _settings_clause(settings: Mapping[str, int] | None) -> str:
    if not settings:
        return ""
    return " SETTINGS " + ", ".join(f"{check_identifier(k)} = {int(v)}" for k, v in settings.items())


def _rows(table: pa.Table) -> list[Row]:
    map_columns = {field.name for field in table.schema if pa.types.is_map(field.type)}
    rows = table.to_pylist()
    if map_columns:
        for row in rows:
            for name in map_columns:
                value = row[name]
                row[name] = dict(value) if value is not None else {}
    return list(rows)


class EmbeddedBackend:
    """The Backend on chDB. Create with ``EmbeddedBackend.open(data_dir)``."""

    kind = "embedded"
    cluster: Cluster | None = None  # one process, one node

    def __init__(self, data_dir: Path, lock: DirLock) -> None:
        self.data_dir = data_dir
        self._lock = lock
        self._path = str(data_dir / ENGINE_DIR)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="chdb-writer")
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="chdb-reader")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, data_dir: Path) -> EmbeddedBackend:
        """Lock ``data_dir`` and open the engine in it (created if missing)."""
        data_dir = Path(data_dir).absolute()
        lock = DirLock(data_dir)
        lock.acquire()
        backend = cls(data_dir, lock)
        try:
            # Open one connection now so that a broken directory fails at start-up.
            backend._writer.submit(backend._connection).result()
        except Exception as exc:
            backend._shutdown_sync()
            raise translate(exc, f"opening the embedded store in {data_dir}") from exc
        _release_start_up_pages()
        return backend

    # The connection of the calling executor thread, opened on first use.
    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # BACKUP and RESTORE write and read only where the code says (tracehouse backup's
            # destination); no other statement can name a file.
            conn = chdb.connect(f"file:{self._path}?backups.allowed_path=/")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    async def _run(self, pool: ThreadPoolExecutor, what: str, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()

        def call() -> Any:
            try:
                return fn(self._connection(), *args)
            except Exception as exc:
                raise translate(exc, what) from exc

        return await loop.run_in_executor(pool, call)

    async def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        check_identifier(table)
        if data.num_rows == 0:
            return
        columns = ", ".join(check_identifier(name) for name in data.column_names)
        clause = _settings_clause(settings)

        def run(conn: Any) -> None:
            # Serialised on the writer's thread. The engine reads the table's Arrow memory itself
            # (the Python() table function, through the Arrow C stream): no IPC copy of it. Not
            # chDB's streaming insert (send_insert), which answers success when writing a part or
            # a materialized view fails (a full disk, a view's error): those rows were lost unsaid.
            _tracehouse_insert = data  # Python() finds the table by this name, in this frame
            conn.query(f"INSERT INTO {table} ({columns}){clause} SELECT * FROM Python(_tracehouse_insert)", "Null")

        await self._run(self._writer, f"insert into {table}", run)

    async def query_arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        bound = {k: format_param(v) for k, v in (params or {}).items()}
        return await self._run(self._readers, "query", lambda conn: _table(conn.query(sql, "Arrow", params=bound)))

    async def query(self, sql: str, params: Params | None = None) -> list[Row]:
        return _rows(await self.query_arrow(sql, params))

    async def execute(self, sql: str, params: Params | None = None) -> None:
        bound = {k: format_param(v) for k, v in (params or {}).items()}
        await self._run(self._writer, "statement", lambda conn: conn.query(sql, "Null", params=bound))

    async def backup(self, dest: Path, before: Callable[[], None], base: Path | None = None) -> None:
        """The whole database into ``dest`` (a directory not there yet) as of one moment: run on the
        writer's thread, so every insert and statement before it has committed whole (a span
        insert's summaries too) and none starts until it ends; ``before`` runs there first (what
        must be copied at that same moment). On ``base`` (an earlier backup of it), only the parts
        that backup does not hold."""

        def run(conn: Any) -> None:
            before()
            if base is None:
                conn.query("BACKUP DATABASE default TO File({dest:String})", "Null", params={"dest": str(dest)})
            else:
                conn.query(
                    "BACKUP DATABASE default TO File({dest:String}) SETTINGS base_backup = File({base:String})",
                    "Null",
                    params={"dest": str(dest), "base": str(base)},
                )

        await self._run(self._writer, f"backing up the store to {dest}", run)

    async def restore(self, source: Path) -> None:
        """The database of a backup ``backup`` wrote, into this (empty) store."""
        await self._run(
            self._writer,
            f"restoring the store from {source}",
            lambda conn: conn.query(
                "RESTORE DATABASE default FROM File({src:String})", "Null", params={"src": str(source)}
            ),
        )

    def _shutdown_sync(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # closing must not fail shutdown
                    conn.close()
            self._connections.clear()
        self._lock.release()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown_sync)
