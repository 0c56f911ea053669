"""The embedded store hands memory back after a large allocation (ClickHouse merges free
hundreds of MB at once; a long-running server must not keep them), and the pages of the engine's
library that only its start-up touched."""

import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from storage.backends.embedded import ENGINE_LIBRARY, EmbeddedBackend
from storage.backends.library_pages import clean_mappings, parse_smaps, release_library_pages
from tests.conftest import Server
from tests.otlp_data import request

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import asyncio, sys, time
from storage.backends.embedded import EmbeddedBackend

def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) >> 10

async def main():
    backend = EmbeddedBackend.open(sys.argv[1])
    before, before_rss = status_mb("RssAnon"), status_mb("VmRSS")
    await backend.query("SELECT length(groupArray(toString(number))) AS n FROM numbers(15000000)")
    # The high-water mark, not a sample after the query: freeing may have begun already.
    peak = before + status_mb("VmHWM") - before_rss
    for _ in range(30):  # a quiet server still runs small statements
        await backend.query("SELECT 1 AS x")
        time.sleep(0.1)
    print(before, peak, status_mb("RssAnon"))
    await backend.close()

asyncio.run(main())
"""


def _probe(tmp_path: Path, env: dict[str, str]) -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    before, peak, after = (int(x) for x in out.stdout.split())
    return before, peak, after


def test_freed_memory_goes_back_to_the_system(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JE_MALLOC_CONF"}
    before, peak, after = _probe(tmp_path, env)
    assert peak - before > 300, (before, peak, after)  # the query did allocate
    assert after - before < (peak - before) / 2, (before, peak, after)


def test_an_allocator_configuration_of_the_users_own_wins(tmp_path: Path) -> None:
    # Freed pages kept for a minute: 3 s later most are still held.
    env = {**os.environ, "JE_MALLOC_CONF": "dirty_decay_ms:60000"}
    before, peak, after = _probe(tmp_path, env)
    assert after - before > (peak - before) / 2, (before, peak, after)


SAMPLE_SMAPS = """\
7f0000000000-7f0000200000 r--p 00000000 08:01 42 /lib/engine.so
Rss:                1024 kB
Private_Clean:      1024 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
7f0000200000-7f0000400000 r-xp 00200000 08:01 42 /lib/engine.so
Rss:                2048 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00400000 08:01 42 /lib/engine.so
Rss:                 512 kB
Private_Dirty:       512 kB
Anonymous:           512 kB
7f0000500000-7f0000600000 rw-p 00500000 08:01 42 /lib/engine.so
Rss:                   0 kB
Private_Dirty:         0 kB
7f0000600000-7f0000700000 rw-p 00000000 00:00 0
Rss:                 100 kB
"""


def test_only_clean_read_only_mappings_are_released() -> None:
    mappings = parse_smaps(SAMPLE_SMAPS)
    assert [(m.perms, m.path, m.fields.get("Rss")) for m in mappings] == [
        ("r--p", "/lib/engine.so", 1024),
        ("r-xp", "/lib/engine.so", 2048),
        ("r--p", "/lib/engine.so", 512),
        ("rw-p", "/lib/engine.so", 0),
        ("rw-p", "", 100),
    ]
    # The relocated read-only data (dirty) and anything writable stay: only the file has the rest.
    assert [m.clean for m in mappings] == [True, True, False, False, False]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
async def test_the_engine_library_pages_are_released_and_come_back_on_use(tmp_path: Path) -> None:
    backend = EmbeddedBackend.open(tmp_path / "data")
    try:
        await backend.query("SELECT count() AS n FROM numbers(10)")  # touch the engine's code
        before = sum(m.fields.get("Rss", 0) for m in clean_mappings(ENGINE_LIBRARY))
        assert before > 0
        released = release_library_pages(ENGINE_LIBRARY)
        after = sum(m.fields.get("Rss", 0) for m in clean_mappings(ENGINE_LIBRARY))
        assert released >= before * 1024 // 2 and after < before / 2, (before, released, after)
        # What the engine needs is read back from the file on its next use.
        rows = await backend.query("SELECT sum(number) AS s FROM numbers(1000)")
        assert rows == [{"s": 499500}]
    finally:
        await backend.close()


def _pyarrow_purge_delay(env: dict[str, str]) -> str:
    # mimalloc prints its options when it starts, if asked to.
    out = subprocess.run(
        [sys.executable, "-c", "import tracehouse, pyarrow as pa; pa.array(list(range(1000)))"],
        cwd=ROOT,
        env={**env, "MIMALLOC_VERBOSE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in out.stderr.splitlines() if "option 'purge_delay'" in line]
    assert lines, out.stderr[-2000:]
    return lines[0].split(":")[-1].strip()


def test_pyarrow_hands_freed_memory_back_at_once() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    assert _pyarrow_purge_delay(env) == "0"
    # A setting of the user's own wins.
    assert _pyarrow_purge_delay({**env, "MIMALLOC_PURGE_DELAY": "250"}) == "250"


async def test_a_started_server_gives_back_the_engine_pages_its_start_touched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Migrations, the first queries and the app's start run engine code that serving may never
    run again: once ready, the server releases those pages (idle RSS 427 -> 301 MB, measured)."""
    from tests.conftest import serving

    caplog.set_level(logging.INFO, logger="tracehouse.server")
    async with serving(tmp_path / "data") as live:
        [ready] = [r.getMessage() for r in caplog.records if " ready (" in r.getMessage()]
        released = int(ready.rsplit("; ", 1)[1].split(" MB")[0])
        assert released > 0, ready
        assert await live.store.backend.query("SELECT 1 AS one") == [{"one": 1}]  # read back on use


