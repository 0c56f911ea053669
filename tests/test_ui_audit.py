"""The audit log in the browser: an admin's changes made in the UI (a key, the retention, a
trace deleted) and one made by automation with a key pair, listed in the project's settings and
on the organization's page, in English and Chinese; a member sees no log."""

from __future__ import annotations

import base64
import re
import urllib.request
import uuid

from playwright.sync_api import expect

from tests.conftest import Server
from tests.test_ui import ARTIFACTS, browser_page, new_key
from tests.test_ui_first_run import PASSWORD, api, server, sign_in, sign_up  # noqa: F401 (fixture)
from tests.test_ui_prompts import _ingest


def test_an_admin_reads_who_changed_what(server: Server) -> None:  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        pair = new_key(page, "automation")
        status, _ = api(page, "POST", "/api/v1/settings/projects/default/retention", {"days": 14})
        assert status == 200
        trace_id = uuid.uuid4().hex
        created = {"id": "e1", "type": "trace-create", "timestamp": "2026-12-01T10:00:00Z", "body": {"id": trace_id}}
        _ingest(server, {"public_key": pair.public_key, "secret_key": pair.secret_key}, [created])
        token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
        request = urllib.request.Request(
            server.api_url + f"/api/public/traces/{trace_id}", method="DELETE",
            headers={"Authorization": f"Basic {token}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200
        status, _ = api(page, "POST", "/api/v1/organizations/default/members",
                        {"email": "mo@example.com", "role": "MEMBER", "password": PASSWORD})  # fmt: skip
        assert status == 201

        page.goto(server.api_url + "/project/default/settings")
        page.get_by_role("heading", name="Audit log").wait_for()
        rows = page.locator(".audit-log tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(0)).to_contain_text("Deleted a trace")
        expect(rows.nth(0)).to_contain_text(f"API key {pair.public_key}")
        expect(rows.nth(0)).to_contain_text(trace_id)
        expect(rows.nth(1)).to_contain_text("Changed the retention")
        expect(rows.nth(1)).to_contain_text("ada@example.com")
        expect(rows.nth(1)).to_contain_text("days: 14")
        expect(rows.nth(2)).to_contain_text("Created an API key")
        expect(rows.nth(2)).to_contain_text(pair.public_key)
        expect(page.locator(".audit-log")).not_to_contain_text(pair.secret_key)
        page.screenshot(path=str(ARTIFACTS / "audit-log.png"), full_page=True)
        # Filtered by who, then by the kind of change
        page.get_by_label("Who (email or key)").fill(pair.public_key)
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows.nth(0)).to_contain_text("Deleted a trace")
        page.get_by_label("Who (email or key)").fill("")
        page.get_by_label("Change", exact=True).select_option("Changed the retention")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows.nth(0)).to_contain_text("days: 14")
        page.get_by_label("Who (email or key)").fill("nobody")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(".audit-log")).to_contain_text("No change matches these filters.")

        # The organization's page: the member added there too, with the project of each change.
        page.goto(server.api_url + "/organization/default/settings?lang=zh-CN")
        page.get_by_role("heading", name="审计日志").wait_for()
        org_rows = page.locator(".audit-log tbody tr")
        expect(org_rows).to_have_count(4)
        expect(org_rows.nth(0)).to_contain_text("添加了成员")
        expect(org_rows.nth(0)).to_contain_text("mo@example.com")
        expect(org_rows.nth(1)).to_contain_text("删除了追踪")
        expect(org_rows.nth(1)).to_contain_text(re.compile("Default|default"))
        page.get_by_label("修改", exact=True).select_option("添加了成员")
        page.get_by_role("button", name="筛选").click()
        expect(org_rows).to_have_count(1)
        expect(org_rows.nth(0)).to_contain_text("mo@example.com")
        page.screenshot(path=str(ARTIFACTS / "i18n" / "zh-CN" / "audit-log.png"), full_page=True)

        # A member: no log in the settings, and the API refuses.
        page.goto(server.api_url + "/organization/default/settings?lang=en")
        # Signed out only once the page has its data: a request still in flight then gets a 401,
        # which the browser logs as an error (seen once in CI).
        page.get_by_role("heading", name="Audit log").wait_for()
        page.wait_for_load_state("networkidle")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in").wait_for()
        sign_in(page, server.api_url, "mo@example.com", PASSWORD)
        page.goto(server.api_url + "/project/default/settings")
        page.get_by_role("heading", name=re.compile("Settings")).wait_for()
        expect(page.get_by_role("heading", name="Audit log")).to_have_count(0)
        assert not errors, errors  # the member's settings page asked for no log
        status, _ = api(page, "GET", "/api/v1/audit-log?project=default")
        assert status == 403
    assert len(errors) == 1 and "403" in errors[0], errors  # that refusal, and nothing else
