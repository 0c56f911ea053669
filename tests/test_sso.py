"""Single sign-on with an OpenID Connect provider (a local one, tests/fake_oidc.py) against a real
server: an invited teammate joins by signing in, someone uninvited gets an account and no access,
the admin's password account is the same account, and every way a sign-in can go wrong comes
back to the sign-in page in words, with no session. Then the sign-in page in chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import Server, start_server
from tests.fake_judge import in_thread
from tests.fake_oidc import CLIENT_ID, CLIENT_SECRET, Provider, fake_oidc
from tests.test_ui import ARTIFACTS, api, browser_page
from tracehouse.server import Running

PASSWORD = "a very good password"
SHOTS = ARTIFACTS / "sso"


def sso_env(idp: Provider, **extra: str) -> dict[str, str]:
    """A server's settings for single sign-on with the local provider, and ``extra`` ones."""
    return {"TRACEHOUSE_OIDC_ISSUER": idp.url, "TRACEHOUSE_OIDC_CLIENT_ID": CLIENT_ID,
            "TRACEHOUSE_OIDC_CLIENT_SECRET": CLIENT_SECRET, **extra}  # fmt: skip


def set_up_admin(admin: httpx.Client, srv: Server) -> dict[str, str]:
    """The first account (ada@acme.test), signed in on ``admin``; its CSRF header."""
    r = admin.post(srv.api_url + "/api/v1/auth/setup",
                   json={"email": "ada@acme.test", "name": "Ada", "password": PASSWORD})  # fmt: skip
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": admin.cookies["th_csrf"]}


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with in_thread(fake_oidc) as provider:
        yield provider