def test_a_serving_process_never_loads_pandas(server: Server) -> None:
    """pyarrow imports pandas (installed with chDB) to ask whether a list it converts is a pandas
    object, and chDB's own Arrow results import it too: ~36 MB of the server's memory for a library
    it never uses (tracehouse.without_pandas). Spans in and a trace and a list out must not load it."""
    pytest.importorskip("pandas")  # what must stay out has to be there to be loaded
    trace_id = os.urandom(16)
    body = request(
        [
            {"trace_id": trace_id, "name": "agent", "span_id": b"\x01" * 8},
            {"trace_id": trace_id, "name": "chat gpt-4o", "parent_span_id": b"\x01" * 8,
             "attrs": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12}},
        ]
    ).SerializeToString()  # fmt: skip
    post = urllib.request.Request(
        server.otlp_http_url + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
    )
    with urllib.request.urlopen(post, timeout=30) as response:
        assert response.status == 200
    status, trace = server.get(f"/api/v1/traces/{trace_id.hex()}")
    assert status == 200 and sorted(s["name"] for s in trace["spans"]) == ["agent", "chat gpt-4o"], trace
    status, page = server.get("/api/v1/traces?limit=5")
    assert status == 200 and page["items"][0]["input_tokens"] == 12, page
    loaded = {line.split()[-1] for line in Path(f"/proc/{server.process.pid}/maps").read_text().splitlines()}
    assert not [path for path in loaded if "/pandas/" in path]


def test_a_serving_process_freezes_its_start_up_objects(server: Server) -> None:
    """Once started, ``tracehouse serve`` freezes the objects start-up made, so that the garbage
    collector's full collections no longer walk them (tracehouse.start_up_heap); /metrics says how
    many, beside the process's memory and the collections by generation."""
    with urllib.request.urlopen(server.api_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    metrics = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    # Modules, classes, routes, models: tens of thousands of objects.
    assert metrics["tracehouse_gc_frozen_objects"] > 10_000, metrics.get("tracehouse_gc_frozen_objects")
    assert 'python_gc_collections_total{generation="2"}' in metrics
    assert metrics["process_resident_memory_bytes"] > 0
