"""The organization and member API as people use it: the admin creates an organization and a
project, adds colleagues with roles (an initial password, no mail server needed), and each of
them sees and may do exactly what the matrix in tracehouse/roles.py says, through every route."""

from __future__ import annotations

from typing import Any

import aiohttp

from tracehouse.server import Running

PASSWORD = "correct horse battery staple"


class Person:
    """A browser-like client: a cookie jar, and the CSRF header echoed on changes."""

    def __init__(self, live: Running) -> None:
        self.live = live
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        csrf = next((c.value for c in self.session.cookie_jar if c.key == "th_csrf"), "")
        async with self.session.request(
            method, self.live.api_url + path, json=body, headers={"X-CSRF-Token": csrf}
        ) as r:
            text = await r.text()
            return r.status, (await r.json()) if text and r.content_type == "application/json" else text

    async def close(self) -> None:
        await self.session.close()


async def sign_in(live: Running, email: str, password: str = PASSWORD) -> Person:
    person = Person(live)
    status, _ = await person.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200
    return person


async def first_admin(live: Running) -> Person:
    """The first account, created as the UI's setup form does: the instance admin."""
    admin = Person(live)
    status, _ = await admin.call(
        "POST", "/api/v1/auth/setup", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD}
    )
    assert status == 200
    return admin


