"""Datasets through Langfuse's API as its SDKs call it (upserts, JSON Schema validation, versions,
stable run ids, repetitions, deletes, other projects' ids refused) and the UI's routes with roles,
imports and exports."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import orjson

from storage.datasets import run_id_for
from tests.langfuse_helpers import basic, make_key
from tests.test_organizations_api import PASSWORD, Person, first_admin, sign_in
from tests.test_prompts_api import Client
from tracehouse.server import Running

P = "/api/public"


async def test_datasets_items_versions_and_schemas(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        status, d, _ = await c.call(
            "POST",
            f"{P}/v2/datasets",
            {
                "name": "qa/capitals",
                "description": "capitals",
                "metadata": {"owner": "qa"},
                "inputSchema": {
                    "type": "object",
                    "required": ["country"],
                    "properties": {"country": {"type": "string"}},
                },
                "expectedOutputSchema": {"type": "string"},
            },
        )
        assert status == 200 and d["name"] == "qa/capitals" and d["inputSchema"]["required"] == ["country"]
        # Upsert by name keeps the id; v1 and v2 paths are the same datasets.
        status, again, _ = await c.call("POST", f"{P}/datasets", {"name": "qa/capitals", "description": "v2"})
        assert again["id"] == d["id"] and again["description"] == "v2" and again["inputSchema"] == d["inputSchema"]
        status, got, _ = await c.call("GET", f"{P}/v2/datasets/qa%2Fcapitals")
        assert status == 200 and got["id"] == d["id"]
        status, listed, _ = await c.call("GET", f"{P}/v2/datasets?limit=10")
        assert listed["meta"]["totalItems"] == 1

        # Items: schema checked, upsert by id, source links, ARCHIVED.
        item = {"datasetName": "qa/capitals", "input": {"country": "France"}, "expectedOutput": "Paris", "id": "fr"}
        status, fr, _ = await c.call("POST", f"{P}/dataset-items", item)
        assert status == 200 and fr["status"] == "ACTIVE" and fr["datasetId"] == d["id"]
        before_edit = dt.datetime.now(dt.UTC)
        await asyncio.sleep(0.05)
        for bad, field in (
            ({**item, "input": {"land": "France"}}, "input"),
            ({**item, "expectedOutput": 42}, "expectedOutput"),
            ({**item, "status": "GONE"}, "status"),
            ({**item, "datasetName": None}, "datasetName"),
        ):
            status, doc, _ = await c.call("POST", f"{P}/dataset-items", bad)
            assert status == 400 and doc["error"][0]["path"] == [field], (bad, doc)
        status, doc, _ = await c.call("POST", f"{P}/dataset-items", {**item, "datasetName": "nope"})
        assert status == 404 and doc["error"] == "LangfuseNotFoundError"
        status, fr2, _ = await c.call(
            "POST", f"{P}/dataset-items", {"datasetName": "qa/capitals", "id": "fr", "expectedOutput": "Paris, France"}
        )
        assert fr2["input"] == {"country": "France"} and fr2["expectedOutput"] == "Paris, France"
        status, _, _ = await c.call(
            "POST",
            f"{P}/dataset-items",
            {"datasetName": "qa/capitals", "id": "jp", "input": {"country": "Japan"}, "sourceTraceId": "t-1"},
        )
        assert status == 200  # no expected output: nothing to check against its schema
        # A stricter schema is refused while items break it.
        status, doc, _ = await c.call(
            "POST",
            f"{P}/v2/datasets",
            {"name": "qa/capitals", "expectedOutputSchema": {"type": "string", "maxLength": 5}},
        )
        assert status == 400 and doc["error"][0]["path"] == ["expectedOutputSchema"]
        status, doc, _ = await c.call("POST", f"{P}/v2/datasets", {"name": "x", "inputSchema": {"type": "nonsense"}})
        assert status == 400

        # Reads: current items, by source, and as of a time (the version parameter).
        status, items, _ = await c.call("GET", f"{P}/dataset-items?datasetName=qa%2Fcapitals")
        assert {i["id"]: i["expectedOutput"] for i in items["data"]} == {"fr": "Paris, France", "jp": None}
        status, items, _ = await c.call("GET", f"{P}/dataset-items?sourceTraceId=t-1")
        assert [i["id"] for i in items["data"]] == ["jp"]
        version = before_edit.isoformat().replace("+00:00", "Z")
        status, old, _ = await c.call("GET", f"{P}/dataset-items?datasetName=qa%2Fcapitals&version={version}")
        assert [(i["id"], i["expectedOutput"]) for i in old["data"]] == [("fr", "Paris")]
        status, doc, _ = await c.call("GET", f"{P}/dataset-items?version={version}")
        assert status == 400  # a version needs the dataset
        status, v1, _ = await c.call("GET", f"{P}/datasets/qa%2Fcapitals")
        assert sorted(i["id"] for i in v1["items"]) == ["fr", "jp"] and v1["runs"] == []

        # Run items: the run is made by the first, its id is stable, an item may repeat.
        status, ri, _ = await c.call(
            "POST", f"{P}/dataset-run-items", {"runName": "r1", "datasetItemId": "fr", "traceId": "trace-a"}
        )
        assert status == 200 and ri["datasetRunId"] == run_id_for("default", d["id"], "r1")
        await c.call("POST", f"{P}/dataset-run-items", {"runName": "r1", "datasetItemId": "fr", "traceId": "trace-b"})
        await c.call(
            "POST",
            f"{P}/dataset-run-items",
            {
                "runName": "r1",
                "datasetItemId": "jp",
                "traceId": "trace-c",
                "runDescription": "first",
                "metadata": {"m": 1},
            },
        )
        status, run, _ = await c.call("GET", f"{P}/datasets/qa%2Fcapitals/runs/r1")
        assert run["id"] == ri["datasetRunId"] and run["description"] == "first" and run["metadata"] == {"m": 1}
        assert [(x["datasetItemId"], x["traceId"]) for x in run["datasetRunItems"]] == [
            ("fr", "trace-a"),
            ("fr", "trace-b"),
            ("jp", "trace-c"),
        ]
        for bad in ({"runName": "r1", "datasetItemId": "fr"}, {"runName": "", "datasetItemId": "fr", "traceId": "t"}):
            status, _, _ = await c.call("POST", f"{P}/dataset-run-items", bad)
            assert status == 400
        status, _, _ = await c.call(
            "POST", f"{P}/dataset-run-items", {"runName": "r", "datasetItemId": "none", "traceId": "t"}
        )
        assert status == 404
        status, runs, _ = await c.call("GET", f"{P}/datasets/qa%2Fcapitals/runs")
        assert [r["name"] for r in runs["data"]] == ["r1"]
        # The run's items listed by dataset id and run name (SDK 4's dataset_run_items.list).
        status, listed, _ = await c.call("GET", f"{P}/dataset-run-items?datasetId={d['id']}&runName=r1&limit=2")
        assert status == 200 and [x["traceId"] for x in listed["data"]] == ["trace-a", "trace-b"]
        assert listed["meta"]["totalItems"] == 3 and listed["meta"]["totalPages"] == 2
        for query, code in (
            ("runName=r1", 400),
            (f"datasetId={d['id']}", 400),
            ("datasetId=nope&runName=r1", 404),
            (f"datasetId={d['id']}&runName=nope", 404),
            (f"datasetId={d['id']}&runName=r1&limit=0", 400),
        ):
            status, _, _ = await c.call("GET", f"{P}/dataset-run-items?{query}")
            assert status == code, query
        # Deleting a run empties it; made again, it keeps its id and starts empty.
        status, _, _ = await c.call("DELETE", f"{P}/datasets/qa%2Fcapitals/runs/r1")
        assert status == 200
        status, _, _ = await c.call("GET", f"{P}/datasets/qa%2Fcapitals/runs/r1")
        assert status == 404
        await c.call("POST", f"{P}/dataset-run-items", {"runName": "r1", "datasetItemId": "jp", "traceId": "trace-d"})
        status, run, _ = await c.call("GET", f"{P}/datasets/qa%2Fcapitals/runs/r1")
        assert run["id"] == ri["datasetRunId"] and [x["traceId"] for x in run["datasetRunItems"]] == ["trace-d"]

        # Deleting an item.
        status, _, _ = await c.call("DELETE", f"{P}/dataset-items/jp")
        assert status == 200
        status, _, _ = await c.call("GET", f"{P}/dataset-items/jp")
        assert status == 404
        # Garbage.
        for raw in (b"{", b"[]", b"null"):
            status, _, _ = await c.call(
                "POST", f"{P}/dataset-items", raw=raw, headers={"Content-Type": "application/json"}
            )
            assert status == 400
            status, _, _ = await c.call(
                "POST", f"{P}/v2/datasets", raw=raw, headers={"Content-Type": "application/json"}
            )
            assert status == 400
        status, _, _ = await c.call("GET", f"{P}/v2/datasets?limit=0")
        assert status == 400
    finally:
        await c.close()


async def test_other_projects_ids_are_refused(live: Running) -> None:
    await live.store.projects.create_project("other")
    mine = Client(live, basic(await make_key(live)))
    theirs = Client(live, basic(await make_key(live, "other")))
    try:
        await mine.call("POST", f"{P}/v2/datasets", {"name": "private"})
        await mine.call("POST", f"{P}/dataset-items", {"datasetName": "private", "id": "secret-item", "input": "s"})
        status, _, _ = await theirs.call("GET", f"{P}/v2/datasets/private")
        assert status == 404
        status, _, _ = await theirs.call("GET", f"{P}/dataset-items/secret-item")
        assert status == 404
        status, _, _ = await theirs.call(
            "POST", f"{P}/dataset-run-items", {"runName": "x", "datasetItemId": "secret-item", "traceId": "t"}
        )
        assert status == 404
        status, listed, _ = await theirs.call("GET", f"{P}/dataset-items")
        assert listed["data"] == []
    finally:
        await mine.close()
        await theirs.close()


async def _call(person: Person, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await person.call(method, path, body)


async def test_ui_routes_roles_import_export_and_compare(live: Running) -> None:
    admin = await first_admin(live)
    people = [admin]
    try:
        status, org = await admin.call("POST", "/api/v1/organizations", {"name": "ds-org"})
        status, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "ds"})
        q = f"?project={project['id']}"
        for who, role in [("cy", "MEMBER"), ("dee", "VIEWER")]:
            await admin.call(
                "POST",
                f"/api/v1/organizations/{org['id']}/members",
                {"email": f"{who}@example.com", "role": role, "password": PASSWORD},
            )
        cy, dee = await sign_in(live, "cy@example.com"), await sign_in(live, "dee@example.com")
        people += [cy, dee]
        status, _ = await dee.call("POST", "/api/v1/datasets" + q, {"name": "nope"})
        assert status == 403
        status, _d = await cy.call("POST", "/api/v1/datasets" + q, {"name": "support"})
        assert status == 200
        jsonl = (
            '{"input": {"q": "hi"}, "expectedOutput": "hello", "id": "a"}\n\n'
            '{"input": "bye", "expected_output": "ciao"}\n'
        )
        status, doc = await cy.call(
            "POST", "/api/v1/dataset/import" + q, {"datasetName": "support", "format": "jsonl", "text": jsonl}
        )
        assert status == 200 and doc["imported"] == 2, doc
        csv_text = 'input,expectedOutput,metadata\n"{""q"": ""x""}",y,"{""k"": 1}"\nplain,,\n'
        status, doc = await cy.call(
            "POST", "/api/v1/dataset/import" + q, {"datasetName": "support", "format": "csv", "text": csv_text}
        )
        assert status == 200 and doc["imported"] == 2, doc
        for text, fmt, words in (('{"input": 1}\nnot json\n', "jsonl", "line 2"), ('{"nope": 1}', "jsonl", "line 1"),
                                 ("", "csv", "header"), ("x", "xml", "format")):  # fmt: skip
            status, doc = await cy.call(
                "POST", "/api/v1/dataset/import" + q, {"datasetName": "support", "format": fmt, "text": text}
            )
            assert status == 400 and words in doc["error"]["message"], (text, doc)
        status, doc = await dee.call(
            "POST", "/api/v1/dataset/import" + q, {"datasetName": "support", "format": "jsonl", "text": jsonl}
        )
        assert status == 403
        status, ds = await dee.call("GET", f"/api/v1/dataset{q}&name=support")
        assert status == 200 and len(ds["items"]) == 4
        inputs = {orjson.dumps(i["input"]).decode() for i in ds["items"]}
        assert inputs == {'{"q":"hi"}', '"bye"', '{"q":"x"}', '"plain"'}
        # Exports: JSONL, CSV and OpenAI fine-tuning (items with an expected output only).
        status, text = await dee.call("GET", f"/api/v1/dataset/export{q}&name=support&format=openai")
        lines = [orjson.loads(x) for x in text.splitlines()]
        assert len(lines) == 3 and lines[0]["messages"][-1]["role"] == "assistant"
        status, text = await dee.call("GET", f"/api/v1/dataset/export{q}&name=support&format=csv")
        assert text.splitlines()[0].startswith("id,input,expectedOutput")
        status, text = await dee.call("GET", f"/api/v1/dataset/export{q}&name=support&format=jsonl")
        assert len(text.splitlines()) == 4
        # Archive from the UI route; a viewer may not.
        status, _ = await dee.call(
            "PUT", "/api/v1/dataset/items" + q, {"datasetName": "support", "id": "a", "status": "ARCHIVED"}
        )
        assert status == 403
        status, item = await cy.call(
            "PUT", "/api/v1/dataset/items" + q, {"datasetName": "support", "id": "a", "status": "ARCHIVED"}
        )
        assert status == 200 and item["status"] == "ARCHIVED"
        status, listed = await dee.call("GET", "/api/v1/datasets" + q)
        assert listed["items"][0]["items"] == 3 and listed["items"][0]["archived"] == 1
        status, cmp = await dee.call("GET", f"/api/v1/dataset/compare{q}&name=support")
        assert status == 200 and cmp["runs"] == []
        # The runs list with its numbers: a viewer reads it; none yet; an unknown dataset is 404.
        status, summaries = await dee.call("GET", f"/api/v1/dataset/runs{q}&name=support")
        assert status == 200 and summaries == {"scoreNames": [], "runs": []}
        for bad in ("&name=nope", "", "&name=" + "x" * 5000):
            status, _ = await dee.call("GET", f"/api/v1/dataset/runs{q}{bad}")
            assert status in (400, 404), bad
    finally:
        for p in people:
            await p.close()


async def test_an_export_is_named_after_its_dataset_in_any_script(live: Running) -> None:
    """A dataset named in Chinese exports as a file of that name (RFC 6266's filename*), with an
    ASCII name for clients that know no filename*."""
    from urllib.parse import unquote

    admin = await first_admin(live)
    try:
        status, _ = await admin.call("POST", "/api/v1/datasets?project=default", {"name": "客服 问答"})
        assert status == 200
        url = live.api_url + "/api/v1/dataset/export?project=default&format=csv&name=" + "客服 问答"
        async with admin.session.get(url) as r:
            assert r.status == 200
            disposition = r.headers["Content-Disposition"]
        plain, _, encoded = disposition.partition("; filename*=UTF-8''")
        assert plain == 'attachment; filename="_____.csv"', disposition
        assert unquote(encoded) == "客服_问答.csv"
    finally:
        await admin.close()
