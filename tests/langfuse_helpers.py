"""Helpers for the Langfuse-compatible API tests: keys, raw requests, the real SDKs."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from storage import KeyPair
from tracehouse.server import Running

ROOT = Path(__file__).resolve().parent.parent
SDK_DIRS = {str(v): ROOT / ".venv" / "sdk" / f"langfuse{v}" for v in (2, 4, 5)}
# Frameworks with what traces them, each in its own directory (./dev test installs them): Haystack
# 3.x with langfuse-haystack and opentelemetry-haystack; LlamaIndex with OpenInference's
# instrumentation; LiteLLM with langfuse 4.x (its Langfuse callback's).
FRAMEWORKS = {
    name: ROOT / ".venv" / "sdk" / name
    for name in ("haystack", "llamaindex", "litellm", "livekit", "bedrock", "langchain2")
}
JS_SDK = ROOT / ".venv" / "sdk" / "langfuse-js" / "node_modules"  # langfuse 3.x from npm
JS5_SDK = ROOT / ".venv" / "sdk" / "langfuse-js5" / "node_modules"  # @langfuse/client, tracing, otel 5.x
JS_LANGCHAIN = ROOT / ".venv" / "sdk" / "langfuse-langchain-js" / "node_modules"  # langfuse-langchain 3.x, LangChain.js


async def make_key(live: Running, project: str = "default") -> KeyPair:
    pair = await live.store.projects.create_key(project)
    live.changed()
    return pair


def basic(pair: KeyPair) -> dict[str, str]:
    token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def event(
    kind: str, body: dict[str, Any], event_id: str | None = None, timestamp: str = "2026-11-27T10:00:00Z"
) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": kind, "timestamp": timestamp, "body": body}


async def ingest(
    live: Running,
    headers: dict[str, str],
    events: list[dict] | Any,
    path: str = "/api/public/ingestion",
    base: str | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps({"batch": events} if isinstance(events, list) else events).encode()
    url = (base or live.api_url) + path
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(data), headers={**headers, "Content-Type": "application/json"}) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else None


def run_sdk(version: str, script: str, host: str, pair: KeyPair, *extra: str, isolated: bool = True) -> dict[str, Any]:
    """Run a client script with the real langfuse SDK ``version`` (installed by ./dev test);
    ``isolated=False``: this project's packages after the SDK's (a framework the SDK traces)."""
    sdk = SDK_DIRS[version]
    if not (sdk / "langfuse").is_dir():
        raise RuntimeError(f"the langfuse {version}.x SDK is missing in {sdk}: run ./dev test to install it")
    # -S: only the standard library and the SDK's own directory, so its pinned dependencies win.
    runner = [sys.executable, "-S"] if isolated else [sys.executable]
    return _run_client(runner, script, {"PYTHONPATH": str(sdk)}, host, pair, *extra)


def run_framework(name: str, script: str, host: str, pair: KeyPair, *extra: str) -> dict[str, Any]:
    """Run a client script with the framework ``name`` of FRAMEWORKS alone on the path."""
    directory = FRAMEWORKS[name]
    if not (directory / ".installed").is_file():
        raise RuntimeError(f"{name} is missing in {directory}: run ./dev test to install it")
    return _run_client([sys.executable, "-S"], script, {"PYTHONPATH": str(directory)}, host, pair, *extra)


def run_js(script: str, host: str, pair: KeyPair, *extra: str, modules: Path = JS_SDK) -> dict[str, Any]:
    """Run a client script with node and a real langfuse JS SDK (``modules``: 3.x, ``JS5_SDK`` or
    ``JS_LANGCHAIN``; ./dev test installs them)."""
    node = shutil.which("node")
    if node is None or not any(modules.iterdir() if modules.is_dir() else ()):
        raise RuntimeError(f"node or the langfuse JS SDK is missing ({modules}): run ./dev test to install them")
    return _run_client([node], script, {"NODE_PATH": str(modules)}, host, pair, *extra)


def run_python(script: str, host: str, pair: KeyPair, *extra: str) -> dict[str, Any]:
    """Run a client script with this project's Python and its test dependencies (a framework
    that configures OpenTelemetry for its whole process runs apart from the tests')."""
    return _run_client([sys.executable], script, {}, host, pair, *extra)


def _run_client(
    runner: list[str], script: str, env: dict[str, str], host: str, pair: KeyPair, *extra: str
) -> dict[str, Any]:
    """Run ``tests/langfuse_clients/<script>`` with ``runner`` and its arguments (host, key pair,
    ``extra``); the JSON line it prints last."""
    result = subprocess.run(
        [*runner, str(ROOT / "tests" / "langfuse_clients" / script), host, pair.public_key, pair.secret_key, *extra],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
