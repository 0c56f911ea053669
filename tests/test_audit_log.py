"""The audit log through the API: a platform team's changes (projects, keys, members, roles,
retention, a trace deleted with a key pair) each recorded once with who made them, in the right
project and organization, never with a secret; read by admins only, newest first, a page at a
time; another organization's admins see none of it; and data (ingestion) is not logged."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from query_api.app import create_app
from query_api.audit_api import _UNAUDITED
from tests.test_organizations_api import PASSWORD, Person, first_admin, sign_in
from tracehouse.server import Running

AUDIT_JS = Path(__file__).resolve().parent.parent / "ui" / "audit.js"


async def _with_key(live: Running, key: dict[str, str], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    token = base64.b64encode(f"{key['public_key']}:{key['secret_key']}".encode()).decode()
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, live.api_url + path, json=body, headers={"Authorization": f"Basic {token}"}) as r,
    ):
        return r.status, await r.json() if r.content_type == "application/json" else await r.text()


async def _log(person: Person, query: str) -> list[dict[str, Any]]:
    status, doc = await person.call("GET", f"/api/v1/audit-log?{query}")
    assert status == 200, doc
    return doc["items"]


async def test_changes_are_logged_with_who_and_where(live: Running) -> None:
    admin = await first_admin(live)
    people: list[Person] = [admin]
    try:
        status, org = await admin.call("POST", "/api/v1/organizations", {"name": "platform"})
        assert status == 201, org
        status, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "bots"})
        status, key = await admin.call("POST", "/api/v1/settings/keys", {"project": project["id"], "note": "ci"})
        assert status == 201
        status, member = await admin.call(
            "POST", f"/api/v1/organizations/{org['id']}/members",
            {"email": "bo@example.com", "role": "MEMBER", "password": PASSWORD},
        )  # fmt: skip
        assert status == 201
        status, _ = await admin.call(
            "PUT", f"/api/v1/organizations/{org['id']}/members/{member['user_id']}", {"role": "ADMIN"}
        )
        assert status == 200
        status, _ = await admin.call("POST", f"/api/v1/settings/projects/{project['id']}/retention", {"days": 30})
        assert status == 200
        # Data through the key pair is not a change; deleting a trace with it is.
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        trace_id = uuid.uuid4().hex
        batch = [{"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp, "body": {"id": trace_id}}]
        status, _ = await _with_key(live, key, "POST", "/api/public/ingestion", {"batch": batch})
        assert status == 207
        status, _ = await _with_key(live, key, "DELETE", f"/api/public/traces/{trace_id}")
        assert status == 200
        # A refused change is not one.
        status, _ = await admin.call("POST", f"/api/v1/settings/projects/{project['id']}/retention", {"days": -1})
        assert status == 400

        entries = await _log(admin, f"project={project['id']}")
        routes = [(e["method"], e["route"]) for e in entries]
        assert routes == [
            ("DELETE", "/api/public/traces/{trace_id}"),
            ("POST", "/api/v1/settings/projects/{project}/retention"),
            ("POST", "/api/v1/settings/keys"),
            ("POST", "/api/v1/organizations/{organization}/projects"),
        ], routes
        deleted, retention, made_key, made_project = entries
        assert deleted["actor"] == {"kind": "api_key", "id": key["public_key"], "name": None}
        assert deleted["target"] == {"trace_id": trace_id}
        assert retention["actor"]["name"] == "ada@example.com" and retention["target"]["days"] == "30"
        assert made_key["target"] == {"public_key": key["public_key"]}
        assert made_project["target"]["name"] == "bots" and made_project["projectId"] == project["id"]
        assert all(e["organizationId"] == org["id"] and e["status"] in (200, 201, 204) for e in entries)
        assert key["secret_key"] not in str(entries) and PASSWORD not in str(entries)

        # The organization's log: its own changes and its projects'.
        whole = await _log(admin, f"organization={org['id']}")
        assert [(e["method"], e["route"]) for e in whole][:2] == [
            ("DELETE", "/api/public/traces/{trace_id}"),
            ("POST", "/api/v1/settings/projects/{project}/retention"),
        ]
        role_change = next(e for e in whole if e["method"] == "PUT")
        who = {"email": "bo@example.com", "name": "bo@example.com"}  # from the answer
        assert role_change["target"] == {"organization": org["id"], "user_id": member["user_id"], "role": "ADMIN",
                                         "was": "MEMBER", **who}  # fmt: skip
        assert role_change["projectId"] is None
        added = next(e for e in whole if e["route"] == "/api/v1/organizations/{organization}/members")
        assert added["target"]["email"] == "bo@example.com" and PASSWORD not in str(added)
        # Pages: newest first, each entry once.
        status, first = await admin.call("GET", f"/api/v1/audit-log?organization={org['id']}&limit=2")
        status, second = await admin.call(
            "GET", f"/api/v1/audit-log?organization={org['id']}&limit=2&cursor={first['next_cursor']}"
        )
        assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in whole[:4]]
        # Filtered: by who (part of an email, or a key's public key) and by the kinds of change.
        by_key = await _log(admin, f"organization={org['id']}&actor={key['public_key']}")
        assert [e["route"] for e in by_key] == ["/api/public/traces/{trace_id}"]
        by_ada = await _log(admin, f"organization={org['id']}&actor=ADA@example")
        assert len(by_ada) == len(whole) - 1 and all(e["actor"]["name"] == "ada@example.com" for e in by_ada)
        kinds = (
            "&action=PUT%20/api/v1/organizations/%7Borganization%7D/members/%7Buser_id%7D"
            "&action=POST%20/api/v1/settings/keys"
        )
        chosen = await _log(admin, f"project={project['id']}{kinds}")
        assert [(e["method"], e["route"]) for e in chosen] == [("POST", "/api/v1/settings/keys")]  # a project's only
        assert len(await _log(admin, f"organization={org['id']}{kinds}&actor=ada")) == 2
        assert await _log(admin, f"organization={org['id']}&actor=nobody") == []

        # Who may read: admins; not a member, not another organization's owner.
        bo = await sign_in(live, "bo@example.com")
        people.append(bo)
        status, _ = await admin.call(
            "PUT", f"/api/v1/organizations/{org['id']}/members/{member['user_id']}", {"role": "MEMBER"}
        )
        for query in (f"project={project['id']}", f"organization={org['id']}"):
            status, doc = await bo.call("GET", f"/api/v1/audit-log?{query}")
            assert status == 403, (query, doc)
        status, other = await admin.call("POST", "/api/v1/organizations", {"name": "elsewhere"})
        await admin.call(
            "POST", f"/api/v1/organizations/{other['id']}/members",
            {"email": "cy@example.com", "role": "OWNER", "password": PASSWORD},
        )  # fmt: skip
        cy = await sign_in(live, "cy@example.com")
        people.append(cy)
        status, doc = await cy.call("GET", f"/api/v1/audit-log?organization={org['id']}")
        assert status == 403
        status, doc = await cy.call("GET", f"/api/v1/audit-log?project={project['id']}")
        assert status == 403
        status, doc = await cy.call("GET", f"/api/v1/audit-log?organization={other['id']}")
        assert status == 200 and org["id"] not in str(doc)
        # Garbage.
        for bad in ("limit=0", "limit=501", "limit=x", "cursor=nope", "colour=red", f"organization={'x' * 300}",
                    f"actor={'x' * 300}", "&".join(["action=x"] * 51)):  # fmt: skip
            status, doc = await admin.call("GET", f"/api/v1/audit-log?project={project['id']}&{bad}")
            assert status == 400, (bad, doc)
    finally:
        for p in people:
            await p.close()


async def test_an_entry_names_what_a_change_made(live: Running) -> None:
    """The answer's naming fields (a connection's provider, a prompt's name and version) go in the
    entry; its other fields, and secrets sent in the body, do not."""
    admin = await first_admin(live)
    try:
        secret = "sk-very-secret-connection-key"
        status, _ = await admin.call("PUT", "/api/v1/llm-connections?project=default",
                                     {"provider": "openai-prod", "secretKey": secret})  # fmt: skip
        assert status == 200
        status, made = await admin.call("POST", "/api/v1/prompts?project=default",
                                        {"name": "greeting", "type": "text", "prompt": "Hi {{name}}"})  # fmt: skip
        assert status == 201, made
        prompt, connection = await _log(admin, "project=default")
        assert prompt["route"] == "/api/v1/prompts" and prompt["target"] == {"name": "greeting", "version": "1"}
        assert connection["target"] == {"provider": "openai-prod"}
        assert secret not in str(await _log(admin, "organization=default"))
    finally:
        await admin.close()


async def test_garbage_credentials_on_a_change_are_refused_not_logged(live: Running) -> None:
    """Headers that are no credential (beyond ASCII, malformed Basic): the change is refused as
    without the middleware, and nothing is logged."""
    for value in ("Bearer \u00e9t\u00e9", "Basic \u00fc\u00fc", "Basic !!!", "Bearer"):
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                live.api_url + "/api/v1/datasets?project=default", json={"name": "x"}, headers={"Authorization": value}
            ) as r,
        ):
            assert r.status in (401, 403), (value, r.status, await r.text())
    assert await live.store.audit.entries("default", None, 10) == []
    # Reads and Langfuse's ingestion answer the same garbage with 401 too (they answered 500).
    for path, method in (("/api/public/traces", "GET"), ("/api/public/ingestion", "POST")):
        async with (
            aiohttp.ClientSession() as s,
            s.request(
                method, live.api_url + path, json={"batch": []}, headers={"Authorization": "Basic \u00fc\u00fc"}
            ) as r,
        ):
            assert r.status == 401, (path, r.status, await r.text())


async def test_joining_by_an_invitation_is_logged_as_the_person_who_joined(live: Running) -> None:
    """The link's holder has no credential yet: the entry names them, and never the link."""
    admin = await first_admin(live)
    guest = Person(live)
    try:
        status, made = await admin.call(
            "POST", "/api/v1/organizations/default/invitations", {"email": "kim@example.com", "role": "VIEWER"}
        )
        assert status == 201, made
        token = made["url"].rstrip("/").rsplit("/", 1)[-1]
        status, _ = await guest.call("POST", f"/api/v1/invitations/{token}/accept", {"password": PASSWORD})
        assert status == 200
        joined = (await _log(admin, "organization=default"))[0]
        assert joined["route"] == "/api/v1/invitations/{token}/accept"
        assert joined["actor"]["name"] == "kim@example.com" and joined["actor"]["kind"] == "user"
        assert joined["target"] == {"email": "kim@example.com", "role": "VIEWER"} and token not in str(joined)
    finally:
        await admin.close()
        await guest.close()


