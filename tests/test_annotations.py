"""Score configs and annotation queues: the langfuse 4.x SDK's api.score_configs and
api.annotation_queues against Tracehouse, scores checked against their config on the ingest path,
and annotating a queue item through the UI's route (source ANNOTATION, the person's id)."""

from __future__ import annotations

import asyncio

from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_organizations_api import PASSWORD, first_admin, sign_in
from tests.test_prompts_api import Client
from tracehouse.server import Running


async def test_sdk4_score_configs_and_annotation_queues(live: Running) -> None:
    out = await asyncio.to_thread(run_sdk, "4", "v4_annotations.py", live.api_url, await make_key(live))
    assert out["quality"]["dataType"] == "NUMERIC" and out["quality"]["maxValue"] == 5
    assert out["listed"] == ["quality", "tone"] and out["got"] == out["quality"]["id"] and out["archived"] is True
    assert out["queue"]["scoreConfigIds"] == [out["quality"]["id"]]
    assert out["items"] == [out["trace_id"]] and out["done"] == "COMPLETED" and out["queues"] == ["weekly review"]
    assert out["after"] == 0
    # The score in range is stored; the one above the config's maximum is refused.
    scores, _ = await live.store.langfuse.scores("default", [out["trace_id"]])
    assert [(s["id"], s["value"]) for s in scores] == [("in-range", 4.0)]