async def test_organizations_members_and_roles_through_the_api(live: Running) -> None:
    admin = await first_admin(live)
    people: list[Person] = [admin]
    try:
        # The article's first run: organization "dify", project "dify-llm".
        status, org = await admin.call("POST", "/api/v1/organizations", {"name": "dify"})
        assert status == 201 and org["role"] == "OWNER"
        status, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "dify-llm"})
        assert status == 201 and project["organization_id"] == org["id"]
        status, listed = await admin.call("GET", "/api/v1/organizations")
        names = {o["name"]: o for o in listed["data"]}
        assert set(names) == {"Default", "dify"} and [p["name"] for p in names["dify"]["projects"]] == ["dify-llm"]

        # Colleagues, one per role; someone with role NONE and a project role on dify-llm only.
        base = f"/api/v1/organizations/{org['id']}/members"
        ids = {}
        for who, role in [("bob", "ADMIN"), ("cy", "MEMBER"), ("dee", "VIEWER"), ("eve", "NONE")]:
            status, member = await admin.call(
                "POST", base, {"email": f"{who}@example.com", "role": role, "password": PASSWORD}
            )
            assert status == 201 and member["role"] == role, member
            ids[who] = member["user_id"]
        status, _ = await admin.call(
            "PUT", f"/api/v1/projects/{project['id']}/members/{ids['eve']}", {"role": "VIEWER"}
        )
        assert status == 200
        status, members = await admin.call("GET", base)
        assert {m["email"]: m["role"] for m in members["data"]} == {
            "ada@example.com": "OWNER",  # she created it
            "bob@example.com": "ADMIN",
            "cy@example.com": "MEMBER",
            "dee@example.com": "VIEWER",
            "eve@example.com": "NONE",
        }
        assert all(len(m["user_id"]) > 4 for m in members["data"])
        # Adding someone without an account needs an initial password.
        status, doc = await admin.call("POST", base, {"email": "fay@example.com", "role": "MEMBER"})
        assert status == 400 and "initial password" in doc["error"]["message"]

        bob, cy, dee, eve = [await sign_in(live, f"{w}@example.com") for w in ("bob", "cy", "dee", "eve")]
        people += [bob, cy, dee, eve]
        # Who sees what.
        for person, orgs in [(bob, {"dify"}), (cy, {"dify"}), (dee, {"dify"}), (eve, {"dify"})]:
            status, doc = await person.call("GET", "/api/v1/organizations")
            assert {o["name"] for o in doc["data"]} == orgs
        status, doc = await eve.call("GET", "/api/v1/organizations")
        assert doc["data"][0]["role"] == "NONE" and doc["data"][0]["projects"][0]["role"] == "VIEWER"
        # Only ADMIN and above manage members and projects; only an owner touches owners.
        for person in (cy, dee, eve):
            status, _ = await person.call(
                "POST", base, {"email": "x@example.com", "role": "VIEWER", "password": PASSWORD}
            )
            assert status in (403, 404)
            status, _ = await person.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "nope"})
            assert status in (403, 404)
        status, _ = await bob.call("PUT", f"{base}/{ids['cy']}", {"role": "VIEWER"})
        assert status == 200
        status, doc = await bob.call("PUT", f"{base}/{ids['cy']}", {"role": "OWNER"})
        assert status == 403 and "owner" in doc["error"]["message"]
        status, doc = await bob.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "bob-project"})
        assert status == 201
        # eve (role NONE) cannot open the organization's member list; nor see the other project.
        status, _ = await eve.call("GET", base)
        assert status == 404
        status, doc = await eve.call("GET", "/api/v1/organizations")
        assert [p["name"] for p in doc["data"][0]["projects"]] == ["dify-llm"]

        # Reading data: eve reads dify-llm only; cy (a member of "dify", not of Default) reads dify's
        # projects; nobody reads a project their roles do not open, by id or by name.
        status, doc = await eve.call("GET", f"/api/v1/traces?project={project['id']}")
        assert status == 200 and doc["items"] == []
        status, doc = await eve.call("GET", "/api/v1/traces?project=bob-project")
        assert status == 403 and "no access" in doc["error"]["message"]
        status, _ = await eve.call("GET", "/api/v1/traces?project=default")
        assert status == 403
        status, _ = await cy.call("GET", "/api/v1/sessions?project=bob-project")
        assert status == 200
        status, _ = await cy.call("GET", "/api/v1/traces?project=no-such-project")
        assert status == 403  # the same answer as for a project that exists: nothing to learn
        status, _ = await eve.call("GET", "/api/v1/traces")  # no project named: the first one open to her
        assert status == 200

        # Settings follow the same matrix: bob (ADMIN of "dify") makes keys for dify's projects only.
        status, key = await bob.call("POST", "/api/v1/settings/keys", {"project": project["id"], "note": "dify"})
        assert status == 201 and key["secret_key"].startswith("sk-th-") and key["host"].startswith("http")
        status, doc = await bob.call("POST", "/api/v1/settings/keys", {"project": "default"})
        assert status == 403 and doc["error"]["message"] == "no access to project 'default'"
        for person in (cy, eve):
            status, doc = await person.call("POST", "/api/v1/settings/keys", {"project": project["id"]})
            assert status == 403, doc
        status, doc = await bob.call("GET", "/api/v1/settings/keys")
        assert [k["project_id"] for k in doc["items"]] == [project["id"]]
        status, doc = await bob.call("GET", "/api/v1/settings/projects")
        assert {p["name"] for p in doc["items"]} == {"dify-llm", "bob-project"}
        status, _ = await bob.call("POST", f"/api/v1/settings/projects/{project['id']}/retention", {"days": 30})
        assert status == 200
        status, _ = await cy.call("DELETE", f"/api/v1/settings/data/traces/abc?project={project['id']}")
        assert status == 403
        status, _ = await cy.call(
            "POST", "/api/v1/settings/prices",
            {"project": project["id"], "model_name": "m", "match_pattern": "m", "prices": {"input": 1}},
        )  # fmt: skip
        assert status == 403
        status, _ = await bob.call("POST", f"/api/v1/settings/keys/{key['public_key']}/revoke")
        assert status == 200

        # An organization keeps an owner: Ada (its creator) and bob own it, then bob steps down,
        # and Ada, the last owner, cannot.
        status, _ = await admin.call("PUT", f"{base}/{ids['bob']}", {"role": "OWNER"})
        assert status == 200
        status, _ = await bob.call("PUT", f"{base}/{ids['bob']}", {"role": "ADMIN"})
        assert status == 200
        status, me = await admin.call("GET", "/api/v1/auth/me")
        status, doc = await admin.call("PUT", f"{base}/{me['user']['id']}", {"role": "ADMIN"})
        assert status == 409 and "last owner" in doc["error"]["message"]
        status, _ = await admin.call("DELETE", f"{base}/{ids['dee']}")
        assert status == 204
        status, doc = await dee.call("GET", "/api/v1/organizations")
        assert doc["data"] == []
        status, doc = await dee.call("GET", "/api/v1/traces")
        assert status == 403 and "ask an organization admin" in doc["error"]["message"]
    finally:
        for person in people:
            await person.close()