async def test_prometheus_queries_by_post_are_reads_not_logged(live: Running) -> None:
    """Grafana's Prometheus data source sends its queries by POST (a form body): each dashboard
    refresh wrote audit entries, as if it changed something."""
    admin = await first_admin(live)
    try:
        status, key = await admin.call("POST", "/api/v1/settings/keys", {"project": "default"})
        assert status == 201
        before = await _log(admin, "project=default")
        token = base64.b64encode(f"{key['public_key']}:{key['secret_key']}".encode()).decode()
        for path in ("query", "query_range", "labels", "series"):
            async with (
                aiohttp.ClientSession() as s,
                s.post(
                    live.api_url + f"/prometheus/api/v1/{path}",
                    data={
                        "query": "tracehouse_llm_tokens_total",
                        "match[]": "tracehouse_llm_tokens_total",
                        "start": "1",
                        "end": "2",
                        "step": "1",
                    },
                    headers={"Authorization": f"Basic {token}"},
                ) as r,
            ):
                assert r.status == 200, (path, r.status, await r.text())
        assert await _log(admin, "project=default") == before
    finally:
        await admin.close()


async def test_every_logged_change_has_words_in_the_ui(live: Running) -> None:
    """The audit log's page names each change in words (and in Chinese); a route without them shows
    as "POST /api/public/score-configs" in a Chinese page. Every route the log records is named."""
    app = create_app(live.store, "not-the-token")
    logged = {
        f"{r.method} {r.resource.canonical.replace('/{prefix}', '/', 1)}"
        for r in app.router.routes()
        if r.resource is not None and r.method not in ("GET", "HEAD", "OPTIONS", "*")
        and not _UNAUDITED.search(r.resource.canonical.replace("/{prefix}", "/", 1))
    }  # fmt: skip
    named = set(re.findall(r'^  "((?:POST|PUT|PATCH|DELETE) [^"]+)": \(\) => t\(', AUDIT_JS.read_text(), re.M))
    assert logged and not logged - named, sorted(logged - named)
