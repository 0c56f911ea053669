"""A store an earlier Tracehouse wrote opens with today's code and reads back the same.

A self-hoster upgrades by installing the new release and running it on the same data directory.
``tests/stores/`` holds data directories written by earlier commits (how each was made is in its
README); each is opened here by ``tracehouse serve`` and read through the APIs its clients use.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from credentials.secret_box import SecretBox
from storage.migrations import LATEST
from tests.conftest import Server, call_json, serving, start_server
from tests.otlp_data import request

STORES = Path(__file__).parent / "stores"

# The keys and ids written into 8b19b72.tar.gz (tests/stores/README.md).
MAIN_KEY = ("pk-th-32f66f91daf75d78d5b53e18", "sk-th-iXOKlVo10veGfDQ_BhQ9dMHJ0Y4j6Qi8YufFPrzkUf4")
ACME_KEY = ("pk-th-0d351a9b273623494bba85df", "sk-th-h4XoDgBBc9tOfdmPJtkSr8sIG2ar5WBuneMNw4X_bHs")
REVOKED_KEY = ("pk-th-c70280439afe6a84983871c0", "sk-th-myU0tUzbvjrcpNUCzXZuGyWW3YcHAa4bu6HkhRcKT2w")
ACME_PROJECT = "prj-7d3d678292c5b5f8"
OTEL_TRACES = [
    "407460cb02af5f342f2ed97118ded77f",
    "96fbb3837ed215c3787eea2266024bb0",
    "db548c65ec1d1dc2ebe0e4bbf2904fbb",
]
LANGFUSE_TRACE = "680abcbe-8d33-4a86-a046-303981eeaa47"
# Where the old server's metric points and log record lie (2026-12-05 00:14:58 UTC).
WRITTEN_AT_S = 1796429699


def basic(key: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{key[0]}:{key[1]}".encode()).decode()


def unpack(commit: str, tmp_path: Path) -> Path:
    """The data directory ``commit`` wrote (tests/stores/<commit>.tar.gz), unpacked in ``tmp_path``."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(STORES / f"{commit}.tar.gz") as archive:
        archive.extractall(data_dir, filter="data")
    return data_dir


@pytest.fixture
def upgraded(tmp_path: Path) -> Iterator[Server]:
    """The store of commit 8b19b72 (schema version 8), served by today's code."""
    srv = start_server(unpack("8b19b72", tmp_path))
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()


def check_otel_traces(url: str, auth: str, trace_ids: list[str]) -> None:
    """The OpenTelemetry SDK's three traces of tests/stores/README.md, listed, whole, with their
    GenAI columns."""
    status, page = call_json(url + "/api/public/traces?limit=10", auth=auth)
    assert status == 200, page
    assert {t["id"]: t["name"] for t in page["data"] if t["id"] in trace_ids} == dict.fromkeys(trace_ids, "agent run")
    input_tokens = []
    for trace_id in trace_ids:
        status, trace = call_json(f"{url}/api/v1/traces/{trace_id}", auth=auth)
        assert status == 200, trace
        root, chat = sorted(trace["spans"], key=lambda s: s["parent_span_id"])
        assert (root["name"], root["session_id"], root["user_id"]) == ("agent run", "old-session", "old-user")
        assert chat["parent_span_id"] == root["span_id"]
        assert (chat["observation_type"], chat["model"], chat["provider"]) == ("GENERATION", "gpt-4o-mini", "openai")
        assert chat["output_tokens"] == 30 and chat["usage_details"]["total"] == chat["input_tokens"] + 30
        assert float(chat["total_cost"]) > 0
        assert "what is ClickHouse?" in chat["input"] and "A columnar database." in chat["output"]
        input_tokens.append(chat["input_tokens"])
    assert sorted(input_tokens) == [12, 13, 14]
    # From the store's own time on: the list's default window is the last day, and the store was
    # written on 2026-12-05 (the test failed a day later).
    status, sessions = call_json(url + "/api/v1/sessions?start=2026-11-01T00:00:00Z", auth=auth)
    assert [(s["id"], s["traces"]) for s in sessions["items"] if s["id"] == "old-session"] == [("old-session", 3)]


