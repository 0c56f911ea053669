"""SCIM user provisioning with an organization-scoped key: langfuse 5.x's own client (api.scim),
an identity provider's deactivation (PATCH active false, as Okta and Entra ID send it) ending a
person's access at once, and the endpoints fed garbage, a project's key and another
organization's people."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from storage.projects import KeyPair
from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_org_admin_api import org_basic
from tests.test_organizations_api import Person, sign_in
from tracehouse.roles import Role
from tracehouse.server import Running

SCIM = "/api/public/scim"


async def _call(live: Running, headers: dict[str, str], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, live.api_url + path, json=body, headers=headers) as r:
        text = await r.text()
        return r.status, (await r.json(content_type=None)) if text else None


async def test_sdk5_provisions_and_removes_a_person(live: Running) -> None:
    owner = await live.store.users.create("owner@example.com", "Owner", "password-1")
    await live.store.organizations.set_role("default", owner.id, Role.OWNER)
    public, secret = await live.store.organizations.create_key("default", "okta")
    out = await asyncio.to_thread(run_sdk, "5", "v5_scim.py", live.api_url, KeyPair(public, secret, ""))
    assert out["config"] == {"patch": True, "filter": True, "bulk": False}
    assert out["resource_types"] == ["User"] and out["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    assert out["created"]["user_name"] == "grace@example.com" and out["created"]["name"] == "Grace Hopper"
    assert out["found"] == ["grace@example.com"]
    assert out["all"] == ["grace@example.com", "owner@example.com"]
    assert out["page"] == {"total": 2, "start": 2, "per_page": 1}
    assert out["got"] == "grace@example.com"
    assert out["after_delete"] == "not found" and out["found_after"] == []
    # The account stays (as Langfuse's): only its place in the organization went.
    grace = await live.store.users.find("grace@example.com")
    assert grace is not None and grace.id == out["created"]["id"]
    assert grace.id not in {m.user_id for m in await live.store.organizations.members("default")}
    # A provisioned account has no password (no hash is stored for it): none signs in, not even
    # an empty one or the stored marker, until a reset link gives it one.
    async with aiohttp.ClientSession() as session:
        for attempt in ("", "!", "password-1", "x" * 12):
            async with session.post(
                live.api_url + "/api/v1/auth/login", json={"email": "grace@example.com", "password": attempt}
            ) as r:
                assert r.status in (400, 401), attempt
    await live.store.users.set_password(grace.id, "a-new-password")
    assert (await live.store.users.authenticate("grace@example.com", "a-new-password")).id == grace.id


async def test_deactivation_ends_access_at_once(live: Running) -> None:
    public, secret = await live.store.organizations.create_key("default", "entra")
    org = org_basic(public, secret)
    owner = await live.store.users.create("owner@example.com", "Owner", "password-1")
    await live.store.organizations.set_role("default", owner.id, Role.OWNER)
    status, made = await _call(live, org, "POST", SCIM + "/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "lin@example.com",
        "name": {"givenName": "Lin", "familyName": "Wei"}, "active": True})  # fmt: skip
    assert status == 201 and made["name"]["formatted"] == "Lin Wei" and made["active"] is True
    # Provisioned with role NONE: an admin gives a project role; then Lin reads the project.
    await live.store.organizations.set_project_role("default", made["id"], Role.VIEWER)
    await live.store.users.set_password(made["id"], "lins-password")
    lin: Person = await sign_in(live, "lin@example.com", "lins-password")
    try:
        status, _ = await lin.call("GET", "/api/v1/traces?project=default")
        assert status == 200
        status, again = await _call(live, org, "POST", SCIM + "/Users", {"userName": "LIN@example.com", "name": {}})
        assert status == 409 and again["scimType"] == "uniqueness"
        # The person leaves the company: the provider deactivates them (Entra ID's shape).
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}  # fmt: skip
        status, doc = await _call(live, org, "PATCH", f"{SCIM}/Users/{made['id']}", patch)
        assert status == 200 and doc["active"] is False
        status, _ = await lin.call("GET", "/api/v1/traces?project=default")
        assert status == 403  # the next request, not after a cache's lifetime
        assert await live.store.organizations.project_roles("default") == {}
        status, _ = await _call(live, org, "GET", f"{SCIM}/Users/{made['id']}")
        assert status == 404
        # Provisioned again (Okta's reactivation creates the user anew): a member once more.
        status, back = await _call(live, org, "POST", SCIM + "/Users", {"userName": "lin@example.com"})
        assert status == 201 and back["id"] == made["id"]
        # Each change is in the organization's audit log, made by the organization key.
        logged = [
            (e.method, e.route, e.actor_kind, e.actor_id) for e in await live.store.audit.entries("default", None, 10)
        ]
        assert logged == [
            ("POST", SCIM + "/Users", "organization_key", public),
            ("PATCH", SCIM + "/Users/{user_id}", "organization_key", public),
            ("POST", SCIM + "/Users", "organization_key", public),
        ], logged
    finally:
        await lin.close()


async def test_scim_refuses_garbage_other_keys_and_other_organizations(live: Running) -> None:
    public, secret = await live.store.organizations.create_key("default")
    org = org_basic(public, secret)
    other = await live.store.organizations.create_organization("other")
    stranger = await live.store.users.create("stranger@example.com", "Stranger", "password-3")
    await live.store.organizations.set_role(other.id, stranger.id, Role.OWNER)
    # A project's key, no key, a wrong key: refused, in SCIM's error shape.
    project_key = await make_key(live)
    for headers, expected in ((basic(project_key), 403), ({}, 401), (org_basic(public, "sk-wrong"), 401)):
        status, doc = await _call(live, headers, "GET", SCIM + "/Users")
        assert status == expected and doc["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], doc
    # Another organization's person is not found here, in any verb.
    no_change = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}
    for method, body in (("GET", None), ("DELETE", None), ("PUT", {"userName": "stranger@example.com"}),
                         ("PATCH", no_change)):  # fmt: skip
        status, _ = await _call(live, org, method, f"{SCIM}/Users/{stranger.id}", body)
        assert status == 404, method
    status, doc = await _call(live, org, "GET", SCIM + '/Users?filter=userName eq "stranger@example.com"')
    assert status == 200 and doc["totalResults"] == 0
    assert stranger.id in {m.user_id for m in await live.store.organizations.members(other.id)}
    # Garbage.
    bad_bodies: list[Any] = [None, [], "x", {"userName": ""}, {"userName": 7}, {"userName": "no-at-sign"},
                             {"userName": "a@example.com", "active": False}]  # fmt: skip
    for body in bad_bodies:
        status, doc = await _call(live, org, "POST", SCIM + "/Users", body)
        assert status == 400, (body, doc)
    async with aiohttp.ClientSession() as s, s.post(live.api_url + SCIM + "/Users", data=b"{x", headers=org) as r:
        assert r.status == 400
    for query in ('filter=displayName co "x"', "filter=userName eq unquoted", "startIndex=x", "count=many"):
        status, doc = await _call(live, org, "GET", f"{SCIM}/Users?{query}")
        assert status == 400, (query, doc)
    status, doc = await _call(live, org, "GET", SCIM + "/Users?startIndex=0&count=-5")
    assert status == 200 and doc["startIndex"] == 1 and doc["Resources"] == []
    owner = await live.store.users.create("owner@example.com", "Owner", "password-1")
    await live.store.organizations.set_role("default", owner.id, Role.OWNER)
    for patch in ({"Operations": []}, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
                  {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove"}]},
                  {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}):  # fmt: skip
        status, doc = await _call(live, org, "PATCH", f"{SCIM}/Users/{owner.id}", patch)
        assert status == 400, (patch, doc)
    status, doc = await _call(live, org, "PUT", f"{SCIM}/Users/{owner.id}", {"userName": "new@example.com"})
    assert status == 400 and doc["scimType"] == "mutability"
    # The last owner is not deprovisioned out of their organization.
    status, doc = await _call(live, org, "DELETE", f"{SCIM}/Users/{owner.id}")
    assert status == 409, doc
    assert owner.id in {m.user_id for m in await live.store.organizations.members("default")}
