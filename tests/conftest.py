"""Shared fixtures: real chDB stores in temporary directories, real server subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest

from storage import Store
from tracehouse.server import Running, running
from tracehouse.settings import load_settings

# Property tests: reproducible in CI (a fixed derivation of examples, so a red run can be rerun),
# a fresh random search on developers' machines, where new failures are worth finding. No
# deadline in either: a slow example on a busy machine is not a failure (no timing assertions).
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
hypothesis.settings.register_profile("dev", print_blob=True, deadline=None)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
TRACEHOUSE = [sys.executable, "-m", "tracehouse"]
# tiktoken's encodings, which ./dev test puts here (tests/tiktoken_cache.py): the servers the tests
# start (in this process or as subprocesses) count tokens with them, never downloading.
TIKTOKEN_CACHE = ROOT / ".venv" / "tiktoken-cache"
os.environ["TIKTOKEN_CACHE_DIR"] = str(TIKTOKEN_CACHE)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh embedded store (chDB allows one data directory per process at a time)."""
    s = await Store.open(data_dir=tmp_path / "data")
    try:
        yield s
    finally:
        await s.close()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUSE_")}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``tracehouse ARGS`` the way a user does, and return what it printed."""
    return subprocess.run(
        [*TRACEHOUSE, *args],
        cwd=cwd or ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def call_json(url: str, method: str = "GET", body: Any = None, auth: str = "") -> tuple[int, Any]:
    """A JSON request as a plain client makes it (``auth``: an Authorization header): the status
    and the decoded answer, error answers included."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Server:
    process: subprocess.Popen[str]
    data_dir: Path
    api_url: str
    log_path: Path
    otlp_http_url: str = ""
    otlp_grpc_address: str = ""

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        try:
            request = urllib.request.Request(self.api_url + path, headers=headers or {})
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text()


def start_server(data_dir: Path, *extra: str, timeout: float = 60, env: dict[str, str] | None = None) -> Server:
    """Start ``tracehouse serve`` on ephemeral ports (``env``: settings in its environment) and
    wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"serve-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                *TRACEHOUSE,
                "serve",
                "--data-dir",
                str(data_dir),
                "--api-port",
                "0",
                "--otlp-grpc-port",
                "0",
                "--otlp-http-port",
                "0",
                *extra,
            ],
            cwd=ROOT,
            env=cli_env(**(env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + timeout
    runtime = data_dir / "server.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tracehouse serve exited with {process.returncode}:\n{log_path.read_text()}")
        if runtime.exists():
            try:
                info = json.loads(runtime.read_text())
            except ValueError:
                info = None
            if info and info.get("pid") == process.pid:
                return Server(
                    process, data_dir, info["api_url"], log_path, info["otlp_http_url"], info["otlp_grpc_address"]
                )
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"tracehouse serve did not start:\n{log_path.read_text()}")


async def until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Return once ``condition()`` holds. Tests wait on what happens, never on the clock: a slow
    machine takes longer to get there. Fails after ``timeout_s`` (a hang, not slowness)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Collect garbage as each test ends: a socket or file it left open is reported against that
    test (an unraisable ResourceWarning, an error here), not against whichever test the
    collector happens to run in later."""
    yield
    gc.collect()


@contextlib.asynccontextmanager
async def serving(data_dir: Path, **overrides: object) -> AsyncIterator[Running]:
    """``tracehouse serve`` in this process, on ephemeral ports, with some settings overridden."""
    settings = load_settings(data_dir=data_dir, api_port=0, otlp_grpc_port=0, otlp_http_port=0, **overrides)
    async with running(settings, ("api", "receiver")) as r:
        yield r


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    """``tracehouse serve`` in this process, on ephemeral ports, with its store at hand."""
    async with serving(tmp_path / "data") as r:
        yield r


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "data")
    try:
        yield srv
    finally:
        if srv.process.poll() is None:
            srv.stop()
