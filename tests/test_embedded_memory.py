"""The embedded store hands memory back after a large allocation (ClickHouse merges free
hundreds of MB at once; a long-running server must not keep them)."""

import os
import subprocess
import sys
from pathlib import Path

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