async def test_configs_and_queues_refuse_garbage_and_people_annotate(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    admin = await first_admin(live)
    people = [admin]
    try:
        for bad in ({"name": "", "dataType": "NUMERIC"}, {"name": "x" * 36, "dataType": "NUMERIC"},
                    {"name": "n", "dataType": "TEXTY"},
                    {"name": "n", "dataType": "NUMERIC", "minValue": 5, "maxValue": 1},
                    {"name": "n", "dataType": "CATEGORICAL"}, {"name": "n", "dataType": "CATEGORICAL",
                     "categories": [{"label": "a", "value": 1}, {"label": "a", "value": 2}]},
                    {"name": "n", "dataType": "BOOLEAN", "categories": [{"label": "yes", "value": 1}]},
                    {"name": "n", "dataType": "BOOLEAN", "description": {"what": "x"}},
                    {"name": "n", "dataType": "BOOLEAN", "description": "x" * 2001}):  # fmt: skip
            status, doc, _ = await c.call("POST", "/api/public/score-configs", bad)
            assert status == 400, (bad, doc)
        status, _, _ = await c.call(
            "POST", "/api/public/score-configs", raw=b"[", headers={"Content-Type": "application/json"}
        )
        assert status == 400
        status, flag, _ = await c.call(
            "POST",
            "/api/public/score-configs",
            {"name": "helpful", "dataType": "BOOLEAN", "description": " Solves it. "},
        )
        assert flag["description"] == "Solves it."
        status, changed, _ = await c.call("PATCH", f"/api/public/score-configs/{flag['id']}", {"description": 7})
        assert status == 400
        assert flag["categories"] == [{"label": "True", "value": 1}, {"label": "False", "value": 0}]
        status, _, _ = await c.call("POST", "/api/public/annotation-queues", {"name": "q", "scoreConfigIds": []})
        assert status == 400
        status, _, _ = await c.call("POST", "/api/public/annotation-queues", {"name": "q", "scoreConfigIds": ["nope"]})
        assert status == 400
        status, queue, _ = await c.call(
            "POST", "/api/public/annotation-queues", {"name": "q", "scoreConfigIds": [flag["id"]]}
        )
        assert status == 200
        status, _, _ = await c.call(
            "POST", f"/api/public/annotation-queues/{queue['id']}/items", {"objectId": "x", "objectType": "PLANET"}
        )
        assert status == 400
        status, _, _ = await c.call(
            "POST",
            f"/api/public/annotation-queues/{queue['id']}/items",
            {"objectId": "none", "objectType": "OBSERVATION"},
        )
        assert status == 404
        status, item, _ = await c.call(
            "POST", f"/api/public/annotation-queues/{queue['id']}/items", {"objectId": "t-ann", "objectType": "TRACE"}
        )
        assert status == 200 and item["status"] == "PENDING"
        # An object is in a queue once: added again, the item it has; an item read by its id.
        again = await c.call(
            "POST", f"/api/public/annotation-queues/{queue['id']}/items", {"objectId": "t-ann", "objectType": "TRACE"}
        )
        assert again[:2] == (200, item)
        got = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}/items/{item['id']}")
        assert got[:2] == (200, item)
        assert (await c.call("GET", f"/api/public/annotation-queues/{queue['id']}/items/nope"))[0] == 404
        # A viewer may not annotate; a member may.
        await admin.call(
            "POST",
            "/api/v1/organizations/default/members",
            {"email": "vi@example.com", "role": "VIEWER", "password": PASSWORD},
        )
        await admin.call(
            "POST",
            "/api/v1/organizations/default/members",
            {"email": "me@example.com", "role": "MEMBER", "password": PASSWORD},
        )
        viewer, member = await sign_in(live, "vi@example.com"), await sign_in(live, "me@example.com")
        people += [viewer, member]
        path = f"/api/public/annotation-queues/{queue['id']}/items/{item['id']}/annotate?project=default"
        status, _ = await viewer.call("POST", path, {"scores": {flag["id"]: 1}})
        assert status == 403
        status, doc = await member.call("POST", path, {"scores": {flag["id"]: 7}})
        assert status == 400 and "0 or 1" in doc["error"]["message"]
        status, doc = await member.call("POST", path, {"scores": {flag["id"]: 1}, "comment": ["good"]})
        assert status == 400 and "comment" in doc["error"]["message"]
        status, doc = await member.call("POST", path, {"scores": {flag["id"]: 1}, "comment": "good"})
        assert status == 200 and doc == {"scores": 1, "completed": True}
        scores, _ = await live.store.langfuse.scores("default", ["t-ann"])
        me = (await live.store.users.find("me@example.com")).id
        assert [(s["name"], s["value"], s["source"], s["comment"]) for s in scores] == [
            ("helpful", 1.0, "ANNOTATION", "good")
        ]
        assert scores[0]["metadata"]["annotatedBy"] == f'"{me}"'
        status, got, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}/items/{item['id']}")
        assert got["status"] == "COMPLETED" and got["completedBy"] == me
        # What was given, for the UI to show when the item is opened again; a viewer reads it too.
        given = f"/api/v1/annotation-queues/{queue['id']}/items/{item['id']}/scores?project=default"
        status, doc = await viewer.call("GET", given)
        assert status == 200
        assert doc == {"scores": [{"configId": flag["id"], "value": 1.0, "stringValue": "True", "comment": "good"}]}
        for gone in (f"/api/v1/annotation-queues/{queue['id']}/items/nope/scores?project=default",
                     f"/api/v1/annotation-queues/nope/items/{item['id']}/scores?project=default"):  # fmt: skip
            assert (await viewer.call("GET", gone))[0] == 404
        # Assignments: a person of the instance, given and taken back; others refused.
        base = f"/api/public/annotation-queues/{queue['id']}/assignments"
        status, doc, _ = await c.call("POST", base, {"userId": me})
        assert status == 200 and doc == {"userId": me, "projectId": "default", "queueId": queue["id"]}
        status, _, _ = await c.call("POST", base, {"userId": "usr-nobody"})
        assert status == 400
        status, got, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}")
        assert got["assignees"] == [me]
        # Changed from the UI (Langfuse's API has no such call): not by a viewer; garbage refused,
        # nothing changed; its items, assignees and the scores given in it stay.
        _, stars, _ = await c.call("POST", "/api/public/score-configs", {"name": "stars", "dataType": "NUMERIC"})
        change = f"/api/v1/annotation-queues?project=default&id={queue['id']}"
        wanted = {"name": " review ", "description": "first pass", "scoreConfigIds": [flag["id"], stars["id"]]}
        assert (await viewer.call("PUT", change, wanted))[0] == 403
        for bad, says in [
            ({**wanted, "name": ""}, "name"),
            ({**wanted, "scoreConfigIds": []}, "scoreConfigIds"),
            ({**wanted, "scoreConfigIds": ["nope"]}, "unknown nope"),
            ({**wanted, "description": 5}, "description"),
            ({**wanted, "description": "x" * 2001}, "description"),
            ([wanted], ""),
        ]:
            status, doc = await member.call("PUT", change, bad)
            assert status == 400 and says in str(doc), (bad, status, doc)
        status, got, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}")
        assert (got["name"], got["description"], got["scoreConfigIds"]) == ("q", None, [flag["id"]])
        assert (await member.call("PUT", "/api/v1/annotation-queues?project=default&id=nope", wanted))[0] == 404
        status, doc = await member.call("PUT", change, wanted)
        assert status == 200
        changed = (doc["name"], doc["description"], doc["scoreConfigIds"])
        assert changed == ("review", "first pass", wanted["scoreConfigIds"])
        assert doc["assignees"] == [me] and doc["createdAt"] == got["createdAt"]
        status, got, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}/items/{item['id']}")
        assert status == 200 and got["status"] == "COMPLETED"
        # The list counts each queue's items and those completed (an empty queue: none).
        _, empty, _ = await c.call(
            "POST", "/api/public/annotation-queues", {"name": "empty", "scoreConfigIds": [stars["id"]]}
        )
        status, listed, _ = await c.call("GET", "/api/public/annotation-queues")
        counted = [(q["name"], q["items"], q["completed"]) for q in listed["data"]]
        assert status == 200 and counted == [("review", 1, 1), ("empty", 0, 0)]
        assert (await member.call("DELETE", f"/api/v1/annotation-queues?project=default&id={empty['id']}"))[0] == 200
        status, _, _ = await c.call("DELETE", base, {"userId": me})
        assert status == 200
        status, got, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}")
        assert got["assignees"] == []
        # The queue deleted (the UI's route; Langfuse's API has none): not by a viewer; its items
        # go with it, the scores given in it stay.
        gone = f"/api/v1/annotation-queues?project=default&id={queue['id']}"
        assert (await viewer.call("DELETE", gone))[0] == 403
        assert (await member.call("DELETE", gone))[0] == 200
        status, listed, _ = await c.call("GET", "/api/public/annotation-queues")
        assert status == 200 and listed["data"] == []
        status, _, _ = await c.call("GET", f"/api/public/annotation-queues/{queue['id']}/items/{item['id']}")
        assert status == 404
        scores, _ = await live.store.langfuse.scores("default", ["t-ann"])
        assert [s["name"] for s in scores] == ["helpful"]
        assert (await member.call("DELETE", gone))[0] == 404
        assert (await member.call("DELETE", "/api/v1/annotation-queues?project=default"))[0] == 404
    finally:
        await c.close()
        for p in people:
            await p.close()