async def test_invitations_resets_and_passwords(live: Running) -> None:
    admin = await first_admin(live)
    people: list[Person] = [admin]
    try:
        _, org = await admin.call("POST", "/api/v1/organizations", {"name": "acme"})
        _, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "app"})
        base = f"/api/v1/organizations/{org['id']}/invitations"
        status, inv = await admin.call("POST", base, {"email": "Bo@Example.com", "role": "ADMIN"})
        assert status == 201 and inv["email"] == "bo@example.com" and "/invite/" in inv["url"]
        token = inv["url"].rsplit("/", 1)[1]
        # Only the token's hash is stored: the link is nowhere in the store, nor in the list.
        rows = await live.store.backend.query("SELECT * FROM invitations")
        assert token not in repr(rows) and rows[0]["token_hash"] != token
        status, listed = await admin.call("GET", base)
        assert [i["email"] for i in listed["data"]] == ["bo@example.com"] and token not in repr(listed)

        # Garbage: unknown roles, OWNER as a project role, NONE without a project, another
        # organization's project, bodies of the wrong shape.
        for body in (
            {"email": "x@example.com", "role": "KING"},
            {"email": "x@example.com", "role": "NONE"},
            {"email": "x@example.com", "role": "NONE", "project_id": project["id"], "project_role": "OWNER"},
            {"email": "x@example.com", "role": "NONE", "project_id": "default", "project_role": "VIEWER"},
            {"email": 7},
            [],
        ):
            status, doc = await admin.call("POST", base, body)
            assert status == 400, (body, doc)

        anyone = Person(live)
        people.append(anyone)
        status, shown = await anyone.call("GET", f"/api/v1/invitations/{token}")
        assert status == 200 and shown["organization"]["name"] == "acme" and not shown["account_exists"]
        assert (await anyone.call("GET", "/api/v1/invitations/not-a-token"))[0] == 404
        # A bad password does not spend the link; a good one joins, signed in, as ADMIN.
        status, _ = await anyone.call("POST", f"/api/v1/invitations/{token}/accept", {"password": "short"})
        assert status == 400
        status, doc = await anyone.call(
            "POST", f"/api/v1/invitations/{token}/accept", {"password": PASSWORD, "name": "Bo"}
        )
        assert status == 200 and doc["user"]["email"] == "bo@example.com"
        status, orgs = await anyone.call("GET", "/api/v1/organizations")
        assert [(o["name"], o["role"]) for o in orgs["data"]] == [("acme", "ADMIN")]
        assert "MANAGE_MEMBERS" in orgs["data"][0]["permissions"]
        # Used once, it is gone: for the holder and in the pending list.
        other = Person(live)
        people.append(other)
        for path in (f"/api/v1/invitations/{token}", f"/api/v1/invitations/{token}/accept"):
            status, _ = await other.call("GET" if path.endswith(token) else "POST", path, {"password": PASSWORD})
            assert status == 404
        assert (await admin.call("GET", base))[1]["data"] == []

        # An invitation to an existing account asks for that account's password.
        _, inv = await admin.call("POST", base, {"email": "bo@example.com", "role": "VIEWER"})
        token2 = inv["url"].rsplit("/", 1)[1]
        assert (await other.call("GET", f"/api/v1/invitations/{token2}"))[1]["account_exists"] is True
        status, _ = await other.call("POST", f"/api/v1/invitations/{token2}/accept", {"password": "wrong password!"})
        assert status == 401
        # Withdrawn, it no longer works.
        status, _ = await admin.call("DELETE", f"{base}/{inv['id']}")
        assert status == 204
        assert (await other.call("GET", f"/api/v1/invitations/{token2}"))[0] == 404

        # Expired links are refused like unknown ones.
        expired_token, _ = await live.store.invitations.create("invite", org["id"], "late@example.com", "MEMBER", "x")
        await live.store.backend.execute(
            "ALTER TABLE invitations UPDATE expires_at = now64(3) - INTERVAL 1 SECOND "
            "WHERE email = 'late@example.com' SETTINGS mutations_sync = 1"
        )
        assert (await other.call("GET", f"/api/v1/invitations/{expired_token}"))[0] == 404

        # Password change: the current password first; other sessions end, this one goes on.
        bo_again = await sign_in(live, "bo@example.com")
        people.append(bo_again)
        status, doc = await anyone.call(
            "POST", "/api/v1/auth/password", {"current_password": "nope nope", "new_password": "brand new secret"}
        )
        assert status == 400 and "current password" in doc["error"]["message"]
        status, _ = await anyone.call(
            "POST", "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "brand new secret"}
        )
        assert status == 200
        assert (await anyone.call("GET", "/api/v1/auth/me"))[1]["user"]["email"] == "bo@example.com"
        assert (await bo_again.call("GET", "/api/v1/auth/me"))[1]["user"] is None
        assert (await anyone.call("POST", "/api/v1/auth/password", {"current_password": 1}))[0] == 400

        # Resets: an ADMIN may reset a member's password, never an owner's or the instance admin's,
        # nor that of someone who owns another organization the ADMIN cannot manage.
        status, me = await admin.call("GET", "/api/v1/auth/me")
        members = f"/api/v1/organizations/{org['id']}/members"
        status, cy = await admin.call(
            "POST", members, {"email": "cy@example.com", "role": "MEMBER", "password": PASSWORD}
        )
        cy_person = await sign_in(live, "cy@example.com")
        people.append(cy_person)
        _, cy_org = await cy_person.call("POST", "/api/v1/organizations", {"name": "cy-owns-this"})
        status, doc = await anyone.call("POST", f"{members}/{cy['user_id']}/password-reset")
        assert status == 403, doc  # cy owns cy-owns-this, where Bo has no role
        status, doc = await anyone.call("POST", f"{members}/{me['user']['id']}/password-reset")
        assert status == 403
        status, dee = await admin.call(
            "POST", members, {"email": "dee@example.com", "role": "VIEWER", "password": PASSWORD}
        )
        status, reset = await anyone.call("POST", f"{members}/{dee['user_id']}/password-reset")
        assert status == 201 and "/invite/" in reset["url"]
        reset_token = reset["url"].rsplit("/", 1)[1]
        dee_person = await sign_in(live, "dee@example.com")
        people.append(dee_person)
        status, shown = await other.call("GET", f"/api/v1/invitations/{reset_token}")
        assert shown["kind"] == "reset" and shown["email"] == "dee@example.com"
        status, _ = await other.call(
            "POST", f"/api/v1/invitations/{reset_token}/accept", {"password": "dee new secret"}
        )
        assert status == 200
        assert (await dee_person.call("GET", "/api/v1/auth/me"))[1]["user"] is None  # old session ended
        await (await sign_in(live, "dee@example.com", "dee new secret")).close()
        status, _ = await other.call("POST", "/api/v1/auth/login", {"email": "dee@example.com", "password": PASSWORD})
        assert status == 401
        # Another organization's member is not found through this one.
        status, _ = await admin.call(
            "POST", f"/api/v1/organizations/{cy_org['id']}/members/{dee['user_id']}/password-reset"
        )
        assert status == 404
    finally:
        for person in people:
            await person.close()


