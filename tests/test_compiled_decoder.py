"""The span decoder compiled with mypyc (tracehouse/compiled.py) is the decoder the suite runs
where this machine can build it, and it decodes exactly as the same code run as Python: the
same Arrow tables (byte for byte, as IPC), the same counts and messages, the same refusals,
over the GenAI workload, random requests whose attributes use every key the mapping reads with
values of every type, random JSON bodies and damaged protobuf."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from bench.workload import Workload
from otlp_receiver.decode import GENAI_EVENTS, DecodeContext, decode_body
from otlp_receiver.mapping.rules import (
    FLATTENED_INPUT,
    FLATTENED_OUTPUT,
    LOOKUPS,
    METADATA_PREFIXES,
    REQUEST_PARAMETER_PREFIX,
)
from pricing import PriceBook
from tests.otlp_data import request
from tests.otlp_strategies import any_values, export_requests, hostile_json_requests, mutated, valid_times
from tracehouse import compiled
from tracehouse.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]

KEYS = sorted(
    {key for keys in LOOKUPS.values() for key in keys}
    | {REQUEST_PARAMETER_PREFIX + "temperature", REQUEST_PARAMETER_PREFIX + "max_tokens"}
    | {p + "x" for p in METADATA_PREFIXES}
    | {f"{p}{i}.{field}" for p in FLATTENED_INPUT + FLATTENED_OUTPUT for i in (0, 1) for field in ("role", "content")}
    | {"llm.input_messages.0.message.role", "llm.input_messages.0.message.content", "service.name"}
    | {"tracehouse.project", "openinference.project.name"}
)
# Text the mapping parses: JSON messages, numbers, timestamps, kinds.
TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            '[{"role": "user", "content": "hi"}]',
            '{"messages": [{"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]}',
            '{"input": 3, "output": "7"}',
            "12",
            "-1",
            "1e309",
            "NaN",
            "2026-12-01T10:00:00.123Z",
            "not a date",
            "LLM",
            "generation",
            "ERROR",
            "chat",
            "gpt-4o",
            "claude-3-5-sonnet",
            "[]",
            "{",
        ]
    ),
)
VALUES = st.one_of(
    TEXTS.map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: AnyValue(double_value=v)),
    st.booleans().map(lambda v: AnyValue(bool_value=v)),
    any_values(4),
)
IDS = (st.binary(min_size=16, max_size=16).filter(any), st.binary(min_size=8, max_size=8).filter(any))


@st.composite
def genai_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """Valid spans whose attributes and events are the mapping's own keys, with any values."""
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        rs = req.resource_spans.add()
        for key in draw(st.lists(st.sampled_from(["service.name", "tracehouse.project", "deployment.environment"]))):
            rs.resource.attributes.append(KeyValue(key=key, value=draw(VALUES)))
        ss = rs.scope_spans.add()
        for _ in range(draw(st.integers(1, 3))):
            span = ss.spans.add(trace_id=draw(IDS[0]), span_id=draw(IDS[1]), name=draw(st.text(max_size=10)))
            span.start_time_unix_nano = draw(valid_times)
            span.end_time_unix_nano = span.start_time_unix_nano + draw(st.integers(0, 10**12))
            span.status.code = draw(st.integers(0, 2))
            for key in draw(st.lists(st.sampled_from(KEYS), max_size=12)):
                span.attributes.append(KeyValue(key=key, value=draw(VALUES)))
            for name in draw(st.lists(st.sampled_from(sorted(GENAI_EVENTS)), max_size=2)):
                event = span.events.add(name=name, time_unix_nano=span.start_time_unix_nano)
                keys = draw(st.lists(st.sampled_from(["content", "role", "message", "index", "id"]), max_size=3))
                event.attributes.extend(KeyValue(key=key, value=draw(VALUES)) for key in keys)
    return req


def context() -> DecodeContext:
    """The same context on both sides: routing by name, retention, a price override."""
    return DecodeContext(
        project_id=None,
        projects_by_name={"shop": "p-shop", "p-shop": "p-shop", "twice": ""},
        retention_days={"p-shop": 7},
        prices=PriceBook({"p-shop": [("o1", "^gpt", {"input": "2.5", "output": "10"})]}),
    )


def outcome(body: bytes, fmt: str) -> tuple[object, ...]:
    try:
        return decode_body(body, fmt, context())
    except InvalidInput as exc:
        return ("refused", exc.message)


