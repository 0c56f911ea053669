"""Skill management: Langfuse's skills API as the real langfuse 5.2 SDK calls it (versions, files by
text and by hash, labels, tags, contents, deletes), the skills a generation reported, garbage on
every route, racing creates, one project's skills hidden from another, and the UI's routes with
roles (VIEWER reads, MEMBER writes, ADMIN moves production)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import pytest

from prompts.skills import MAX_FILES, content_hash, parse_new_skill
from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_organizations_api import Person
from tests.test_prompts_api import Client, people_in_roles
from tracehouse.errors import NotFound
from tracehouse.server import Running

BASE = "/api/public/skills"


def skill_md(name: str, description: str = "Does a thing.", body: str = "# Steps\n") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n{body}"


async def test_sdk5_skill_management(live: Running) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, "5", "v5_skills.py", live.api_url, pair)

    v1, v2 = out["v1"], out["v2"]
    assert (v1["name"], v1["version"], v2["version"]) == ("refund-policy", 1, 2)
    assert v1["description"] == "Decide refunds under the 2026 policy."
    assert v1["frontmatter"] == {"name": "refund-policy", "description": v1["description"], "license": "MIT"}
    assert v1["labels"] == ["latest"] and v1["commitMessage"] == "first policy" and v2["commitMessage"] is None
    assert v1["createdBy"] == "API" and v1["projectId"] == "default"
    files = {f["path"]: f for f in v1["files"]}
    guide = "Escalate orders over 500 EUR.\n退款需经理批准。\n"
    assert (
        files["references/guide.md"]["sha256Hash"] == base64.b64encode(hashlib.sha256(guide.encode()).digest()).decode()
    )
    assert files["references/guide.md"]["contentLength"] == len(guide.encode())
    assert files["SKILL.md"]["contentType"] == "text/markdown" and files["SKILL.md"].get("content") is None
    # The file named by its hash in version 2 is the same text; the latest label moved to it.
    v2_guide = next(f for f in v2["files"] if f["path"] == "references/guide.md")
    assert v2_guide["sha256Hash"] == files["references/guide.md"]["sha256Hash"]
    assert v2["labels"] == ["latest"]

    # Without a selector the production version is fetched: none yet is Langfuse's 404.
    assert out["no_production"] == 404
    assert out["labelled"]["labels"] == ["production", "staging"]
    # Labels move: staging went to version 2, production stayed on 1.
    assert out["moved"]["labels"] == ["staging", "latest"]
    production = out["production"]
    assert production["version"] == 1 and production["labels"] == ["production"]
    texts = {f["path"]: f["content"] for f in production["files"]}
    assert "Up to 30 days." in texts["SKILL.md"] and texts["references/guide.md"] == guide
    assert out["by_version"]["version"] == 2 and out["by_label"]["version"] == 2 and out["latest"]["version"] == 2
    assert all(f.get("content") is None for f in out["by_version"]["files"])  # only with includeContent

    # Tags are the skill's, on every version; the list is Langfuse's SkillMeta.
    assert out["tagged"]["tags"] == ["billing", "support"] and out["tagged"]["version"] == 2
    [meta] = out["listed"]["data"]
    assert (meta["name"], meta["latestVersion"], meta["productionVersion"], meta["tags"]) == (
        "refund-policy", 2, 1, ["billing", "support"],
    )  # fmt: skip
    assert out["listed"]["meta"]["totalItems"] == 1 and out["listed"]["meta"]["hasNextPage"] is False
    assert [m["name"] for m in out["searched"]["data"]] == ["refund-policy"] and out["by_tag"]["data"] == []
    contents = {c["sha256Hash"]: c["content"] for c in out["contents"]["data"]}
    assert "Up to 45 days." in contents[content_hash(skill_md_v2())] and guide in contents.values()

    # A version deleted: latest falls back to version 1, and version 2 is gone.
    assert out["deleted"] == {"deleted": True}
    assert out["after_delete"]["version"] == 1 and "latest" in out["after_delete"]["labels"]
    assert out["missing_version"] == 404
    assert (out["no_skill_md"], out["bad_header"], out["bad_path"], out["unknown_hash"]) == (400, 400, 400, 400)
    assert [v.version for v in await live.store.skills.versions("default")] == [1]

    # The generation reported the skills available to it: the skill's observations list it.
    c = Client(live, basic(pair))
    try:
        for _ in range(50):
            status, doc, _ = await c.call("GET", "/api/v1/skill/observations?name=refund-policy")
            if status == 200 and doc["items"]:
                break
            await asyncio.sleep(0.1)
        by_name = {r["name"]: r for r in doc["items"]}
        assert by_name["decide"]["trace_id"] == out["trace_id"] and by_name["decide"]["reported_version"] == "1"
        assert by_name["decide"]["observation_type"] == "GENERATION"
        status, doc, _ = await c.call("GET", "/api/v1/skill/observations?name=tone")
        assert status == 200 and {r["reported_version"] for r in doc["items"]} == {""}  # no version named
        status, doc, _ = await c.call("GET", "/api/v1/skill/observations?name=other")
        assert status == 200 and doc["items"] == []
        # Per version named: the reporting observations and the scores on them or their trace.
        score = {
            "traceId": out["trace_id"],
            "observationId": by_name["decide"]["span_id"],
            "name": "correct",
            "value": 1,
        }
        status, doc, _ = await c.call("POST", "/api/public/scores", score)
        assert status == 200, doc
        status, doc, _ = await c.call("GET", "/api/v1/skill/metrics?name=refund-policy")
        [v1_usage] = doc["versions"]
        assert (v1_usage["version"], v1_usage["observations"], v1_usage["traces"]) == ("1", 2, 1)
        assert v1_usage["scores"] == {"correct": {"n": 1, "mean": 1.0}}
        status, doc, _ = await c.call("GET", "/api/v1/skill/metrics?name=tone")
        assert [(v["version"], v["observations"]) for v in doc["versions"]] == [("", 2)]

        # Another project's key sees none of it.
        await live.store.projects.create_project("other")
        other = basic(await make_key(live, "other"))
        status, doc, _ = await c.call("GET", BASE + "/refund-policy?version=1", headers=other)
        assert status == 404 and doc["error"] == "LangfuseNotFoundError"
        status, doc, _ = await c.call("GET", BASE, headers=other)
        assert status == 200 and doc["data"] == []
        hashes = ",".join(contents)
        status, doc, _ = await c.call("GET", f"{BASE}/files/content?sha256Hashes={hashes}", headers=other)
        assert status == 404
        status, doc, _ = await c.call("GET", "/api/v1/skill/observations?name=refund-policy", headers=other)
        assert status == 200 and doc["items"] == []
        status, doc, _ = await c.call("GET", "/api/v1/skill/metrics?name=refund-policy", headers=other)
        assert status == 200 and doc["versions"] == []
        # A file of another project cannot be named by its hash either.
        body = {
            "files": [
                {"path": "SKILL.md", "content": skill_md("x")},
                {"path": "g.md", "sha256Hash": next(iter(contents))},
            ]
        }
        status, doc, _ = await c.call("POST", BASE, body, headers=other)
        assert status == 400 and doc["error"][0]["path"] == ["files.1.sha256Hash"]
    finally:
        await c.close()


def skill_md_v2() -> str:
    return (
        "---\nname: refund-policy\ndescription: Decide refunds under the 2026 policy.\nlicense: MIT\n---\n"
        "# Refunds\nUp to 45 days.\n"
    )


async def test_garbage_on_every_route_stores_nothing(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    good = skill_md("triage")
    huge = "x" * 510_000  # two of them: over the 1,000,000 bytes a version may hold
    bad_bodies: list[tuple[Any, str]] = [
        ({"files": "SKILL.md"}, "files"),
        ({"files": []}, "files"),
        ({}, "files"),
        ([1, 2], "body"),
        ({"files": [{"path": "README.md", "content": "hi"}]}, "files"),
        ({"files": [{"path": "SKILL.md", "content": 5}]}, "files.0.content"),
        ({"files": [{"path": "SKILL.md"}]}, "files.0"),
        ({"files": ["SKILL.md"]}, "files.0"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "SKILL.md", "content": good}]}, "files.1.path"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "/etc/passwd", "content": "x"}]}, "files.1.path"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "a\\b.md", "content": "x"}]}, "files.1.path"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "a//b.md", "content": "x"}]}, "files.1.path"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "a/./b.md", "content": "x"}]}, "files.1.path"),
        ({"files": [{"path": "SKILL.md", "content": good}, {"path": "p" * 513, "content": "x"}]}, "files.1.path"),
        (
            {"files": [{"path": "SKILL.md", "content": good}, {"path": "a.md", "sha256Hash": "abc"}]},
            "files.1.sha256Hash",
        ),
        ({"files": [{"path": f"f{i}.md", "content": "x"} for i in range(MAX_FILES + 1)]}, "files"),
        (
            {
                "files": [
                    {"path": "SKILL.md", "content": good},
                    {"path": "a.md", "content": huge},
                    {"path": "b.md", "content": huge},
                ]
            },
            "files",
        ),
        ({"files": [{"path": "SKILL.md", "content": "no header"}]}, "files.SKILL.md"),
        ({"files": [{"path": "SKILL.md", "content": "---\nname: x\ndescription: y\n"}]}, "files.SKILL.md"),
        ({"files": [{"path": "SKILL.md", "content": "---\n- a\n- b\n---\n"}]}, "files.SKILL.md"),
        ({"files": [{"path": "SKILL.md", "content": "---\nname: [x\n---\n"}]}, "files.SKILL.md"),
        ({"files": [{"path": "SKILL.md", "content": "---\nname: x\n---\n"}]}, "files.SKILL.md.description"),
        ({"files": [{"path": "SKILL.md", "content": "---\ndescription: y\n---\n"}]}, "files.SKILL.md.name"),
        ({"files": [{"path": "SKILL.md", "content": "---\nname: a/b\ndescription: y\n---\n"}]}, "files.SKILL.md.name"),
        ({"files": [{"path": "SKILL.md", "content": "---\nname: 12\ndescription: y\n---\n"}]}, "files.SKILL.md.name"),
        ({"files": [{"path": "SKILL.md", "content": good}], "commitMessage": ["x"]}, "commitMessage"),
    ]
    try:
        for body, path in bad_bodies:
            status, doc, _ = await c.call("POST", BASE, body)
            assert status == 400, (body, doc)
            assert doc["message"] == "Invalid request data" and doc["error"][0]["path"] == [path], (path, doc)
        status, doc, _ = await c.call("POST", BASE, raw=b"\xff\xfe{garbage")
        assert status == 400
        for method, path in [
            ("GET", f"{BASE}?limit=500"),
            ("GET", f"{BASE}?page=zero"),
            ("GET", f"{BASE}?fromUpdatedAt=yesterday"),
            ("GET", f"{BASE}/triage?version=one"),
            ("GET", f"{BASE}/triage?version=1&label=production"),
            ("GET", f"{BASE}/triage?includeContent=maybe"),
            ("GET", f"{BASE}/files/content"),
            ("GET", f"{BASE}/files/content?sha256Hashes=" + ",".join([content_hash(str(i)) for i in range(51)])),
            ("GET", f"{BASE}/files/content?sha256Hashes=not-a-hash"),
            ("PATCH", f"{BASE}/triage"),
            ("PATCH", f"{BASE}/triage/versions/1"),
        ]:
            status, doc, _ = await c.call(method, path)
            assert status == 400, (method, path, doc)
        for body in [{"labels": "production"}, {"labels": ["latest"]}, {"labels": ["Bad Label"]}]:
            status, doc, _ = await c.call("PATCH", f"{BASE}/triage/versions/1", body)
            assert status == 400, (body, doc)
        status, doc, _ = await c.call("PATCH", f"{BASE}/triage", {"tags": "x"})
        assert status == 400
        # Nothing was stored by any of it; routes on a missing skill are Langfuse's 404.
        assert await live.store.skills.versions("default") == []
        assert await live.store.skills.contents("default", [content_hash(good), content_hash(huge)]) == {}
        for method, path, body in [
            ("GET", f"{BASE}/triage", None),
            ("PATCH", f"{BASE}/triage", {"tags": []}),
            ("PATCH", f"{BASE}/triage/versions/1", {"labels": ["production"]}),
            ("DELETE", f"{BASE}/triage/versions/1", None),
            ("GET", f"{BASE}/files/content?sha256Hashes={content_hash(good)}", None),
        ]:
            status, doc, _ = await c.call(method, path, body)
            assert status == 404 and doc["error"] == "LangfuseNotFoundError", (method, path, doc)
        # Without a key: 401; and the good request still works after all of it.
        status, _, _ = await c.call("GET", BASE, headers={"Authorization": "Basic !!!"})
        assert status == 401
        status, doc, _ = await c.call("POST", BASE, {"files": [{"path": "SKILL.md", "content": good}]})
        assert status == 201 and doc["version"] == 1 and doc["name"] == "triage"
        # A hash with a '+' sent unencoded (as curl users do) arrives with a space: still found.
        plus = next(t for t in (f"{good}{i}" for i in range(1000)) if "+" in content_hash(t))
        await live.store.skills.put_contents("default", {content_hash(plus): plus})
        status, doc, _ = await c.call("GET", f"{BASE}/files/content?sha256Hashes={content_hash(plus)}")
        assert status == 200 and doc["data"] == [{"sha256Hash": content_hash(plus), "content": plus}], doc
    finally:
        await c.close()


async def test_racing_creates_get_distinct_versions(live: Running) -> None:
    """Creates of one skill at once (as two CLI pushes would) each get their own number."""
    c = Client(live, basic(await make_key(live)))
    try:
        bodies = [
            {"files": [{"path": "SKILL.md", "content": skill_md("race", body=f"# take {i}\n")}]} for i in range(6)
        ]
        answers = await asyncio.gather(*(c.call("POST", BASE, b) for b in bodies))
        assert all(status == 201 for status, _, _ in answers), answers
        assert sorted(doc["version"] for _, doc, _ in answers) == [1, 2, 3, 4, 5, 6]
        stored = await live.store.skills.versions("default", "race")
        assert [v.version for v in stored] == [1, 2, 3, 4, 5, 6]
        # Each version holds its own text; the same text sent twice is stored once.
        again = await c.call("POST", BASE, bodies[0])
        assert again[0] == 201 and again[1]["version"] == 7
        rows = await live.store.backend.query(
            "SELECT count() AS n FROM skill_files FINAL WHERE project_id = 'default'", {}
        )
        assert rows[0]["n"] == 6
        # The newest versions deleted: their numbers are not given again (a 409 before), and
        # latest is the new one.
        for version in (7, 6):
            status, _, _ = await c.call("DELETE", f"{BASE}/race/versions/{version}")
            assert status == 200
        status, doc, _ = await c.call("POST", BASE, bodies[1])
        assert status == 201 and doc["version"] == 8 and doc["labels"] == ["latest"], doc
    finally:
        await c.close()


def test_labels_only_from_the_ui() -> None:
    """Langfuse's create takes no labels (they are set after); the UI's may."""
    new = parse_new_skill(
        {"files": [{"path": "SKILL.md", "content": "x"}], "labels": ["production"]}, labels_allowed=True
    )
    assert new.labels == ["production"]
    assert parse_new_skill({"files": [{"path": "SKILL.md", "content": "x"}], "labels": ["production"]}).labels == []


async def test_roles_on_the_ui_routes(live: Running) -> None:
    people: list[Person] = []
    try:
        pid, bob, cy, dee = await people_in_roles(live, people)
        admin = people[0]
        q = f"?project={pid}"
        files = [
            {"path": "SKILL.md", "content": skill_md("greet", "Greets people.")},
            {"path": "tone.md", "content": "Warm."},
        ]

        # A member writes versions but may not set production; an admin may.
        status, doc = await cy.call("POST", "/api/v1/skills" + q, {"files": files, "commitMessage": "first"})
        assert status == 201 and doc["createdBy"] == "cy@example.com" and doc["version"] == 1
        status, doc = await cy.call("POST", "/api/v1/skills" + q, {"files": files, "labels": ["production"]})
        assert status == 403
        status, doc = await cy.call("POST", "/api/v1/skills" + q, {"files": [{"path": "SKILL.md", "content": "x"}]})
        assert status == 400 and doc["error"]["message"].startswith("files.SKILL.md: ")
        status, doc = await cy.call("PUT", f"/api/v1/skill/labels{q}&name=greet&version=1", {"labels": ["staging"]})
        assert status == 200 and doc["labels"] == ["staging", "latest"]
        status, doc = await cy.call("PUT", f"/api/v1/skill/labels{q}&name=greet&version=1", {"labels": ["production"]})
        assert status == 403
        status, doc = await bob.call("POST", "/api/v1/skills" + q, {"files": files, "labels": ["production"]})
        assert status == 201 and doc["version"] == 2 and doc["labels"] == ["production", "latest"]
        status, doc = await cy.call("PUT", f"/api/v1/skill/tags{q}&name=greet", {"tags": ["support"]})
        assert status == 200 and doc["tags"] == ["support"]
        # Taking production away is protected, and so is deleting the version that holds it; a
        # member may delete another.
        status, _ = await cy.call("PUT", f"/api/v1/skill/labels{q}&name=greet&version=2", {"labels": []})
        assert status == 403
        status, _ = await cy.call("DELETE", f"/api/v1/skill{q}&name=greet&version=2")
        assert status == 403
        # A viewer reads (the chosen version with its texts), and writes nothing.
        status, listed = await dee.call("GET", "/api/v1/skills" + q)
        assert status == 200 and [s["name"] for s in listed["items"]] == ["greet"]
        assert listed["items"][0]["versions"] == [1, 2] and listed["items"][0]["productionVersion"] == 2
        assert "WRITE_CONTENT" not in listed["permissions"]
        status, detail = await dee.call("GET", f"/api/v1/skill{q}&name=greet&version=1")
        assert status == 200 and [v["version"] for v in detail["versions"]] == [2, 1]
        assert {f["path"]: f["content"] for f in detail["selected"]["files"]}["tone.md"] == "Warm."
        assert detail["selected"]["commitMessage"] == "first"
        for method, path, body in [
            ("POST", "/api/v1/skills" + q, {"files": files}),
            ("PUT", f"/api/v1/skill/labels{q}&name=greet&version=1", {"labels": []}),
            ("PUT", f"/api/v1/skill/tags{q}&name=greet", {"tags": []}),
            ("DELETE", f"/api/v1/skill{q}&name=greet&version=1", None),
        ]:
            status, _ = await dee.call(method, path, body)
            assert status == 403, (method, path)
        status, _ = await cy.call("DELETE", f"/api/v1/skill{q}&name=greet&version=1")
        assert status == 200
        status, detail = await dee.call("GET", f"/api/v1/skill{q}&name=greet")
        assert [v["version"] for v in detail["versions"]] == [2]
        # Another project's skills are not this one's.
        status, listed = await admin.call("GET", "/api/v1/skills?project=default")
        assert status == 200 and listed["items"] == []
        status, detail = await admin.call("GET", "/api/v1/skill?project=default&name=greet")
        assert status == 200 and detail["versions"] == [] and detail["selected"] is None
        # A version this project's skill does not have (a trace's link to a deleted one) is named
        # beside the newest, as a name it does not hold has none: the UI shows what reported them.
        status, detail = await cy.call("GET", f"/api/v1/skill{q}&name=greet&version=9")
        assert status == 200 and detail["missingVersion"] == 9 and detail["selected"]["version"] == 2
        status, detail = await cy.call("GET", f"/api/v1/skill{q}&name=greet&version=2")
        assert status == 200 and detail["missingVersion"] is None and detail["selected"]["version"] == 2
        # The whole skill: not by a member while a version holds production; an admin may.
        status, _ = await cy.call("DELETE", f"/api/v1/skill{q}&name=greet")
        assert status == 403
        status, doc = await bob.call("DELETE", f"/api/v1/skill{q}&name=greet")
        assert status == 200 and doc == {"deleted": 1}
        status, detail = await dee.call("GET", f"/api/v1/skill{q}&name=greet")
        assert status == 200 and detail["versions"] == []
        status, _ = await bob.call("DELETE", f"/api/v1/skill{q}&name=greet")
        assert status == 404
    finally:
        for person in people:
            await person.close()


async def test_texts_kept_in_memory_are_bounded(live: Running, monkeypatch: Any) -> None:
    """Files' texts are answered from memory after a first read, within a byte budget (oldest out)."""
    import prompts.skills

    monkeypatch.setattr(prompts.skills, "TEXT_CACHE_BYTES", 100)
    monkeypatch.setattr(prompts.skills, "TEXT_CACHE_LARGEST", 50)
    service = prompts.skills.SkillService(live.store)
    texts = {content_hash(t): t for t in ("a" * 40, "b" * 40, "c" * 40, "d" * 60)}
    await live.store.skills.put_contents("default", texts)
    a, b, c, d = texts
    assert await service.contents("default", [a, b]) == [{"sha256Hash": h, "content": texts[h]} for h in (a, b)]
    assert service._text_bytes == 80
    assert await service.contents("default", [c, d]) == [{"sha256Hash": h, "content": texts[h]} for h in (c, d)]
    # c pushed the oldest (a) out; d is larger than any text kept.
    assert service._text_bytes == 80 and set(service._texts) == {("default", b), ("default", c)}
    assert await service.contents("default", [a]) == [{"sha256Hash": a, "content": texts[a]}]  # from the store
    # Another project asking for the same hash is not answered from this one's memory.
    other = await live.store.projects.create_project("other")
    with pytest.raises(NotFound):
        await service.contents(other.id, [b])