async def test_people_annotate_a_trace_without_a_queue_and_take_it_back(live: Running) -> None:
    """The trace view's Annotate: one score per person, config and object (scoring again changes
    it), on the trace or an observation; a person's score deleted, never the API's; garbage refused."""
    c = Client(live, basic(await make_key(live)))
    admin = await first_admin(live)
    people = [admin]
    try:
        stamp = "2026-12-01T10:00:00.000Z"
        batch = [
            {"id": "e1", "type": "trace-create", "timestamp": stamp,
             "body": {"id": "t-direct", "name": "bot", "sessionId": "s-direct"}},
            {"id": "e2", "type": "generation-create", "timestamp": stamp,
             "body": {"id": "g-direct", "traceId": "t-direct", "name": "llm", "startTime": stamp}},
            {"id": "e3", "type": "score-create", "timestamp": stamp,
             "body": {"id": "from-api", "traceId": "t-direct", "name": "feedback", "value": 1}},
        ]  # fmt: skip
        status, doc, _ = await c.call("POST", "/api/public/ingestion", {"batch": batch})
        assert status == 207 and not doc["errors"], doc
        _, quality, _ = await c.call(
            "POST",
            "/api/public/score-configs",
            {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        )
        _, helpful, _ = await c.call("POST", "/api/public/score-configs", {"name": "helpful", "dataType": "BOOLEAN"})
        for email, role in (("vi@example.com", "VIEWER"), ("me@example.com", "MEMBER")):
            await admin.call(
                "POST", "/api/v1/organizations/default/members", {"email": email, "role": role, "password": PASSWORD}
            )
        viewer, member = await sign_in(live, "vi@example.com"), await sign_in(live, "me@example.com")
        people += [viewer, member]
        # A queue's objects by name, for its item list: a trace's, an observation's; a session and
        # a trace not stored have none. A viewer reads them; an unknown queue is 404.
        _, queue, _ = await c.call(
            "POST", "/api/public/annotation-queues", {"name": "q", "scoreConfigIds": [helpful["id"]]}
        )
        for object_id, kind in (("t-direct", "TRACE"), ("g-direct", "OBSERVATION"), ("s-direct", "SESSION"),
                                ("t-missing", "TRACE")):  # fmt: skip
            status, _, _ = await c.call(
                "POST",
                f"/api/public/annotation-queues/{queue['id']}/items",
                {"objectId": object_id, "objectType": kind},
            )
            assert status == 200
        status, doc = await viewer.call("GET", f"/api/v1/annotation-queues/{queue['id']}/item-names?project=default")
        assert status == 200 and doc == {"names": {"t-direct": "bot", "g-direct": "llm"}}
        # A page of the items at a time, as the item list shows them: the second of two per page
        # holds the session and the trace not stored; the first, the two named.
        names = f"/api/v1/annotation-queues/{queue['id']}/item-names?project=default&limit=2"
        assert (await viewer.call("GET", names + "&page=2"))[1] == {"names": {}}
        assert (await viewer.call("GET", names.replace("limit=2", "limit=1") + "&page=2"))[1] == {
            "names": {"g-direct": "llm"}
        }
        for garbage in ("&page=0", "&page=x", "&limit=1001"):
            status, doc = await viewer.call("GET", names.replace("&limit=2", "") + garbage)
            assert status == 400 and "limit" in doc["error"]["message"], garbage
        assert (await viewer.call("GET", "/api/v1/annotation-queues/nope/item-names?project=default"))[0] == 404
        # The items themselves up to 1,000 a page (the UI reads a queue of thousands in a few calls).
        listed = f"/api/public/annotation-queues/{queue['id']}/items?project=default&limit="
        status, doc = await viewer.call("GET", listed + "1000")
        assert status == 200 and len(doc["data"]) == 4 and doc["meta"]["limit"] == 1000, doc
        assert (await viewer.call("GET", listed + "1001"))[0] == 400
        path = "/api/v1/annotate?project=default"

        status, doc = await member.call("POST", path, {"traceId": "t-direct", "scores": {quality["id"]: 4}})
        assert status == 201 and doc == {"scores": 1}
        status, doc = await member.call(
            "POST", path, {"traceId": "t-direct", "scores": {quality["id"]: 5}, "comment": "better on a reread"}
        )
        assert status == 201
        status, _ = await member.call(
            "POST", path, {"traceId": "t-direct", "observationId": "g-direct", "scores": {helpful["id"]: 0}}
        )
        assert status == 201
        status, _ = await admin.call("POST", path, {"traceId": "t-direct", "scores": {quality["id"]: 2}})
        assert status == 201

        async def given() -> list[tuple[str, str, float, str]]:
            scores, _ = await live.store.langfuse.scores("default", ["t-direct"])
            return sorted((s["name"], s["observation_id"], s["value"], s["source"]) for s in scores)

        assert await given() == [
            ("feedback", "", 1.0, "API"),
            ("helpful", "g-direct", 0.0, "ANNOTATION"),
            ("quality", "", 2.0, "ANNOTATION"),  # the admin's
            ("quality", "", 5.0, "ANNOTATION"),  # the member's, changed
        ]

        # Garbage, and those who may not: refused, nothing written.
        for who, body, code, says in [
            (viewer, {"traceId": "t-direct", "scores": {quality["id"]: 3}}, 403, ""),
            (member, {"scores": {quality["id"]: 3}}, 400, "traceId"),
            (member, {"traceId": 7, "scores": {quality["id"]: 3}}, 400, "traceId"),
            (member, {"traceId": "t-direct", "observationId": 7, "scores": {}}, 400, "observationId"),
            (member, {"traceId": "t-none", "scores": {quality["id"]: 3}}, 404, "no trace"),
            (member, {"traceId": "t-direct", "observationId": "g-elsewhere", "scores": {}}, 404, "no observation"),
            (member, {"traceId": "t-direct", "scores": {"cfg-none": 3}}, 400, "not a score config of this project"),
            (member, {"traceId": "t-direct", "scores": {quality["id"]: 9}}, 400, "maximum"),
            (member, {"traceId": "t-direct", "scores": [3]}, 400, "scores"),
            (member, ["t-direct"], 400, ""),
        ]:
            status, doc = await who.call("POST", path, body)
            assert status == code and says in str(doc), (body, status, doc)
        assert len(await given()) == 4

        # A session's own score, from its page; its traces' scores are not its own.
        status, _ = await member.call("POST", path, {"sessionId": "s-direct", "scores": {quality["id"]: 3}})
        assert status == 201
        for body, code in [
            ({"sessionId": "s-none", "scores": {quality["id"]: 3}}, 404),
            ({"sessionId": 5, "scores": {quality["id"]: 3}}, 400),
            ({"sessionId": "s-direct", "traceId": "t-direct", "scores": {quality["id"]: 3}}, 400),
        ]:
            assert (await member.call("POST", path, body))[0] == code, body
        status, session = await member.call("GET", "/api/v1/sessions/s-direct?project=default")
        assert status == 200
        assert [(s["name"], s["value"], s["source"], s["trace_id"]) for s in session["scores"]] == [
            ("quality", 3.0, "ANNOTATION", "")
        ]

        # Taken back: a person's score, by someone who may score; never the API's.
        scores, _ = await live.store.langfuse.scores("default", ["t-direct"])
        mine = next(s["id"] for s in scores if s["name"] == "quality" and s["value"] == 5.0)
        status, _ = await viewer.call("DELETE", f"/api/v1/annotations?project=default&id={mine}")
        assert status == 403
        status, doc = await member.call("DELETE", "/api/v1/annotations?project=default&id=from-api")
        assert status == 400 and "only scores people gave" in doc["error"]["message"]
        status, _ = await member.call("DELETE", "/api/v1/annotations?project=default&id=nope")
        assert status == 404
        status, _ = await member.call("DELETE", "/api/v1/annotations?project=default")
        assert status == 404
        status, _ = await member.call("DELETE", f"/api/v1/annotations?project=default&id={mine}")
        assert status == 200
        assert [s[:3] for s in await given()] == [
            ("feedback", "", 1.0), ("helpful", "g-direct", 0.0), ("quality", "", 2.0),
        ]  # fmt: skip
    finally:
        await c.close()
        for p in people:
            await p.close()
