"""The judge worker through kill -9: ``tracehouse serve`` is killed while judge calls are under way,
then started again on the same data directory. Every matched observation ends with exactly one
EVAL score, and no object is judged more than once after the restart."""

from __future__ import annotations

import base64
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import call_json, start_server
from tests.fake_judge import threaded_fake_judge

pytestmark = pytest.mark.slow
OBJECTS = 6


def test_no_object_is_judged_twice_across_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with threaded_fake_judge() as judge:
        judge.behaviour = ["slow"]
        server = start_server(data)
        try:
            status, key = call_json(
                server.api_url + "/api/v1/settings/keys", "POST", {"project": "default", "note": "crash"}
            )
            assert status == 201, key
            auth = "Basic " + base64.b64encode(f"{key['public_key']}:{key['secret_key']}".encode()).decode()
            stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            batch, generations = [], []
            for i in range(OBJECTS):
                trace, gen = uuid.uuid4().hex, f"gen-{i}"
                generations.append((trace, gen))
                batch += [
                    {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
                     "body": {"id": trace, "timestamp": stamp}},
                    {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
                     "body": {"id": gen, "traceId": trace, "name": "llm", "startTime": stamp, "endTime": stamp,
                              "input": f"q{i}", "output": f"a{i}"}},
                ]  # fmt: skip
            status, doc = call_json(server.api_url + "/api/public/ingestion", "POST", {"batch": batch}, auth)
            assert status == 207 and not doc["errors"]
            connection = {"provider": "judge", "secretKey": "sk-j", "baseURL": judge.url, "customModels": ["judge-1"]}
            assert call_json(server.api_url + "/api/v1/llm-connections", "PUT", connection, auth)[0] == 200
            rule = {"name": "ok", "templateId": "builtin-conciseness", "filter": {"name": "llm"}, "delaySeconds": 0,
                    "evaluateExisting": True, "provider": "judge", "model": "judge-1"}  # fmt: skip
            status, made = call_json(server.api_url + "/api/v1/evaluations/rules", "PUT", rule, auth)
            assert status == 200, made
            # Kill it while calls are under way (the fake answers after 3 s).
            deadline = time.monotonic() + 60
            while len(judge.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(judge.requests) >= 2
            server.stop(signal.SIGKILL)
            before_restart = len(judge.requests)
            judge.behaviour = ["good"]
            server = start_server(data)
            deadline = time.monotonic() + 120
            jobs: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                _, doc = call_json(server.api_url + f"/api/v1/evaluations/jobs?rule={made['id']}", auth=auth)
                jobs = doc["items"]
                if len(jobs) == OBJECTS and all(j["status"] == "done" for j in jobs):
                    break
                time.sleep(0.3)
            assert len(jobs) == OBJECTS and {j["status"] for j in jobs} == {"done"}, [
                (j["status"], j["error"]) for j in jobs
            ]
            # One score per object, and after the restart each object was judged at most once more.
            for trace, gen in generations:
                _, doc = call_json(server.api_url + f"/api/public/scores?traceId={trace}", auth=auth)
                assert [(s["observationId"], s["source"]) for s in doc["data"]] == [(gen, "EVAL")]
            assert len(judge.requests) - before_restart <= OBJECTS
        finally:
            server.stop()