@pytest.fixture(scope="module")
def sso_server(idp: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = sso_env(idp, TRACEHOUSE_OIDC_NAME="Acme SSO", TRACEHOUSE_OIDC_DOMAINS="acme.test, @acme.example")
    srv = start_server(tmp_path_factory.mktemp("sso") / "data", env=env)
    try:
        yield srv
    finally:
        srv.stop()


def sign_in(client: httpx.Client, srv: Server, next_path: str = "/") -> httpx.Response:
    """The browser's round trip: to the provider, and back to the callback."""
    started = client.get(srv.api_url + "/api/v1/auth/sso/start", params={"next": next_path})
    assert started.status_code == 302, started.text
    at_provider = client.get(started.headers["location"])
    assert at_provider.status_code == 302
    return client.get(at_provider.headers["location"])


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 302 and response.headers["location"].startswith("/?sso_error="), response.headers
    return parse_qs(urlparse(response.headers["location"]).query)["sso_error"][0]


def me(client: httpx.Client, srv: Server) -> dict:
    return client.get(srv.api_url + "/api/v1/auth/me").json()


def test_sso_sign_in_invitations_and_failures(idp: Provider, sso_server: Server) -> None:
    srv = sso_server
    with httpx.Client() as anyone:
        # Before the admin account exists, no one comes in this way.
        assert me(anyone, srv)["sso"] == {"name": "Acme SSO", "only": False}
        assert "create the admin account first" in error_of(anyone.get(srv.api_url + "/api/v1/auth/sso/start"))
    with httpx.Client() as admin:
        csrf = set_up_admin(admin, srv)
        r = admin.post(srv.api_url + "/api/v1/organizations/default/invitations",
                       json={"email": "Bob@acme.test", "role": "MEMBER"}, headers=csrf)  # fmt: skip
        assert r.status_code == 201, r.text

    # Bob was invited: signing in is joining, and he lands where he was going.
    with httpx.Client() as bob:
        back = sign_in(bob, srv, "/project/default/traces?range=1h")
        assert back.status_code == 302 and back.headers["location"] == "/project/default/traces?range=1h"
        assert "th_session" in bob.cookies and "th_sso" not in bob.cookies
        assert me(bob, srv)["user"]["email"] == "bob@acme.test" and me(bob, srv)["user"]["name"] == "Bob"
        assert bob.get(srv.api_url + "/api/v1/traces", params={"project": "default"}).status_code == 200
        assert not idp.codes  # the code was spent
        sent = idp.token_requests[-1]["form"]
        assert sent["grant_type"] == "authorization_code" and len(sent["code_verifier"]) >= 43
        assert sent["redirect_uri"] == srv.api_url + "/api/v1/auth/sso/callback"
    with httpx.Client() as admin:
        admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
        pending = admin.get(srv.api_url + "/api/v1/organizations/default/invitations").json()
        assert "bob@acme.test" not in str(pending)  # spent by the sign-in

    # Carol was not invited: an account, no access until someone gives her a role.
    idp.email, idp.name = "carol@acme.example", "Carol"
    with httpx.Client() as carol:
        assert sign_in(carol, srv).headers["location"] == "/"
        assert me(carol, srv)["user"]["email"] == "carol@acme.example"
        assert carol.get(srv.api_url + "/api/v1/traces", params={"project": "default"}).status_code in (403, 404)

    # The admin's password account is the one signed in by its email.
    idp.email, idp.name = "ada@acme.test", "Ada Lovelace"
    with httpx.Client() as ada:
        sign_in(ada, srv)
        assert me(ada, srv)["user"]["name"] == "Ada"
        assert ada.get(srv.api_url + "/api/v1/traces", params={"project": "default"}).status_code == 200

    # Every failure: back to the sign-in page with why, and no session.
    idp.email = "eve@acme.test"
    failures = {
        "audience": "not valid",
        "issuer": "not valid",
        "expired": "not valid",
        "foreign-key": "not valid",
        "nonce": "nonce",
        "no-email": "no email address",
        "refuse-code": "refused the code",
        "deny": "the user said no",
    }
    for what, words in failures.items():
        idp.misbehave = what
        with httpx.Client() as eve:
            said = error_of(sign_in(eve, srv))
            assert words in said, (what, said)
            assert "th_session" not in eve.cookies and me(eve, srv)["user"] is None
    idp.misbehave = ""
    for email, verified, words in (("eve@other.test", True, "accounts of other.test"),
                                   ("eve@acme.test", False, "has not verified")):  # fmt: skip
        idp.email, idp.email_verified = email, verified
        with httpx.Client() as eve:
            assert words in error_of(sign_in(eve, srv)) and me(eve, srv)["user"] is None
    idp.email, idp.email_verified = "eve@acme.test", True
    with httpx.Client() as eve:
        # A callback with another state, with no cookie, or with a forged one.
        started = eve.get(srv.api_url + "/api/v1/auth/sso/start")
        back = urlparse(eve.get(started.headers["location"]).headers["location"])
        code = parse_qs(back.query)["code"][0]
        callback = srv.api_url + "/api/v1/auth/sso/callback"
        flow = eve.cookies["th_sso"]
        assert "state does not match" in error_of(eve.get(callback, params={"code": code, "state": "x"}))
        assert "th_sso" not in eve.cookies  # a failed sign-in is over: its cookie goes
        assert "not started here" in error_of(eve.get(callback, params={"code": code, "state": "x"}))
        body, _, mac = flow.rpartition(".")
        eve.cookies.set("th_sso", body + "." + "0" * len(mac), path="/api/v1/auth/sso")
        assert "not started here" in error_of(eve.get(callback, params={"code": code, "state": "x"}))
        for garbage in ("", "no-dot", "!!!.@@@", "." * 5000):
            eve.cookies.set("th_sso", garbage, path="/api/v1/auth/sso")
            assert "not started here" in error_of(eve.get(callback, params={"code": "c", "state": "s"}))
        assert me(eve, srv)["user"] is None
        # Somewhere else after signing in: only this site's own paths.
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            eve.cookies.clear()
            assert sign_in(eve, srv, target).headers["location"] == "/"


def test_sso_from_the_sign_in_page(idp: Provider, sso_server: Server) -> None:
    srv = sso_server
    idp.misbehave, idp.email, idp.email_verified, idp.name = "", "bob@acme.test", True, "Bob"
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(srv.api_url + "/project/default/traces")
        page.get_by_role("heading", name="Sign in").wait_for()
        page.get_by_role("link", name="Sign in with Acme SSO").click()
        page.get_by_role("heading", name="Traces").wait_for()
        assert page.url.endswith("/project/default/traces")
        page.get_by_role("button", name="Sign out").click()
        # A failed sign-in says why on the sign-in page.
        idp.misbehave = "deny"
        page.get_by_role("link", name="Sign in with Acme SSO").click()
        expect(page.locator(".sso p.error")).to_have_text(
            "Single sign-on failed: the sign-in provider said: the user said no"
        )
        assert "th_session" not in {c["name"] for c in page.context.cookies()}
        page.goto(srv.api_url + "/?lang=zh-CN")
        page.get_by_role("link", name="使用 Acme SSO 登录").wait_for()
        idp.misbehave = ""
        # An emailed invitation's link: signing in there accepts it.
        with httpx.Client() as admin:
            admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            r = admin.post(srv.api_url + "/api/v1/organizations/default/invitations",
                           json={"email": "dan@acme.test", "role": "VIEWER"},
                           headers={"X-CSRF-Token": admin.cookies["th_csrf"]})  # fmt: skip
            assert r.status_code == 201, r.text
        idp.email, idp.name = "dan@acme.test", "Dan"
        page.goto(r.json()["url"] + "?lang=en")
        page.get_by_text("Or sign in with Acme SSO as dan@acme.test").wait_for()
        page.get_by_role("link", name="Sign in with Acme SSO").click()
        page.get_by_role("heading", name="Traces").wait_for()
        assert api(page, "GET", "/api/v1/auth/me")[1]["user"]["email"] == "dan@acme.test"
        assert api(page, "GET", "/api/v1/traces?project=default")[0] == 200  # a VIEWER of its organization
        idp.misbehave = ""
    assert errors == [], errors


def test_sso_settings_are_checked(tmp_path: Path) -> None:
    from tracehouse.errors import ConfigError
    from tracehouse.settings import Settings

    with pytest.raises((ValueError, ConfigError), match="CLIENT_ID"):
        Settings(oidc_issuer="https://idp.example")
    with pytest.raises((ValueError, ConfigError), match="CLIENT_SECRET"):  # as compose passes an unset one
        Settings(oidc_issuer="https://idp.example", oidc_client_id="c", oidc_client_secret="")
    with pytest.raises((ValueError, ConfigError), match="URL"):
        Settings(oidc_issuer="idp.example", oidc_client_id="c", oidc_client_secret="s")


def test_sso_as_the_only_way_in(idp: Provider, tmp_path: Path) -> None:
    """``TRACEHOUSE_PASSWORD_LOGIN=false``: passwords refused for signing in and joining, the
    pages show the provider's button alone, and an invited person joins by signing in."""
    idp.misbehave, idp.email, idp.email_verified, idp.name = "", "fay@acme.test", True, "Fay"
    env = sso_env(idp, TRACEHOUSE_OIDC_NAME="Acme SSO", TRACEHOUSE_PASSWORD_LOGIN="false")
    srv = start_server(tmp_path / "data", env=env)
    try:
        with httpx.Client() as admin:
            csrf = set_up_admin(admin, srv)  # the first account: as always, on this machine
            invited = admin.post(srv.api_url + "/api/v1/organizations/default/invitations",
                                 json={"email": "fay@acme.test", "role": "MEMBER"}, headers=csrf).json()  # fmt: skip
        with httpx.Client() as anyone:
            assert me(anyone, srv)["sso"] == {"name": "Acme SSO", "only": True}
            r = anyone.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            assert r.status_code == 403 and "turned off" in r.json()["error"]["message"]
            token = invited["url"].rsplit("/", 1)[1]
            r = anyone.post(srv.api_url + f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
            assert r.status_code == 403 and "th_session" not in anyone.cookies
        errors: list[str] = []
        with browser_page(errors) as page:
            page.goto(invited["url"])
            page.get_by_role("heading", name="Join Default").wait_for()
            assert page.locator("input[type=password]").count() == 0
            page.goto(srv.api_url + "/")
            page.get_by_role("heading", name="Sign in").wait_for()
            assert page.locator("input").count() == 0
            page.get_by_role("link", name="Sign in with Acme SSO").click()
            page.get_by_role("heading", name="Traces").wait_for()
            assert api(page, "GET", "/api/v1/auth/me")[1]["user"]["email"] == "fay@acme.test"
            assert api(page, "GET", "/api/v1/traces?project=default")[0] == 200  # the invitation, accepted
        assert errors == [], errors
    finally:
        srv.stop()


def test_password_login_off_needs_sso() -> None:
    from tracehouse.errors import ConfigError
    from tracehouse.settings import Settings

    with pytest.raises((ValueError, ConfigError), match="needs single sign-on"):
        Settings(password_login=False)


def org_roles(client: httpx.Client, srv: Server) -> dict[str, tuple[str, dict[str, str]]]:
    """Organization name -> (the person's role, project name -> their role there)."""
    orgs = client.get(srv.api_url + "/api/v1/organizations").json()["data"]
    return {o["name"]: (o["role"], {p["name"]: p["role"] for p in o["projects"]}) for o in orgs}


def test_new_accounts_get_the_default_access(idp: Provider, tmp_path: Path) -> None:
    """``TRACEHOUSE_DEFAULT_ORG`` and ``_PROJECT`` (Langfuse's automated access provisioning): a new
    account, however it was made, gets the organization's role where it had none and the project's
    where that raises it; an invitation's role is never lowered, and a removal is not undone by
    signing in again."""
    idp.misbehave, idp.email_verified = "", True
    env = sso_env(idp, TRACEHOUSE_DEFAULT_ORG="Acme", TRACEHOUSE_DEFAULT_PROJECT="shop",
                  TRACEHOUSE_DEFAULT_PROJECT_ROLE="MEMBER")  # fmt: skip
    srv = start_server(tmp_path / "data", env=env)
    try:
        with httpx.Client() as admin:
            csrf = set_up_admin(admin, srv)

            def post(path: str, body: dict) -> dict:
                r = admin.post(srv.api_url + path, json=body, headers=csrf)
                assert r.status_code == 201, r.text
                return r.json()

            acme = post("/api/v1/organizations", {"name": "Acme"})["id"]
            for name in ("shop", "ops"):
                post(f"/api/v1/organizations/{acme}/projects", {"name": name})
            post("/api/v1/organizations/default/projects", {"name": "shop"})  # the same name elsewhere
            post(f"/api/v1/organizations/{acme}/invitations", {"email": "ivy@acme.test", "role": "ADMIN"})
            jon = post("/api/v1/organizations/default/invitations", {"email": "jon@acme.test", "role": "MEMBER"})
            post("/api/v1/organizations/default/members",
                 {"email": "kim@acme.test", "role": "VIEWER", "password": PASSWORD})  # fmt: skip
            assert org_roles(admin, srv)["Acme"] == ("OWNER", {"shop": "OWNER", "ops": "OWNER"})  # the first: no more

        newcomer = ("VIEWER", {"shop": "MEMBER", "ops": "VIEWER"})
        idp.email, idp.name = "gus@acme.test", "Gus"
        with httpx.Client() as gus:  # uninvited, through single sign-on
            sign_in(gus, srv)
            assert org_roles(gus, srv) == {"Acme": newcomer}
            gus_id = me(gus, srv)["user"]["id"]
        idp.email, idp.name = "ivy@acme.test", "Ivy"
        with httpx.Client() as ivy:  # invited as ADMIN: the defaults do not lower her
            sign_in(ivy, srv)
            assert org_roles(ivy, srv) == {"Acme": ("ADMIN", {"shop": "ADMIN", "ops": "ADMIN"})}
        with httpx.Client() as jon_client:  # joined by the link, with a password
            token = jon["url"].rsplit("/", 1)[1]
            r = jon_client.post(srv.api_url + f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
            assert r.status_code == 200, r.text
            roles = org_roles(jon_client, srv)
            assert roles["Acme"] == newcomer and roles["Default"][0] == "MEMBER", roles
        with httpx.Client() as kim:  # added by an admin with a password
            kim.post(srv.api_url + "/api/v1/auth/login", json={"email": "kim@acme.test", "password": PASSWORD})
            roles = org_roles(kim, srv)
            assert roles["Acme"] == newcomer and roles["Default"][0] == "VIEWER", roles

        # Removed from Acme, Gus signs in again: the defaults were for his new account only.
        with httpx.Client() as admin:
            admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            # The members lists say what newcomers get, where they get it.
            orgs = admin.get(srv.api_url + "/api/v1/organizations").json()["data"]
            projects = {(o["id"], p["name"]): p["id"] for o in orgs for p in o["projects"]}
            for path, role in ((f"organizations/{acme}", "VIEWER"), ("organizations/default", None),
                               (f"projects/{projects[(acme, 'shop')]}", "MEMBER"),
                               (f"projects/{projects[(acme, 'ops')]}", None),
                               (f"projects/{projects[('default', 'shop')]}", None)):  # fmt: skip
                assert admin.get(f"{srv.api_url}/api/v1/{path}/members").json()["default_role"] == role, path
            r = admin.delete(srv.api_url + f"/api/v1/organizations/{acme}/members/{gus_id}",
                             headers={"X-CSRF-Token": admin.cookies["th_csrf"]})  # fmt: skip
            assert r.status_code == 204, r.text
        idp.email, idp.name = "gus@acme.test", "Gus"
        with httpx.Client() as gus:
            sign_in(gus, srv)
            assert org_roles(gus, srv) == {}
            assert gus.get(srv.api_url + "/api/v1/traces", params={"project": "ops"}).status_code in (403, 404)

        # The admin sees why newcomers are there, on the organization's and the project's settings.
        for locale, org_note, project_note in (
            ("en-US", "Every new account gets VIEWER here without an invitation (TRACEHOUSE_DEFAULT_ORG).",
             "Every new account gets MEMBER here without an invitation (TRACEHOUSE_DEFAULT_PROJECT)."),
            ("zh-CN", "每个新账户无需邀请即在此获得 查看者 角色（TRACEHOUSE_DEFAULT_ORG）。",
             "每个新账户无需邀请即在此获得 成员 角色（TRACEHOUSE_DEFAULT_PROJECT）。"),
        ):  # fmt: skip
            errors: list[str] = []
            with browser_page(errors, locale) as page:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.goto(srv.api_url + "/")
                status, _ = api(page, "POST", "/api/v1/auth/login", {"email": "ada@acme.test", "password": PASSWORD})
                assert status == 200
                page.goto(f"{srv.api_url}/organization/{acme}/settings")
                expect(page.locator(".default-access")).to_have_text(org_note)
                page.screenshot(path=str(SHOTS / f"default-access-{locale}.png"), full_page=True)
                page.goto(f"{srv.api_url}/project/{projects[(acme, 'shop')]}/settings")
                expect(page.locator(".default-access")).to_have_text(project_note)
                page.goto(f"{srv.api_url}/project/{projects[(acme, 'ops')]}/settings")
                page.locator("h2").first.wait_for()
                expect(page.locator(".default-access")).to_have_count(0)
            assert errors == [], errors
    finally:
        srv.stop()


async def test_default_access_to_what_does_not_exist(live: Running, caplog: pytest.LogCaptureFixture) -> None:
    """A default organization or project that is not there (a typo, or deleted since): the account
    is made all the same, with nothing given, and the log says why."""
    from aiohttp import web

    from query_api.provisioning import PROVISIONING_KEY, Provisioning, grant_default_access

    user = await live.store.users.create("lea@acme.test", "Lea", PASSWORD)
    app = web.Application()
    for access in (Provisioning("no such org"), Provisioning("default", project="no such project"),
                   Provisioning(None, project="x" * 5000)):  # fmt: skip
        app[PROVISIONING_KEY] = access
        await grant_default_access(app, live.store, user.id)
    roles = await live.store.organizations.roles_of(user.id)
    assert roles.organizations == {} and roles.projects == {}
    assert sum("no default access given" in r.getMessage() for r in caplog.records) == 3


def test_default_roles_are_checked() -> None:
    from tracehouse.errors import ConfigError
    from tracehouse.settings import Settings

    for role in ("OWNER", "boss", ""):
        with pytest.raises((ValueError, ConfigError), match="default_org_role"):
            Settings(default_org_role=role)
        with pytest.raises((ValueError, ConfigError), match="default_project_role"):
            Settings(default_project_role=role)


def test_group_roles_at_each_sign_in(idp: Provider, tmp_path: Path) -> None:
    """``TRACEHOUSE_OIDC_GROUP_ROLES``: the provider's groups claim gives at least the roles named,
    at each sign-in (the highest where several groups name one place); leaving a group gives back
    the role before it, unless someone changed the role since; no claim changes nothing; a group
    naming what is not there is skipped; the members pages say which group gives what."""
    idp.misbehave, idp.email_verified, idp.groups = "", True, None
    rules = ("ml-team=Acme:MEMBER; ml-admins = Acme:ADMIN\nshop-devs=Acme/shop:ADMIN;"
             "ghosts=Nowhere:ADMIN; ops-readers=Acme/ops:VIEWER; weak=Acme/shop:VIEWER")  # fmt: skip
    env = sso_env(idp, TRACEHOUSE_OIDC_SCOPES="openid email profile groups", TRACEHOUSE_OIDC_GROUP_ROLES=rules)
    srv = start_server(tmp_path / "data", env=env)
    try:
        with httpx.Client() as admin:
            csrf = set_up_admin(admin, srv)
            acme = admin.post(srv.api_url + "/api/v1/organizations", json={"name": "Acme"}, headers=csrf).json()["id"]
            for name in ("shop", "ops"):
                r = admin.post(f"{srv.api_url}/api/v1/organizations/{acme}/projects", json={"name": name}, headers=csrf)
                assert r.status_code == 201, r.text

        def signed_in_roles(email: str, groups: object) -> dict[str, tuple[str, dict[str, str]]]:
            idp.email, idp.name, idp.groups = email, email.split("@")[0], groups
            with httpx.Client() as person:
                assert sign_in(person, srv).headers["location"] == "/"
                return org_roles(person, srv)

        every = {"shop": "ADMIN", "ops": "MEMBER"}
        assert signed_in_roles("gus@acme.test", ["ml-team", "shop-devs", "ghosts", "weak"]) == {
            "Acme": ("MEMBER", every)
        }
        assert "groups" in idp.scopes_asked[-1]
        # Added to a group: more at the next sign-in (out of shop-devs: shop's own role goes).
        admins = {"shop": "ADMIN", "ops": "ADMIN"}
        assert signed_in_roles("gus@acme.test", ["ml-team", "ml-admins"]) == {"Acme": ("ADMIN", admins)}
        # Out of ml-admins only: back to what ml-team gives. No groups claim: nothing changes.
        member = {"shop": "MEMBER", "ops": "MEMBER"}
        assert signed_in_roles("gus@acme.test", ["ml-team"]) == {"Acme": ("MEMBER", member)}
        assert signed_in_roles("gus@acme.test", None) == {"Acme": ("MEMBER", member)}
        # Out of every group: the groups brought him to Acme, so he leaves it.
        assert signed_in_roles("gus@acme.test", []) == {}
        # One project only: no organization-wide role; out of the group, out of Acme.
        assert signed_in_roles("hal@acme.test", ["ops-readers"]) == {"Acme": ("NONE", {"ops": "VIEWER"})}
        assert signed_in_roles("hal@acme.test", ["nothing-here"]) == {}
        # A role someone gave before the group, and one an admin changed after it.
        with httpx.Client() as admin:
            admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            csrf = {"X-CSRF-Token": admin.cookies["th_csrf"]}
            kim_added = {"email": "kim@acme.test", "role": "VIEWER", "password": PASSWORD}
            r = admin.post(f"{srv.api_url}/api/v1/organizations/{acme}/members", json=kim_added, headers=csrf)
            assert r.status_code == 201, r.text
            kim = r.json()["user_id"]
        viewer = {"shop": "VIEWER", "ops": "VIEWER"}
        assert signed_in_roles("kim@acme.test", ["ml-admins"]) == {"Acme": ("ADMIN", admins)}
        assert signed_in_roles("kim@acme.test", []) == {"Acme": ("VIEWER", viewer)}  # as before the group
        assert signed_in_roles("kim@acme.test", ["ml-team"]) == {"Acme": ("MEMBER", member)}
        with httpx.Client() as admin:
            admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            r = admin.put(f"{srv.api_url}/api/v1/organizations/{acme}/members/{kim}", json={"role": "ADMIN"},
                          headers={"X-CSRF-Token": admin.cookies["th_csrf"]})  # fmt: skip
            assert r.status_code == 200, r.text
        assert signed_in_roles("kim@acme.test", []) == {"Acme": ("ADMIN", admins)}  # the admin's choice stays
        # A lone group as a string; claims that are not groups give nothing.
        assert signed_in_roles("ivy@acme.test", "ml-team") == {"Acme": ("MEMBER", member)}
        for garbage in ([1, {"ml-admins": True}, None], {"ml-admins": 1}, 7, "", ["ML-TEAM"], ["x" * 10_000]):
            assert signed_in_roles("jon@acme.test", garbage) == {}, garbage

        with httpx.Client() as admin:
            admin.post(srv.api_url + "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD})
            orgs = admin.get(srv.api_url + "/api/v1/organizations").json()["data"]
            projects = {p["name"]: p["id"] for o in orgs if o["id"] == acme for p in o["projects"]}
            listed = admin.get(f"{srv.api_url}/api/v1/organizations/{acme}/members").json()
            assert listed["group_roles"] == [
                {"group": "ml-team", "role": "MEMBER"},
                {"group": "ml-admins", "role": "ADMIN"},
            ]
            assert listed["default_role"] is None
            listed = admin.get(f"{srv.api_url}/api/v1/projects/{projects['shop']}/members").json()
            assert listed["group_roles"] == [
                {"group": "shop-devs", "role": "ADMIN"},
                {"group": "weak", "role": "VIEWER"},
            ]
            assert admin.get(f"{srv.api_url}/api/v1/organizations/default/members").json()["group_roles"] == []

        errors: list[str] = []
        with browser_page(errors, "zh-CN") as page:
            page.goto(srv.api_url + "/")
            assert api(page, "POST", "/api/v1/auth/login", {"email": "ada@acme.test", "password": PASSWORD})[0] == 200
            page.goto(f"{srv.api_url}/organization/{acme}/settings")
            expect(page.locator(".group-roles li")).to_have_text([
                "登录提供方的 ml-team 组成员每次登录时在此至少获得 成员 角色。",
                "登录提供方的 ml-admins 组成员每次登录时在此至少获得 管理员 角色。",
            ])  # fmt: skip
            expect(page.locator(".group-roles-leave")).to_have_text(
                "离开某个组的成员在下次登录时恢复到加入该组之前的角色，除非此后在这里改过其角色。"
            )
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "group-roles-zh-CN.png"), full_page=True)
        assert errors == [], errors
    finally:
        idp.groups = None
        srv.stop()


def test_group_roles_are_checked() -> None:
    from tracehouse.errors import ConfigError
    from tracehouse.settings import Settings

    sso = {"oidc_issuer": "https://idp.example", "oidc_client_id": "c", "oidc_client_secret": "s"}
    for rules, words in (("ml-team", "write group=organization:ROLE"), ("ml-team=Acme", "write group="),
                         ("=Acme:ADMIN", "write group="), ("x=:ADMIN", "write group="),
                         ("x=Acme/:MEMBER", "write group="), ("x=Acme/shop:OWNER", "OWNER is an organization role"),
                         ("x=Acme:BOSS", "unknown role"), ("ok=Acme:VIEWER; x=Acme", "'x=Acme'")):  # fmt: skip
        with pytest.raises((ValueError, ConfigError), match=words):
            Settings(**sso, oidc_group_roles=rules)
    with pytest.raises((ValueError, ConfigError), match="needs single sign-on"):
        Settings(oidc_group_roles="ml-team=Acme:MEMBER")
    assert Settings(**sso, oidc_group_roles=" ; \n").oidc_group_roles.strip(" ;\n") == ""
