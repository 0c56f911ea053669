"""Prompt management through Langfuse's API as its SDKs call it, every rule of the reference, and
the UI's routes with roles (VIEWER reads, MEMBER writes, ADMIN moves protected labels)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp

from tests.langfuse_helpers import basic, make_key
from tests.test_organizations_api import PASSWORD, Person, first_admin, sign_in
from tracehouse.server import Running

V2 = "/api/public/v2/prompts"


class Client:
    def __init__(self, live: Running, headers: dict[str, str]) -> None:
        self.base = live.api_url
        self.headers = headers
        self.session = aiohttp.ClientSession()

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        kwargs: dict[str, Any] = {"headers": {**self.headers, **(headers or {})}}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.base + path, **kwargs) as r:
            text = await r.text()
            doc = (await r.json()) if text and r.content_type == "application/json" else text
            return r.status, doc, r.headers.copy()  # type: ignore[return-value]

    async def create(self, **body: Any) -> dict[str, Any]:
        status, doc, _ = await self.call("POST", V2, body)
        assert status == 201, doc
        return doc

    async def close(self) -> None:
        await self.session.close()


def url(name: str) -> str:
    return f"{V2}/{quote(name, safe='')}"


async def test_versions_labels_tags_and_fetching(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        # Nothing yet: Langfuse's 404 shape.
        status, doc, _ = await c.call("GET", url("support/answer"))
        assert status == 404 and doc["error"] == "LangfuseNotFoundError" and "support/answer" in doc["message"]

        v1 = await c.create(name="support/answer", prompt="Answer {{question}} politely.", tags=["support"])
        assert (v1["version"], v1["type"], v1["labels"], v1["tags"]) == (1, "text", ["latest"], ["support"])
        assert v1["createdBy"] == "API" and v1["resolutionGraph"] is None and v1["config"] == {}
        # No production version yet: the default fetch (label production) is a 404.
        status, _, _ = await c.call("GET", url("support/answer"))
        assert status == 404
        v2 = await c.create(
            name="support/answer",
            prompt="Answer {{question}} in {{language}}.",
            labels=["production", "staging"],
            config={"model": "gpt-4o", "temperature": 0.2},
            commitMessage="ask for a language",
        )
        assert v2["version"] == 2 and set(v2["labels"]) == {"production", "staging", "latest"}
        assert v2["tags"] == ["support"]  # omitted tags: the previous version's
        status, got, headers = await c.call("GET", url("support/answer"))
        assert status == 200 and got["version"] == 2 and got["isActive"] is True
        assert got["config"] == {"model": "gpt-4o", "temperature": 0.2} and got["commitMessage"] == "ask for a language"
        # Cache-friendly: the ETag answers a conditional GET with 304 and no body.
        assert headers["ETag"] and headers["Last-Modified"]
        status, body, _ = await c.call("GET", url("support/answer"), headers={"If-None-Match": headers["ETag"]})
        assert status == 304 and body == ""
        status, got, _ = await c.call("GET", url("support/answer") + "?version=1")
        assert got["version"] == 1 and got["labels"] == [] and got["isActive"] is False
        status, got, _ = await c.call("GET", url("support/answer") + "?label=latest")
        assert got["version"] == 2
        status, doc, _ = await c.call("GET", url("support/answer") + "?version=1&label=production")
        assert status == 400 and doc["message"] == "Invalid request data"

        # Moving production back to version 1 takes it from version 2; the ETag changes.
        status, moved, _ = await c.call("PATCH", url("support/answer") + "/versions/1", {"newLabels": ["production"]})
        assert status == 200 and set(moved["labels"]) == {"production"}
        status, got, headers2 = await c.call("GET", url("support/answer"))
        assert got["version"] == 1 and headers2["ETag"] != headers["ETag"]
        status, got, _ = await c.call("GET", url("support/answer") + "?version=2")
        assert set(got["labels"]) == {"staging", "latest"}
        for bad in (["latest"], ["Prod"], ["has space"], ["x" * 37], "production", [1]):
            status, doc, _ = await c.call("PATCH", url("support/answer") + "/versions/1", {"newLabels": bad})
            assert status == 400 and doc["message"] == "Invalid request data", bad
        status, doc, _ = await c.call("PATCH", url("support/answer") + "/versions/9", {"newLabels": ["a"]})
        assert status == 404

        # New tags are the prompt's: every version carries them.
        await c.create(name="support/answer", prompt="v3", tags=["support", "v3"])
        status, got, _ = await c.call("GET", url("support/answer") + "?version=1")
        assert got["tags"] == ["support", "v3"]

        # The type cannot change; a chat prompt with placeholders and a clash.
        status, doc, _ = await c.call("POST", V2, {"name": "support/answer", "type": "chat", "prompt": []})
        assert status == 400 and "text prompt" in doc["error"][0]["message"]
        chat = await c.create(
            name="chat-bot",
            type="chat",
            prompt=[
                {"role": "system", "content": "You are {{persona}}."},
                {"type": "placeholder", "name": "history"},
                {"role": "user", "content": "{{question}}"},
            ],
            labels=["production"],
        )
        assert chat["prompt"][1] == {"type": "placeholder", "name": "history"}
        status, doc, _ = await c.call(
            "POST",
            V2,
            {
                "name": "clash",
                "type": "chat",
                "prompt": [{"role": "user", "content": "{{history}}"}, {"type": "placeholder", "name": "history"}],
            },
        )
        assert status == 400 and "history" in doc["error"][0]["message"]

        # Names: folders fine, '|', reserved names and empty folders refused.
        for name in ("a|b", "new", "metrics", "prompt-detail", "/lead", "trail/", "a//b", "", None):
            status, doc, _ = await c.call("POST", V2, {"name": name, "prompt": "x"})
            assert status == 400 and doc["error"][0]["path"] == ["name"], (name, doc)

        # The list: versions, labels, tags, filters and pages.
        for i in range(12):
            await c.create(name=f"bulk/{i:02d}", prompt=f"p{i}", tags=["bulk"], labels=["production"] if i % 2 else [])
        status, page1, _ = await c.call("GET", V2 + "?limit=5&tag=bulk")
        assert status == 200 and page1["meta"] == {"page": 1, "limit": 5, "totalItems": 12, "totalPages": 3}
        assert page1["pagination"] == page1["meta"] and len(page1["data"]) == 5
        status, page3, _ = await c.call("GET", V2 + "?limit=5&page=3&tag=bulk")
        assert [p["name"] for p in page3["data"]] == ["bulk/10", "bulk/11"]
        status, labelled, _ = await c.call("GET", V2 + "?label=production&tag=bulk&limit=50")
        assert len(labelled["data"]) == 6
        status, one, _ = await c.call("GET", V2 + "?name=support/answer")
        entry = one["data"][0]
        assert entry["versions"] == [1, 2, 3] and entry["type"] == "text" and "lastUpdatedAt" in entry
        assert set(entry["labels"]) == {"production", "staging", "latest"} and entry["lastConfig"] == {}
        for bad in ("?limit=101", "?page=0", "?limit=x", "?fromUpdatedAt=yesterday"):
            status, _, _ = await c.call("GET", V2 + bad)
            assert status == 400, bad

        # Delete one version by label, then the whole prompt; both 404 afterwards.
        status, _, _ = await c.call("DELETE", url("chat-bot") + "?label=production")
        assert status == 204
        status, _, _ = await c.call("GET", url("chat-bot") + "?version=1")
        assert status == 404
        status, _, _ = await c.call("DELETE", url("support/answer"))
        assert status == 204
        status, _, _ = await c.call("GET", url("support/answer") + "?version=2")
        assert status == 404
        status, _, _ = await c.call("DELETE", url("support/answer"))
        assert status == 404

        # Legacy v1: isActive means production.
        status, doc, _ = await c.call(
            "POST", "/api/public/prompts", {"name": "legacy", "prompt": "hi", "isActive": True}
        )
        assert status == 201 and "production" in doc["labels"]
        status, doc, _ = await c.call("GET", "/api/public/prompts?name=legacy")
        assert status == 200 and doc["prompt"] == "hi" and doc["isActive"] is True
    finally:
        await c.close()


async def test_composition_resolution_graph_and_its_errors(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        base = await c.create(name="parts/tone", prompt="Be kind.", labels=["production"])
        await c.create(name="parts/sign", prompt="-- {{agent}} @@@langfusePrompt:name=parts/tone|label=production@@@")
        top = await c.create(
            name="email",
            prompt="Hello. @@@langfusePrompt:name=parts/sign|version=1@@@ @@@langfusePrompt:name=broken@@@",
            labels=["production"],
        )
        status, got, _ = await c.call("GET", url("email"))
        assert got["prompt"] == "Hello. -- {{agent}} Be kind. @@@langfusePrompt:name=broken@@@"  # malformed: text
        graph = got["resolutionGraph"]
        assert graph["root"] == {"id": top["id"], "name": "email", "version": 1}
        assert graph["dependencies"][top["id"]][0]["name"] == "parts/sign"
        assert any(dep["id"] == base["id"] for deps in graph["dependencies"].values() for dep in deps)
        status, raw, _ = await c.call("GET", url("email") + "?resolve=false")
        assert "@@@langfusePrompt:name=parts/sign|version=1@@@" in raw["prompt"] and raw["resolutionGraph"] is None
        # A label reference follows the label.
        await c.create(name="parts/tone", prompt="Be brief.", labels=["production"])
        status, got, _ = await c.call("GET", url("email"))
        assert "Be brief." in got["prompt"]

        for prompt, words in [
            ("@@@langfusePrompt:name=nowhere|version=1@@@", "not found"),
            ("@@@langfusePrompt:name=cyc|label=latest@@@", "circular"),
        ]:
            status, doc, _ = await c.call("POST", V2, {"name": "cyc", "prompt": prompt})
            assert status == 400 and words in doc["error"][0]["message"], doc
        await c.create(name="a-chat", type="chat", prompt=[{"role": "user", "content": "x"}])
        status, doc, _ = await c.call("POST", V2, {"name": "x", "prompt": "@@@langfusePrompt:name=a-chat|version=1@@@"})
        assert status == 400 and "not a text prompt" in doc["error"][0]["message"]
        # Depth: a chain of six references is one too many.
        await c.create(name="d0", prompt="end")
        for i in range(1, 6):
            await c.create(name=f"d{i}", prompt=f"@@@langfusePrompt:name=d{i - 1}|version=1@@@")
        status, doc, _ = await c.call("POST", V2, {"name": "d6", "prompt": "@@@langfusePrompt:name=d5|version=1@@@"})
        assert status == 400 and "deep" in doc["error"][0]["message"]
    finally:
        await c.close()


async def test_concurrent_creates_never_share_a_version(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        results = await asyncio.gather(
            *(c.call("POST", V2, {"name": "race", "prompt": f"attempt {i}"}) for i in range(12))
        )
        created = [doc["version"] for status, doc, _ in results if status == 201]
        conflicts = [(doc, h) for status, doc, h in results if status == 409]
        assert len(created) == len(set(created)), created
        assert len(created) + len(conflicts) == 12
        assert all(h.get("Retry-After") for _, h in conflicts)
        versions = await live.store.prompts.versions("default", "race")
        assert sorted(v.version for v in versions) == sorted(created)
        # Two claims of one number across processes: the store says the second lost.
        assert await live.store.prompts.claim("default", "other", 1) is True
        assert await live.store.prompts.claim("default", "other", 1) is False
    finally:
        await c.close()


async def test_a_new_version_after_the_newest_was_deleted(live: Running) -> None:
    """Deleting the newest version left its number claimed: every create after was a 409."""
    c = Client(live, basic(await make_key(live)))
    try:
        for text in ("one", "two", "three"):
            await c.create(name="pruned", prompt=text)
        for version in (3, 2):
            status, _, _ = await c.call("DELETE", f"{url('pruned')}?version={version}")
            assert status == 204
        again = await c.create(name="pruned", prompt="four")
        assert again["version"] == 4 and again["labels"] == ["latest"]
        status, doc, _ = await c.call("GET", f"{url('pruned')}?label=latest")
        assert status == 200 and doc["prompt"] == "four"
        assert [v.version for v in await live.store.prompts.versions("default", "pruned")] == [1, 4]
    finally:
        await c.close()


async def test_prompt_api_refuses_garbage(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        for raw in (b"{nope", b"[]", b'"text"', b"null", b'{"name": "g", "prompt": 5}', b'{"name": "g", "type": "x"}'):
            status, doc, _ = await c.call("POST", V2, raw=raw, headers={"Content-Type": "application/json"})
            assert status == 400 and doc["message"] == "Invalid request data", raw
        for body in (
            {"name": "g", "type": "chat", "prompt": "not a list"},
            {"name": "g", "type": "chat", "prompt": [{"role": "user"}]},
            {"name": "g", "type": "chat", "prompt": [{"type": "placeholder"}]},
            {"name": "g", "prompt": "x", "labels": "production"},
            {"name": "g", "prompt": "x", "tags": [""]},
            {"name": "g", "prompt": "x", "commitMessage": "m" * 501},
        ):
            status, doc, _ = await c.call("POST", V2, body)
            assert status == 400, body
        status, _, _ = await c.call("GET", url("g") + "?version=abc")
        assert status == 400
        status, _, _ = await c.call("PATCH", url("g") + "/versions/1", raw=b"{")
        assert status == 400
        # Without a key: Langfuse's 401.
        async with aiohttp.ClientSession() as s, s.get(live.api_url + V2) as r:
            assert r.status == 401 and (await r.json())["error"] == "Unauthorized"
    finally:
        await c.close()


async def people_in_roles(live: Running, people: list[Person]) -> tuple[str, Person, Person, Person]:
    """A project of a new organization, and its ADMIN, MEMBER and VIEWER signed in (bob, cy, dee);
    the first account (the instance admin) and they are appended to ``people``, to be closed."""
    admin = await first_admin(live)
    people.append(admin)
    status, org = await admin.call("POST", "/api/v1/organizations", {"name": "roles-org"})
    status, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "pp"})
    for who, role in [("bob", "ADMIN"), ("cy", "MEMBER"), ("dee", "VIEWER")]:
        status, _ = await admin.call(
            "POST",
            f"/api/v1/organizations/{org['id']}/members",
            {"email": f"{who}@example.com", "role": role, "password": PASSWORD},
        )
        assert status == 201
    bob, cy, dee = [await sign_in(live, f"{w}@example.com") for w in ("bob", "cy", "dee")]
    people += [bob, cy, dee]
    return project["id"], bob, cy, dee


async def test_roles_on_the_ui_routes(live: Running) -> None:
    people: list[Person] = []
    try:
        pid, bob, cy, dee = await people_in_roles(live, people)
        admin = people[0]
        q = f"?project={pid}"

        # A member writes versions but may not set production; an admin may.
        status, doc = await cy.call("POST", "/api/v1/prompts" + q, {"name": "greet", "prompt": "Hi {{name}}"})
        assert status == 201 and doc["createdBy"] == "cy@example.com"
        status, doc = await cy.call(
            "POST", "/api/v1/prompts" + q, {"name": "greet", "prompt": "Hey", "labels": ["production"]}
        )
        assert status == 403
        status, doc = await cy.call("PUT", f"/api/v1/prompt/labels{q}&name=greet&version=1", {"labels": ["staging"]})
        assert status == 200 and "staging" in doc["labels"]
        status, doc = await cy.call("PUT", f"/api/v1/prompt/labels{q}&name=greet&version=1", {"labels": ["production"]})
        assert status == 403
        status, doc = await bob.call(
            "PUT", f"/api/v1/prompt/labels{q}&name=greet&version=1", {"labels": ["production", "staging"]}
        )
        assert status == 200 and "production" in doc["labels"]
        # Tags, the prompt's on every version: a member sets them; garbage is refused.
        status, doc = await cy.call("POST", "/api/v1/prompts" + q, {"name": "greet", "prompt": "Hello {{name}}"})
        assert status == 201 and doc["version"] == 2
        status, doc = await cy.call("PUT", f"/api/v1/prompt/tags{q}&name=greet", {"tags": ["support", "billing"]})
        assert status == 200 and doc["version"] == 2 and sorted(doc["tags"]) == ["billing", "support"]
        assert [sorted(v.tags) for v in await live.store.prompts.versions(pid, "greet")] == [["billing", "support"]] * 2
        for body, code in [({"tags": "support"}, 400), ({"tags": [1]}, 400), (["support"], 400), ({}, 400)]:
            status, _ = await cy.call("PUT", f"/api/v1/prompt/tags{q}&name=greet", body)
            assert status == code, body
        status, _ = await cy.call("PUT", f"/api/v1/prompt/tags{q}&name=nope", {"tags": []})
        assert status == 404
        status, _ = await dee.call("PUT", f"/api/v1/prompt/tags{q}&name=greet", {"tags": []})
        assert status == 403
        status, doc = await cy.call("PUT", f"/api/v1/prompt/tags{q}&name=greet", {"tags": []})
        assert status == 200 and doc["tags"] == []
        # Taking production away is protected too, and so is deleting the version that holds it.
        status, _ = await cy.call("PUT", f"/api/v1/prompt/labels{q}&name=greet&version=1", {"labels": []})
        assert status == 403
        status, _ = await cy.call("DELETE", f"/api/v1/prompt{q}&name=greet&version=1")
        assert status == 403
        # A viewer reads, and writes nothing.
        status, listed = await dee.call("GET", "/api/v1/prompts" + q)
        assert status == 200 and [p["name"] for p in listed["items"]] == ["greet"]
        assert "WRITE_CONTENT" not in listed["permissions"]
        status, detail = await dee.call("GET", f"/api/v1/prompt{q}&name=greet")
        assert status == 200 and detail["versions"][0]["variables"] == ["name"]
        status, _ = await dee.call("POST", "/api/v1/prompts" + q, {"name": "nope", "prompt": "x"})
        assert status == 403
        status, _ = await dee.call("DELETE", f"/api/v1/prompt{q}&name=greet")
        assert status == 403
        # Another project's prompts are not this one's.
        status, listed = await admin.call("GET", "/api/v1/prompts?project=default")
        assert status == 200 and listed["items"] == []
        assert await live.store.prompts.versions("default", "greet") == []
        # A name the project does not hold answers none (the page of a trace's link), not its texts.
        status, detail = await admin.call("GET", "/api/v1/prompt?project=default&name=greet")
        assert status == 200 and detail["name"] == "greet" and detail["versions"] == []
    finally:
        for person in people:
            await person.close()
