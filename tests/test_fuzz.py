"""The atheris fuzz target of the decoders, run briefly from a seed corpus of valid requests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.otlp_data import request

pytestmark = pytest.mark.slow

TARGET = Path(__file__).resolve().parent / "fuzz" / "fuzz_decoders.py"
RUNS = 200_000


def seed_corpus(directory: Path) -> None:
    directory.mkdir()
    pb = request(
        [
            {
                "trace_id": bytes(range(1, 17)),
                "span_id": bytes(range(1, 9)),
                "attrs": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 5, "x": 1.5, "b": True},
            }
        ]
    ).SerializeToString()
    (directory / "protobuf").write_bytes(b"\x00" + pb)
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "chat",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": 2,
                                "attributes": [
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}},
                                    {"key": "l", "value": {"arrayValue": {"values": [{"boolValue": True}]}}},
                                ],
                                "events": [{"name": "gen_ai.user.message", "timeUnixNano": "1"}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    (directory / "json").write_bytes(b"\x01" + json.dumps(doc).encode())


def test_decoders_survive_coverage_guided_fuzzing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    seed_corpus(corpus)
    result = subprocess.run(
        [sys.executable, str(TARGET), str(corpus), f"-runs={RUNS}", "-max_total_time=120", "-seed=1", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done, result.stderr[-2000:]
    runs = int(done.group(1))
    assert runs > 1000, f"only {runs} inputs ran"
    report = Path(__file__).resolve().parent.parent / "test-artifacts" / "fuzz-decoders.json"
    report.parent.mkdir(exist_ok=True)
    coverage = re.findall(r"cov: (\d+)", result.stderr)
    report.write_text(json.dumps({"runs": runs, "crashes": 0, "coverage_edges": int(coverage[-1]) if coverage else 0}))