def check_langfuse_trace(url: str, auth: str, trace_id: str, project: str) -> None:
    """The langfuse SDK 2's trace of tests/stores/README.md, with its generation and scores."""
    status, lf = call_json(f"{url}/api/public/traces/{trace_id}", auth=auth)
    assert status == 200, lf
    assert (lf["name"], lf["userId"], lf["sessionId"], lf["projectId"]) == (
        "lf2 trace",
        "lf-user",
        "lf-session",
        project,
    )
    assert (lf["tags"], lf["metadata"], lf["input"], lf["output"]) == (
        ["old", "v2"],
        {"env": "old"},
        {"q": "你好"},
        {"a": "hi"},
    )
    assert [(o["name"], o["type"], o["model"], o["usageDetails"]) for o in lf["observations"]] == [
        ("gen", "GENERATION", "gpt-4o", {"input": 10, "output": 5, "total": 15})
    ]
    assert sorted((s["name"], s["dataType"], s["value"], s.get("stringValue"), s["comment"]) for s in lf["scores"]) == [
        ("label", "CATEGORICAL", 0.0, "good", None),  # a category's number: 0 without a config
        ("quality", "NUMERIC", 0.8, None, "fine"),
    ]


def sign_in(url: str, email: str) -> str:
    """The session cookie of ``email`` (password ``correct horse battery``), signed in as the UI does."""
    body = {"email": email, "password": "correct horse battery"}
    login = urllib.request.Request(
        url + "/api/v1/auth/login", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(login, timeout=30) as r:
        return "; ".join(h.split(";")[0] for h in r.headers.get_all("Set-Cookie"))


def organizations(url: str, cookie: str) -> set[tuple[str, str, str, int]]:
    """(organization, role, project, retention days) of everything the signed-in person sees."""
    with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/organizations", headers={"Cookie": cookie})) as r:
        data = json.loads(r.read())["data"]
    return {(o["name"], o["role"], p["name"], p["retention_days"]) for o in data for p in o["projects"]}


def test_a_store_of_8b19b72_upgrades_and_reads_back_the_same(upgraded: Server) -> None:
    url, main, acme = upgraded.api_url, basic(MAIN_KEY), basic(ACME_KEY)
    assert "applying migration 9:" in upgraded.log()
    assert f"schema migrated to version {LATEST}" in upgraded.log()

    check_otel_traces(url, main, OTEL_TRACES)

    # Its log record and metric points.
    status, logs = call_json(url + "/api/v1/logs?start=0", auth=main)
    assert status == 200, logs
    assert [(r["body"], r["severity_text"], r["service_name"]) for r in logs["items"]] == [
        ("old log line 旧日志", "WARN", "old-app")
    ]
    query = urllib.parse.urlencode({"query": "old_requests_total", "time": WRITTEN_AT_S})
    status, vector = call_json(f"{url}/prometheus/api/v1/query?{query}", auth=main)
    assert status == 200, vector
    assert [(r["metric"]["route"], r["value"][1]) for r in vector["data"]["result"]] == [("/chat", "5")]

    # The langfuse SDK 2's trace is in Acme's project.
    check_langfuse_trace(url, acme, LANGFUSE_TRACE, ACME_PROJECT)

    # Each key still sees its own project only; the revoked key stays revoked.
    assert call_json(f"{url}/api/public/traces/{LANGFUSE_TRACE}", auth=main)[0] == 404
    assert call_json(f"{url}/api/v1/traces/{OTEL_TRACES[0]}", auth=acme)[0] == 404
    assert call_json(url + "/api/public/traces", auth=basic(REVOKED_KEY))[0] == 401


def test_the_admin_of_8b19b72_signs_in_to_its_organizations(upgraded: Server) -> None:
    assert organizations(upgraded.api_url, sign_in(upgraded.api_url, "old@example.com")) == {
        ("Default", "OWNER", "default", 0),
        ("Acme", "OWNER", "acme-app", 30),
    }


def test_an_old_trace_takes_new_spans_and_scores_after_the_upgrade(upgraded: Server) -> None:
    url, main, acme = upgraded.api_url, basic(MAIN_KEY), basic(ACME_KEY)
    old = OTEL_TRACES[0]
    assert len(call_json(f"{url}/api/v1/traces/{old}", auth=main)[1]["spans"]) == 2
    late = request([{"trace_id": bytes.fromhex(old), "name": "late tool call"}], {"service.name": "old-app"})
    post = urllib.request.Request(
        upgraded.otlp_http_url + "/v1/traces",
        data=late.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": main},
    )
    with urllib.request.urlopen(post, timeout=30) as r:
        assert r.status == 200
    status, trace = call_json(f"{url}/api/v1/traces/{old}", auth=main)
    assert sorted(s["name"] for s in trace["spans"]) == ["agent run", "chat gpt-4o-mini", "late tool call"]

    score = {"traceId": LANGFUSE_TRACE, "name": "reviewed", "value": 1, "dataType": "BOOLEAN"}
    status, made = call_json(url + "/api/public/scores", "POST", score, auth=acme)
    assert status == 200, made
    status, lf = call_json(f"{url}/api/public/traces/{LANGFUSE_TRACE}", auth=acme)
    assert sorted(s["name"] for s in lf["scores"]) == ["label", "quality", "reviewed"]


def test_a_store_of_8f48f8c_the_last_of_schema_2_upgrades_and_reads_back_the_same(tmp_path: Path) -> None:
    """The store of commit 8f48f8c (2026-11-27, schema version 2): what users of the trace backend
    before prompts, datasets and organizations have on disk."""
    srv = start_server(unpack("8f48f8c", tmp_path))
    try:
        assert "applying migration 3:" in srv.log()
        key = basic(("pk-th-cdc28732ef419787572c07b5", "sk-th--Q7DcwqiNwO1ShCB8iM6g_KP4534ECffkEnOwc-7qJc"))
        langfuse = "d85bc6f7-94bf-475c-95f9-8d2c1804dfd7"
        otel = [
            "4f3ea1fedf734338bedd0cd2b75fefbd",
            "6e59e552ce3476407e4ef3322ccf9858",
            "8cb1389dd1c1f81e5e98faf00dce1cfb",
        ]
        check_otel_traces(srv.api_url, key, otel)
        check_langfuse_trace(srv.api_url, key, langfuse, "default")
        assert organizations(srv.api_url, sign_in(srv.api_url, "prev@example.com")) == {
            ("Default", "OWNER", "default", 0)
        }
    finally:
        assert srv.stop() == 0, srv.log()


# The key and ids written into a1b5057.tar.gz (tests/stores/README.md).
TEAM_KEY = ("pk-th-d21165e5883e58f6ed440236", "sk-th-ARGX0BggEIZt6f2O3rC_QMl__GMVY1LueusvyNHpNdo")
QUEUE = "7c7a3713-c925-4616-b82d-bd1e269737e8"
SCORE_CONFIG = "5d0d182e-a7d4-4805-9f54-d221a7d2b40d"
CRASHED_TRACE = "0a1b5057000000000000000000000001"


async def test_a_store_of_a1b5057_keeps_its_prompts_datasets_evaluations_and_log(tmp_path: Path) -> None:
    """The store of commit a1b5057 (schema version 19): a team's prompts, dataset and run, score
    config, annotation queue, comment, model connection and judge; and two spans that commit
    acknowledged from its write-ahead log before the process died, replayed by today's code."""
    data_dir = unpack("a1b5057", tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        live = await stack.enter_async_context(serving(data_dir, eval_worker=False))
        headers = {"Authorization": basic(TEAM_KEY)}
        http = await stack.enter_async_context(aiohttp.ClientSession(live.api_url, headers=headers))

        async def get(path: str) -> Any:
            async with http.get(path) as r:
                doc = await r.json()
                assert r.status == 200, (path, doc)
                return doc

        # The write-ahead log's spans, in the old record format, stored once.
        spans = (await get(f"/api/v1/traces/{CRASHED_TRACE}"))["spans"]
        assert sorted((s["name"], s["model"], s["input_tokens"], s["session_id"]) for s in spans) == [
            ("chat gpt-4o-mini", "gpt-4o-mini", 21, ""),
            ("crashed agent", "", 0, "crash-session"),
        ]
        assert "日志里的问题" in json.loads(next(s["input"] for s in spans if s["model"]))[0]["parts"][0]["content"]
        assert not list((data_dir / "wal").glob("*.wal"))

        # Prompts: versions, labels, config; a chat prompt in a folder.
        production = await get("/api/public/v2/prompts/greeting")
        assert (production["version"], production["prompt"], production["config"]) == (
            1,
            "你好 {{name}}",
            {"temperature": 0.2},
        )
        assert (await get("/api/public/v2/prompts/greeting?label=staging"))["prompt"] == "您好，{{name}}！"
        chat = await get("/api/public/v2/prompts/" + urllib.parse.quote("support/chat", safe=""))
        assert [(m["role"], m["content"]) for m in chat["prompt"]] == [("system", "Be brief"), ("user", "{{q}}")]

        # The dataset, its items and its run linked to the run's trace, scored.
        name = urllib.parse.quote("退货问答")
        items = (await get(f"/api/public/dataset-items?datasetName={name}"))["data"]
        assert sorted((i["id"], i["input"]["q"], i["expectedOutput"]["a"]) for i in items) == [
            ("item-1", "能退货吗", "可以"),
            ("item-2", "多久到账", "三天"),
        ]
        run = await get(f"/api/public/datasets/{name}/runs/baseline")
        assert [(r["datasetItemId"], r["traceId"]) for r in run["datasetRunItems"]] == [("item-1", "run-trace-1")]
        trace = await get("/api/public/traces/run-trace-1")
        assert [(s["name"], s["value"]) for s in trace["scores"]] == [("exact", 1.0)]
        assert [(o["model"], o["promptName"], o["promptVersion"]) for o in trace["observations"]] == [
            ("gpt-4o-mini", "greeting", 1)
        ]

        # Human review and LLM-as-a-judge.
        assert [c["id"] for c in (await get("/api/public/score-configs"))["data"]] == [SCORE_CONFIG]
        queue = await get(f"/api/public/annotation-queues/{QUEUE}")
        assert (queue["name"], queue["scoreConfigIds"]) == ("review", [SCORE_CONFIG])
        queued = (await get(f"/api/public/annotation-queues/{QUEUE}/items"))["data"]
        assert [(i["objectId"], i["status"]) for i in queued] == [("run-trace-1", "PENDING")]
        comments = (await get("/api/public/comments?objectType=TRACE&objectId=run-trace-1"))["data"]
        assert [c["content"] for c in comments] == ["看起来不错"]
        rules = (await get("/api/public/v2/evaluation-rules"))["data"]
        assert [(r["name"], r["enabled"]) for r in rules] == [("helpful", True)]
        [evaluator] = [e for e in (await get("/api/public/v2/evaluators"))["data"] if e["name"] == "helpfulness"]
        assert rules[0]["evaluatorAssignments"][0]["evaluatorId"] == evaluator["id"]

        # The model connection's key, sealed at rest by that commit, opens with the directory's key.
        [conn] = (await get("/api/public/llm-connections"))["data"]
        assert (conn["provider"], conn["displaySecretKey"]) == ("judge", "...6789")
        [stored] = await live.store.llm_connections.list("default")
        assert SecretBox.load(data_dir).open(stored.secret_sealed) == "sk-old-secret-0123456789"
