"""ClickHouse server over the native protocol (clickhouse-driver).

Each executor thread owns one ``Client`` (the driver is not thread-safe); a client
that lost its connection reconnects on its next statement. Values are bound as
server-side parameters, so the SQL is the very text the embedded backend runs.

Reads may go to a second URL with a read-only user (``readonly = 2``), so that nothing
on a read path can write, whatever a query turns out to hold. Inserts may use the
server's asynchronous inserts with ``wait_for_async_insert = 1``: the server batches
small inserts from many receivers, and an insert still returns only once it is written.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
from clickhouse_driver import Client

from storage.api import Params, Row
from storage.backends._errors import AUTH_CODES, clickhouse_code, summary, translate
from storage.identifiers import check_identifier
from storage.schema import Cluster
from tracehouse.errors import ConfigError, StorageUnavailable

__all__ = ["ServerBackend", "redact_url"]

POOL_THREADS = 4
# Map types, server-side parameters, lightweight DELETE, the analyzer's handling of our views.
MIN_VERSION = (23, 8)
CONNECT_TIMEOUT_S = 5
SEND_RECEIVE_TIMEOUT_S = 120


def redact_url(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _server_version(backend: ServerBackend, read: bool) -> Any:
    # In the pool's thread: its connections are per thread.
    return backend._client(read).execute("SELECT version()")


def _client_url(url: str) -> str:
    """Add our defaults (timeouts, compression when available) unless the URL sets them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    query.setdefault("send_receive_timeout", str(SEND_RECEIVE_TIMEOUT_S))
    query.setdefault("client_name", "tracehouse")
    if "compression" not in query and _lz4_available():
        query["compression"] = "lz4"
    return urlunsplit(parts._replace(query=urlencode(query)))


def _lz4_available() -> bool:
    try:
        import clickhouse_cityhash  # noqa: F401
        import lz4  # noqa: F401
    except ImportError:
        return False
    return True


def _arrow_to_columns(data: pa.Table) -> list[list[Any]]:
    """Columns as the driver wants them: times as integer nanoseconds, maps as dicts."""
    columns = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):
            column = column.cast(pa.int64())
        elif pa.types.is_list(kind) and pa.types.is_timestamp(kind.value_type):
            column = column.cast(pa.list_(pa.int64()))
        values = column.to_pylist()
        if pa.types.is_map(kind):
            values = [dict(v) if v is not None else {} for v in values]
        columns.append(values)
    return columns


class ServerBackend:
    """The Backend on a ClickHouse server. Create with ``ServerBackend.connect(url)``."""

    kind = "server"

    def __init__(
        self,
        url: str,
        read_url: str | None = None,
        pool_size: int = POOL_THREADS,
        async_insert: bool = False,
        cluster: str | None = None,
    ) -> None:
        self.url = url
        # On a cluster, tables are created ON CLUSTER and mutations go to the shard-local tables.
        self.cluster = Cluster(cluster, urlsplit(url).path.strip("/") or "default") if cluster else None
        self._client_url = _client_url(url)
        self._read_url = _client_url(read_url) if read_url else None
        self._insert_settings = {"async_insert": 1, "wait_for_async_insert": 1} if async_insert else {}
        if cluster:
            # A Distributed insert returns once every shard has its rows, not when they are queued.
            self._insert_settings["insert_distributed_sync"] = 1
        self._pool = ThreadPoolExecutor(pool_size, thread_name_prefix="clickhouse")
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()
        self._closed = False

    @classmethod
    def connect(
        cls,
        url: str,
        read_url: str | None = None,
        pool_size: int = POOL_THREADS,
        async_insert: bool = False,
        cluster: str | None = None,
    ) -> ServerBackend:
        """Connect with each URL and check the server; raise ConfigError for refused credentials or
        a server too old, StorageUnavailable when it cannot be reached."""
        backend = cls(url, read_url, pool_size, async_insert, cluster)
        try:
            versions = []
            for which, read in (("TRACEHOUSE_CLICKHOUSE_URL", False), ("TRACEHOUSE_CLICKHOUSE_READ_URL", True)):
                if read and not read_url:
                    continue
                target = (read_url if read else url) or ""
                try:
                    rows = backend._pool.submit(_server_version, backend, read).result()
                except Exception as exc:
                    code = getattr(exc, "code", None) or clickhouse_code(str(exc))
                    if code in AUTH_CODES:
                        raise ConfigError(
                            f"ClickHouse at {redact_url(target)} refused the credentials ({summary(exc)}); "
                            f"check the user and password in {which}"
                        ) from None
                    raise StorageUnavailable(
                        f"cannot reach ClickHouse at {redact_url(target)}: {summary(exc)}; "
                        f"check {which} and that the server is up"
                    ) from exc
                versions.append((str(rows[0][0]), target))
            for version, target in versions:
                numbers = tuple(int(n) for n in version.split(".")[:2] if n.isdigit())
                if numbers < MIN_VERSION:
                    raise ConfigError(
                        f"ClickHouse {version} at {redact_url(target)} is too old: Tracehouse needs "
                        f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer"
                    )
        except BaseException:
            backend._shutdown_sync()
            raise
        return backend

    def _client(self, read: bool = False) -> Client:
        name = "reader" if read and self._read_url else "client"
        client = getattr(self._local, name, None)
        if client is None:
            client = Client.from_url(self._read_url if name == "reader" else self._client_url)
            client.settings["server_side_params"] = True
            client.connection.context.client_settings["server_side_params"] = True
            setattr(self._local, name, client)
            with self._clients_lock:
                self._clients.append(client)
        return client

    async def _run(self, what: str, fn: Any, read: bool = False) -> Any:
        if self._closed:
            raise RuntimeError("the store is closed")

        def call() -> Any:
            try:
                return fn(self._client(read))
            except Exception as exc:
                raise translate(exc, what) from exc

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        check_identifier(table)
        if data.num_rows == 0:
            return
        names = ", ".join(check_identifier(n) for n in data.column_names)
        columns = _arrow_to_columns(data)
        merged = {**self._insert_settings, **(settings or {})}
        await self._run(
            f"insert into {table}",
            lambda c: c.execute(f"INSERT INTO {table} ({names}) VALUES", columns, columnar=True, settings=merged),
        )

    async def query(self, sql: str, params: Params | None = None) -> list[Row]:
        def run(client: Client) -> list[Row]:
            rows, types = client.execute(sql, dict(params or {}), with_column_types=True)
            names = [name for name, _ in types]
            return [dict(zip(names, row, strict=True)) for row in rows]

        result: list[Row] = await self._run("query", run, read=True)
        return result

    async def query_arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        return pa.Table.from_pylist(await self.query(sql, params))

    async def execute(self, sql: str, params: Params | None = None) -> None:
        await self._run("statement", lambda c: c.execute(sql, dict(params or {})))

    def _shutdown_sync(self) -> None:
        self._pool.shutdown(wait=True)
        with self._clients_lock:
            for client in self._clients:
                client.disconnect()
            self._clients.clear()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown_sync)
