"""Langfuse's administration API with an organization-scoped key, driven by langfuse 5.x's own
client (api.organizations, api.projects); and the same endpoints fed garbage, the wrong kind of
key, and another organization's ids."""

from __future__ import annotations

import asyncio
import base64

import aiohttp

from storage.projects import KeyPair
from tests.langfuse_helpers import basic, make_key, run_sdk
from tracehouse.roles import Role
from tracehouse.server import Running


def org_basic(public: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()}


async def test_sdk5_administers_an_organization_with_its_key(live: Running) -> None:
    owner = await live.store.users.create("owner@example.com", "Owner", "password-1")
    colleague = await live.store.users.create("colleague@example.com", "Colleague", "password-2")
    await live.store.organizations.set_role("default", owner.id, Role.OWNER)
    public, secret = await live.store.organizations.create_key("default", "automation")
    out = await asyncio.to_thread(
        run_sdk, "5", "v5_org_admin.py", live.api_url, KeyPair(public, secret, ""), colleague.id
    )
    assert out["projects_before"] == ["default"]
    assert out["created"] == {"name": "team-b", "retention": 30, "org": "default"}
    assert out["key"]["public"].startswith("pk-th-") and out["key"]["display"].endswith(out["key"]["secret"][-4:])
    assert out["keys"] == [out["key"]["public"]]
    assert out["renamed"] == {"name": "team-b2", "retention": 7}
    assert out["org_member"] == {"role": "VIEWER", "email": "colleague@example.com"}
    assert out["org_members"] == [["colleague@example.com", "VIEWER"], ["owner@example.com", "OWNER"]]
    assert out["project_member"] == "ADMIN" and out["project_members"] == [[colleague.id, "ADMIN"]]
    assert out["project_member_deleted"] == colleague.id
    assert out["org_keys"] == [public]
    assert out["key_deleted"] is True and out["keys_after"] == []
    assert out["project_deleted"] is True and out["projects_after"] == ["default"]
    # The project key the organization key made worked until it was deleted: now it is refused.
    async with aiohttp.ClientSession() as s:
        made = KeyPair(out["key"]["public"], out["key"]["secret"], "")
        async with s.get(live.api_url + "/api/public/projects", headers=basic(made)) as r:
            assert r.status == 401


async def test_admin_api_refuses_garbage_wrong_keys_and_other_organizations(live: Running) -> None:
    public, secret = await live.store.organizations.create_key("default")
    org = org_basic(public, secret)
    project_key = basic(await make_key(live))
    other_org = await live.store.organizations.create_organization("elsewhere")
    foreign = await live.store.projects.create_project("foreign", other_org.id)
    base = live.api_url + "/api/public"
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/organizations/projects") as r:
            assert r.status == 401
        async with s.get(base + "/organizations/projects", headers=project_key) as r:
            assert r.status == 403 and "organization-scoped" in (await r.json())["message"]
        for path in ("/traces", "/projects"):  # an organization key reads no data
            async with s.get(base + path, headers=org) as r:
                assert r.status == 401, path
        async with s.post(base + "/ingestion", headers=org, json={"batch": []}) as r:
            assert r.status == 401
        async with s.get(base + "/organizations/projects", headers=org) as r:
            assert [p["name"] for p in (await r.json())["projects"]] == ["default"]  # not the other's
        for method, path, body in (
            ("GET", f"/projects/{foreign.id}/apiKeys", None),
            ("DELETE", f"/projects/{foreign.id}", None),
            ("PUT", f"/projects/{foreign.id}/memberships", {"userId": "u", "role": "ADMIN"}),
            ("DELETE", "/projects/default/apiKeys/pk-th-nope", None),
        ):
            async with s.request(method, base + path, headers=org, json=body) as r:
                assert r.status == 404 and (await r.json())["error"] == "LangfuseNotFoundError", (method, path)
        for method, path, body in (
            ("POST", "/projects", {"name": ""}),
            ("POST", "/projects", {"name": "x", "retention": -1}),
            ("POST", "/projects", "not json"),
            ("PUT", "/organizations/memberships", {"userId": "", "role": "ADMIN"}),
            ("POST", "/projects/default/apiKeys", {"publicKey": "pk-mine", "secretKey": "sk-mine"}),
        ):
            async with s.request(method, base + path, headers=org, json=body) as r:
                assert r.status == 400, (method, path, r.status, await r.text())
        owner = await live.store.users.create("o@example.com", "O", "password-1")
        async with s.put(
            base + "/organizations/memberships", headers=org, json={"userId": owner.id, "role": "KING"}
        ) as r:
            assert r.status == 400
        async with s.put(
            base + "/organizations/memberships", headers=org, json={"userId": "nobody", "role": "ADMIN"}
        ) as r:
            assert r.status == 404
        async with s.post(base + "/projects", headers=org, json={"name": "default"}) as r:
            assert r.status == 409  # the name is taken
    await live.store.organizations.revoke_key("default", public)
    live.changed()
    async with aiohttp.ClientSession() as s, s.get(base + "/organizations/projects", headers=org) as r:
        assert r.status == 401
