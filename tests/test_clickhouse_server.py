"""The server backend against real ClickHouse servers.

- Debian's ``clickhouse-server`` package (18.16, installed by ``./dev test``) runs here in a
  temporary directory. It is too old for Tracehouse's schema, which start-up must say clearly.
  The transport underneath is still exercised on it: connect, statements, inserts, reconnect
  after a restart, refused credentials, error mapping, and the read-only URL.
- A modern server, when ``TRACEHOUSE_TEST_CLICKHOUSE_URL`` names one: the whole store on it.
  Skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from storage import Store
from storage.backends._errors import StorageError
from storage.backends.server import ServerBackend
from tests.helpers import span, span_table
from tracehouse.errors import ConfigError, StorageUnavailable

SERVER = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
PASSWORD = "s3cret-pw"

CONFIG = """<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog></logger>
  <tcp_port>{port}</tcp_port>
  <http_port>{http_port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
"""
USERS = """<yandex>
  <profiles><default/><reader><readonly>2</readonly></reader></profiles>
  <users>
    <tracehouse><password>{pw}</password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></tracehouse>
    <reader><password>{pw}</password><networks><ip>::/0</ip></networks><profile>reader</profile><quota>default</quota></reader>
  </users>
  <quotas><default/></quotas>
</yandex>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DebianClickHouse:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, user: str = "tracehouse", password: str = PASSWORD) -> str:
        return f"clickhouse://{user}:{password}@127.0.0.1:{self.port}/default"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SERVER, f"--config-file={self.directory / 'config.xml'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        log = (
            (self.directory / "log" / "error.log").read_text()
            if (self.directory / "log" / "error.log").exists()
            else ""
        )
        raise RuntimeError(f"clickhouse-server did not start: {log[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@pytest.fixture(scope="module")
def debian_clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianClickHouse]:
    if not Path(SERVER).exists():
        pytest.skip("Debian's clickhouse-server is not installed (./dev test installs it with apt-get)")
    directory = tmp_path_factory.mktemp("clickhouse-18")
    (directory / "log").mkdir()
    port = free_port()
    (directory / "config.xml").write_text(CONFIG.format(d=directory, port=port, http_port=free_port()))
    (directory / "users.xml").write_text(USERS.format(pw=PASSWORD))
    server = DebianClickHouse(directory, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_start_up_refuses_a_server_too_old_for_the_schema(debian_clickhouse: DebianClickHouse) -> None:
    with pytest.raises(ConfigError, match=r"ClickHouse 18\.16\.\S+ at .* is too old: Tracehouse needs 23\.8"):
        ServerBackend.connect(debian_clickhouse.url())


def test_refused_credentials_are_a_clear_error_without_the_password(debian_clickhouse: DebianClickHouse) -> None:
    for url in (debian_clickhouse.url(password="wrong-pw"), debian_clickhouse.url(user="nobody")):
        with pytest.raises(ConfigError, match="refused the credentials") as info:
            ServerBackend.connect(url)
        assert "wrong-pw" not in str(info.value) and "***" in str(info.value)
    with pytest.raises(ConfigError, match="TRACEHOUSE_CLICKHOUSE_READ_URL"):
        ServerBackend.connect(debian_clickhouse.url(), read_url=debian_clickhouse.url(password="wrong-pw"))


def test_unreachable_server_is_unavailable(debian_clickhouse: DebianClickHouse) -> None:
    with pytest.raises(StorageUnavailable, match="cannot reach ClickHouse"):
        ServerBackend.connect(f"clickhouse://tracehouse:{PASSWORD}@127.0.0.1:{free_port()}/default")


async def test_statements_inserts_errors_and_reconnect(debian_clickhouse: DebianClickHouse) -> None:
    # The transport only: the constructor does not check the version.
    backend = ServerBackend(debian_clickhouse.url(), read_url=debian_clickhouse.url(user="reader"))
    try:
        await backend.execute("CREATE TABLE IF NOT EXISTS t (a String, n UInt64) ENGINE = MergeTree ORDER BY a")
        await backend.insert("t", pa.table({"a": ["x", "y'", "z\\n"], "n": pa.array([1, 2, 3], pa.uint64())}))
        rows = await backend.query("SELECT a, n FROM t ORDER BY a")
        assert rows == [{"a": "x", "n": 1}, {"a": "y'", "n": 2}, {"a": "z\\n", "n": 3}]
        # Reads go to the read-only user, which cannot write.
        with pytest.raises(StorageError, match="readonly"):
            await backend.query("INSERT INTO t SELECT 'w', 9")
        # Errors: not retryable when the statement is at fault, with the server's words.
        with pytest.raises(StorageError, match="Syntax error"):
            await backend.execute("SELEC 1")
        with pytest.raises(StorageError, match="doesn't exist"):
            await backend.query("SELECT * FROM no_such_table")

        # The server goes away: retryable errors; it comes back: the same backend works again.
        debian_clickhouse.stop()
        with pytest.raises(StorageUnavailable):
            await backend.query("SELECT count() AS c FROM t")
        with pytest.raises(StorageUnavailable):
            await backend.insert("t", pa.table({"a": ["lost"], "n": pa.array([0], pa.uint64())}))
        debian_clickhouse.start()
        for _ in range(50):
            try:
                rows = await backend.query("SELECT count() AS c FROM t")
                break
            except StorageUnavailable:
                await asyncio.sleep(0.1)
        assert rows == [{"c": 3}]
        await backend.insert("t", pa.table({"a": ["after"], "n": pa.array([4], pa.uint64())}))
        assert (await backend.query("SELECT count() AS c FROM t"))[0]["c"] == 4
    finally:
        await backend.close()


@pytest.mark.skipif(
    not os.environ.get("TRACEHOUSE_TEST_CLICKHOUSE_URL"),
    reason="set TRACEHOUSE_TEST_CLICKHOUSE_URL to a ClickHouse 23.8+ server to run the store on it",
)
async def test_the_store_on_a_modern_server() -> None:
    store = await Store.open(clickhouse_url=os.environ["TRACEHOUSE_TEST_CLICKHOUSE_URL"])
    try:
        trace_id = os.urandom(16).hex()
        await store.writer.write(span_table([span(trace_id, "a" * 16, input_tokens=3), span(trace_id, "b" * 16)]))
        assert await store.writer.write(span_table([span(trace_id, "a" * 16, input_tokens=3)])) == 0  # stored once
        assert {s["span_id"] for s in await store.reader.trace("default", trace_id)} == {"a" * 16, "b" * 16}
        await store.lifecycle.delete("default", "trace", trace_id)
        assert await store.reader.trace("default", trace_id) == []
    finally:
        await store.close()
