"""An owner makes an organization-scoped key in the browser, automation uses it on Langfuse's
admin API, and revoking it in the browser ends it at once."""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request

from playwright.sync_api import expect

from tests.conftest import Server
from tests.test_ui import ARTIFACTS, browser_page
from tests.test_ui_first_run import server, sign_up, snippet_text  # noqa: F401 (fixture)


def basic_status(url: str, public: str, secret: str, body: bytes | None = None, content_type: str = "") -> int:
    """The HTTP status of a GET of ``url`` (a POST of ``body``) with the key pair as Basic auth."""
    token = base64.b64encode(f"{public}:{secret}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", **({"Content-Type": content_type} if content_type else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def admin_call(srv: Server, public: str, secret: str) -> int:
    return basic_status(srv.api_url + "/api/public/organizations/projects", public, secret)


def test_owner_makes_and_revokes_an_organization_key(server: Server) -> None:  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        page.goto(server.api_url + "/organization/default/settings")
        page.get_by_role("heading", name="Organization API keys").wait_for()
        expect(page.get_by_text("No organization key yet.")).to_be_visible()
        expect(page.get_by_text(re.compile(r"over SCIM 2\.0 at http://\S+/api/public/scim:"))).to_be_visible()
        page.get_by_label("Organization key note").fill("terraform")
        page.get_by_role("button", name="Create organization key").click()
        public = snippet_text(page, "Public key")
        secret = snippet_text(page, "Secret key")
        assert public.startswith("pk-th-org-") and secret.startswith("sk-th-org-")
        page.screenshot(path=str(ARTIFACTS / "organization-key.png"), full_page=True)
        assert admin_call(server, public, secret) == 200
        page.reload()
        # The key's row in its table (the audit log's rows below name the key too).
        row = page.locator("tr", has_text=public).filter(has_not_text="public_key:")
        expect(row).to_contain_text("terraform")
        expect(row).not_to_contain_text(secret)  # the secret is shown once, never listed
        page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Revoke").click()
        expect(row).to_contain_text("revoked")
        assert admin_call(server, public, secret) == 401
    assert not errors, errors


def test_a_project_key_is_listed_as_soon_as_it_is_made(server: Server) -> None:  # noqa: F811
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        page.goto(server.api_url + "/project/default/settings")
        page.get_by_role("heading", name="API keys").wait_for()
        expect(page.get_by_text("No key yet.")).to_be_visible()
        expect(page.locator(".open-mode-note")).to_have_count(0)  # an account: no open mode to end
        page.get_by_label("Key note").fill("dify-prod")
        page.get_by_role("button", name="Create key pair").click()
        public = snippet_text(page, "Public key")
        # Listed under its panel without a reload (the list said "No key yet." until one), the note
        # field emptied for the next key, and the panel waiting for its first trace.
        row = page.locator("tr", has_text=public).filter(has_not_text="public_key:")
        expect(row).to_contain_text("dify-prod")
        expect(row).to_contain_text("active")
        expect(page.get_by_text("No key yet.")).to_have_count(0)
        expect(page.get_by_label("Key note")).to_have_value("")
        page.get_by_text("Waiting for the first trace").wait_for()
        page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Revoke").click()
        expect(page.locator("tr", has_text=public).filter(has_not_text="public_key:")).to_contain_text("revoked")
    assert not errors, errors