async def test_two_organizations_may_each_have_a_project_of_the_same_name(live: Running) -> None:
    admin = await first_admin(live)
    people = [admin]
    try:
        made = {}
        for org_name in ("north", "south"):
            status, org = await admin.call("POST", "/api/v1/organizations", {"name": org_name})
            assert status == 201
            status, project = await admin.call("POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "prod"})
            assert status == 201, project
            made[org_name] = (org, project)
        north, north_prod = made["north"]
        status, doc = await admin.call("POST", f"/api/v1/organizations/{north['id']}/projects", {"name": "prod"})
        assert status == 409 and "in this organization" in doc["error"]["message"]
        status, _ = await admin.call(
            "POST", f"/api/v1/organizations/{north['id']}/members",
            {"email": "nia@example.com", "role": "MEMBER", "password": PASSWORD},
        )  # fmt: skip
        assert status == 201
        nia = await sign_in(live, "nia@example.com")
        people.append(nia)
        # Nia sees one "prod": hers. The name finds it, and the other team's is not mentioned.
        status, doc = await nia.call("GET", "/api/v1/traces?project=prod")
        assert status == 200, doc
        status, doc = await nia.call("PUT", "/api/v1/projects/prod/members/usr-0000000000000000", {"role": "VIEWER"})
        assert status == 403 and made["south"][1]["id"] not in str(doc)
        # Someone who sees both is asked for the id, not given one of them.
        status, doc = await admin.call("GET", "/api/v1/traces?project=prod")
        assert status == 400 and north_prod["id"] in doc["error"]["message"]
        status, doc = await admin.call("GET", f"/api/v1/traces?project={north_prod['id']}")
        assert status == 200
        status, listed = await admin.call("GET", "/api/v1/organizations")
        prods = [p["id"] for o in listed["data"] for p in o["projects"] if p["name"] == "prod"]
        assert sorted(prods) == sorted(p["id"] for _, p in made.values())
    finally:
        for person in people:
            await person.close()