def pure_outcomes(cases: list[tuple[bytes, str]]) -> list[tuple[object, ...]]:
    """The cases decoded by the same modules run as Python, in a process of their own."""
    code = (
        "import pickle, sys\n"
        "import otlp_receiver.decode as d\n"
        "assert d.__file__.endswith('.py'), d.__file__\n"
        "from tests.test_compiled_decoder import outcome\n"
        "cases = pickle.load(sys.stdin.buffer)\n"
        "pickle.dump([outcome(b, f) for b, f in cases], sys.stdout.buffer)\n"
    )
    env = {**os.environ, compiled.PURE_ENV: "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(cases), capture_output=True, cwd=ROOT, env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result: list[tuple[object, ...]] = pickle.loads(done.stdout)
    return result


def collect(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    found: list[bytes] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(body: bytes) -> None:
        found.append(body)

    draw()
    return found


def decoder_is_compiled() -> bool:
    import otlp_receiver.decode

    return not str(otlp_receiver.decode.__file__).endswith(".py")


def test_the_decoder_runs_compiled_where_this_machine_can_build_it() -> None:
    why_not = compiled.can_build()
    if why_not is not None:
        pytest.skip(f"this machine cannot build the compiled decoder: {why_not}")
    # A fresh interpreter, as the server starts: the .pth file the build wrote installs it.
    code = "import otlp_receiver.decode as d, tracehouse.compiled as c; print(d.__file__); print(c.status())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ}, check=True
    )
    path, status = done.stdout.splitlines()
    assert path.endswith(".so") and "tracehouse-compiled" in path, f"{path}: {status} (build it: tracehouse compile)"
    assert status == "compiled (mypyc)"
    assert decoder_is_compiled(), "this test process imported the decoder as Python"

    # Asked not to, a process runs the sources, and says why.
    pure = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, compiled.PURE_ENV: "1"},
        check=True,
    )
    path, status = pure.stdout.splitlines()
    assert path == str(ROOT / "otlp_receiver" / "decode.py")
    assert status == f"pure Python ({compiled.PURE_ENV} is set)"


def test_a_copy_installed_by_pip_compiles_where_pip_puts_it(tmp_path: Path) -> None:
    """``pip install '.[compiled]'`` (not editable, as the Docker image does) leaves the sources in
    site-packages, among other projects' modules; the build compiles them there, and a process
    that imports them from there gets the extension."""
    why_not = compiled.can_build()
    if why_not is not None:
        pytest.skip(f"this machine cannot build the compiled decoder: {why_not}")
    site = tmp_path / "site-packages"
    for package in compiled.SOURCE_PACKAGES:
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "typing_extensions.py").write_text("# another project's module, as site-packages holds them\n")
    out = tmp_path / "compiled"
    assert compiled.build(out, site).startswith("built 6 modules")
    assert compiled.build(out, site).startswith("up to date")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "from pathlib import Path\n"
        "from tracehouse import compiled\n"
        f"assert compiled.install(Path({str(out)!r}), Path({str(site)!r}))\n"
        "import otlp_receiver.decode as d\n"
        "print(d.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(out / "otlp_receiver" / "decode.")), done.stdout


def test_a_build_of_other_sources_is_not_used(tmp_path: Path) -> None:
    """One edited module turns every compiled module back into Python (they call each other
    directly), until the next build."""
    manifest = {"digest": "0" * 64, "modules": {}, "group": "x__mypyc"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    before = list(sys.meta_path)
    saved = dict(compiled._state)
    try:
        assert compiled.install(tmp_path) is False
        assert sys.meta_path == before
        assert compiled._state["status"].startswith("pure Python (the sources changed")
        # With no build at all, nothing either.
        assert compiled.install(tmp_path / "none") is False
        assert sys.meta_path == before
    finally:
        compiled._state.update(saved)


def test_compiled_and_pure_decoders_decode_alike() -> None:
    if not decoder_is_compiled():
        pytest.skip(f"the decoder is not compiled here: {compiled.status()}")
    now = time.time_ns()
    cases: list[tuple[bytes, str]] = [
        (b.body, "protobuf") for b in Workload(seed=5).batches(3_000, 200, now - 3_600 * 10**9)
    ]
    cases += [(r.SerializeToString(), "protobuf") for r in collect(genai_requests(), 400)]
    cases += [(r.SerializeToString(), "protobuf") for r in collect(export_requests(), 50)]
    cases += [(b, "json") for b in collect(hostile_json_requests(), 80)]
    valid = request(
        [{"trace_id": bytes(range(1, 17)), "span_id": bytes(range(1, 9)), "attrs": {"gen_ai.request.model": "gpt-4o"}}]
    ).SerializeToString()
    cases += [(b, "protobuf") for b in collect(mutated(valid), 60)]

    mine = [outcome(body, fmt) for body, fmt in cases]
    theirs = pure_outcomes(cases)
    differ = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
    assert not differ, f"{len(differ)} of {len(cases)} cases decode differently, first: {cases[differ[0]]!r}"
    # Not a comparison of refusals alone: most cases stored spans, some were refused.
    stored = sum(1 for o in mine if o[0] != "refused" and o[0] is not None)
    refused = sum(1 for o in mine if o[0] == "refused")
    assert stored > 150 and refused > 20, (stored, refused)
