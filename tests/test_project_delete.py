"""Deleting a project erases its data: traces, scores, prompts, datasets, comments and the rest,
from every table that holds a project's rows; another project's data is untouched."""

from __future__ import annotations

import asyncio
import os
import uuid

import aiohttp

from storage.lifecycle import PROJECT_DATA_TABLES
from tests.langfuse_helpers import basic, event, ingest, make_key
from tests.otlp_data import request
from tests.test_org_admin_api import org_basic
from tracehouse.server import Running


async def _fill(live: Running, project: str) -> None:
    """Rows of many kinds in ``project``, through its clients' APIs."""
    pair = await make_key(live, project)
    headers = basic(pair)
    trace_id = uuid.uuid4().hex
    status, body = await ingest(live, headers, [
        event("trace-create", {"id": trace_id, "name": "doomed-or-kept", "sessionId": "s-1", "userId": "u-1"}),
        event("generation-create", {"id": str(uuid.uuid4()), "traceId": trace_id, "name": "chat", "model": "gpt-4o",
                                    "input": "hi", "output": "hello"}),
        event("score-create", {"id": str(uuid.uuid4()), "traceId": trace_id, "name": "ok", "value": 1}),
    ])  # fmt: skip
    assert status == 207 and not body["errors"], body
    otlp = request([{"trace_id": os.urandom(16), "name": "otlp-span", "attrs": {"gen_ai.request.model": "gpt-4o"}}])
    async with aiohttp.ClientSession(base_url=live.api_url) as s:
        async with s.post(
            live.otlp_http_url + "/v1/traces",
            data=otlp.SerializeToString(),
            headers={**headers, "Content-Type": "application/x-protobuf"},
        ) as r:
            assert r.status == 200, await r.text()
        calls = [
            ("/api/public/v2/prompts", {"name": "p", "prompt": "Hi {{x}}", "type": "text"}),
            ("/api/public/skills", {"files": [{"path": "SKILL.md", "content": "---\nname: s\ndescription: d\n---\n"}]}),
            ("/api/public/datasets", {"name": "d"}),
            ("/api/public/dataset-items", {"datasetName": "d", "input": {"x": 1}}),
            ("/api/public/comments", {"projectId": project, "objectType": "TRACE", "objectId": trace_id,
                                      "content": "a comment"}),
            ("/api/public/score-configs", {"name": "helpful", "dataType": "BOOLEAN"}),
            ("/api/public/models", {"modelName": "mine", "matchPattern": "^mine$", "unit": "TOKENS",
                                    "inputPrice": 0.000001}),
        ]  # fmt: skip
        for path, payload in calls:
            async with s.post(path, json=payload, headers=headers) as r:
                assert r.status in (200, 201), (path, r.status, await r.text())
        connection = {"provider": "mine", "adapter": "openai", "secretKey": "sk-project-secret-123"}
        async with s.put("/api/public/llm-connections", json=connection, headers=headers) as r:
            assert r.status == 200, await r.text()


async def _counts(live: Running, project: str) -> dict[str, int]:
    counts = {}
    for table in PROJECT_DATA_TABLES:
        rows = await live.store.backend.query(
            f"SELECT count() AS n FROM {table.name} WHERE project_id = {{p:String}}", {"p": project}
        )
        counts[table.name] = int(rows[0]["n"])
    return counts


async def test_deleting_a_project_erases_its_rows_from_every_table(live: Running) -> None:
    doomed = await live.store.projects.create_project("doomed")
    kept = await live.store.projects.create_project("kept")
    for project in (doomed.id, kept.id):
        await _fill(live, project)
    # Acknowledged spans may still be on their way from the write-ahead log into the tables.
    for _ in range(200):
        before, kept_before = await _counts(live, doomed.id), await _counts(live, kept.id)
        if before["spans"] >= 3 and before == kept_before:
            break
        await asyncio.sleep(0.1)
    assert before == kept_before
    # The tables the fill reaches: a table left out of the erase would keep these.
    filled = {t for t, n in before.items() if n}
    assert {"spans", "traces", "scores", "prompts", "datasets", "dataset_item_versions", "comments",
            "score_configs", "model_prices", "langfuse_events", "llm_connections", "skills", "skill_files",
            "skill_claims"} <= filled, before  # fmt: skip

    public, secret = await live.store.organizations.create_key("default", "platform")
    async with (
        aiohttp.ClientSession() as s,
        s.delete(live.api_url + f"/api/public/projects/{doomed.id}", headers=org_basic(public, secret)) as r,
    ):
        assert r.status == 202, await r.text()
        # Erased within the request's wait (a larger project's erase would go on after the answer).
        assert (await r.json())["message"] == "Project deleted with its data; its keys are revoked"
    assert await _counts(live, doomed.id) == dict.fromkeys(before, 0)
    assert await _counts(live, kept.id) == kept_before
    # Only its revoked keys and the audit log remain of it.
    keys = [k for k in await live.store.projects.list_keys(None) if k.project_id == doomed.id]
    assert keys and all(not k.active for k in keys)


async def test_rows_that_reach_a_deleted_project_after_its_erase_are_erased_in_turn(live: Running) -> None:
    """Batches acknowledged before a project's keys were revoked can go in after its erase (from
    the write-ahead log, or replayed from it at the next start): the upkeep erases them, and
    nothing of another project."""
    assert live.ingest is not None
    doomed = await live.store.projects.create_project("doomed-late")
    kept = await live.store.projects.create_project("kept-late")
    assert await live.store.lifecycle.erase_leftovers() == {}  # no deleted project: nothing to do
    await live.store.lifecycle.delete_project(doomed.id)
    # A request its key let in before the delete, inserted after it; a live project's beside it.
    for project in (doomed.id, kept.id):
        late = request([{"trace_id": os.urandom(16), "name": "late-span"}])
        result = await live.ingest.ingest(late.SerializeToString(), "protobuf", project)
        assert result.accepted == 1
    await live.ingest.batcher.settled()
    kept_before = await _counts(live, kept.id)
    assert (await _counts(live, doomed.id))["spans"] == 1 and kept_before["spans"] == 1

    erased = await live.store.lifecycle.erase_leftovers()
    assert set(erased) == {doomed.id} and {"spans", "traces", "trace_index"} <= set(erased[doomed.id]), erased
    assert set((await _counts(live, doomed.id)).values()) == {0}
    assert await _counts(live, kept.id) == kept_before
    assert await live.store.lifecycle.erase_leftovers() == {}  # erased once: nothing left to find


async def test_a_project_erase_goes_on_after_its_request_stops_waiting(live: Running) -> None:
    """The UI and Langfuse's API wait a while for a project's erase, then answer: the project is
    deleted and its keys refused at once, and the erase finishes on its own."""
    project = await live.store.projects.create_project("big-one")
    await _fill(live, project.id)
    for _ in range(200):  # acknowledged spans on their way from the write-ahead log
        if (await _counts(live, project.id))["spans"] >= 3:
            break
        await asyncio.sleep(0.1)
    deleted, erase = await live.store.lifecycle.start_project_delete(project.id)
    assert deleted.id == project.id
    assert project.id not in {p.id for p in await live.store.projects.list_projects()}
    assert not [k for k in await live.store.projects.list_keys(None) if k.project_id == project.id and k.active]
    assert await live.store.lifecycle.erased_within(erase, 0) is False  # not waited for: it goes on
    assert await live.store.lifecycle.erase_leftovers() == {}  # the upkeep leaves it to its erase
    await erase
    assert set((await _counts(live, project.id)).values()) == {0}
