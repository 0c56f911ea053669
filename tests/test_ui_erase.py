"""Deleting stored data from the pages that show it, in chromium: a trace from its view, a session
from its page, a user's traces from the Users page; each asked once more, each gone from the store
and the lists; a member, who may not delete data, sees no such button."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.conftest import start_server
from tests.test_ui import ARTIFACTS, api, browser_page, new_key
from tests.test_ui_first_run import PASSWORD, signed_up


def test_delete_a_trace_a_session_and_a_users_data(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    errors: list[str] = []
    try:
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "erase")
            at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
            traces = {
                "a1": ("s1", "u1"),
                "a2": ("s1", "u1"),
                "c": ("s2", "u2"),
                "d": ("s3", "u3"),
                "keep": ("s4", "u4"),
            }
            batch = [{"id": f"e-{t}", "type": "trace-create", "timestamp": at,
                      "body": {"id": f"trace-{t}", "name": f"chat {t}", "sessionId": s, "userId": u, "timestamp": at}}
                     for t, (s, u) in traces.items()]  # fmt: skip
            r = httpx.post(f"{srv.api_url}/api/public/ingestion", json={"batch": batch},
                           auth=(pair.public_key, pair.secret_key))  # fmt: skip
            assert r.status_code == 207 and not r.json()["errors"], r.text

            def stored(trace: str) -> bool:  # through Langfuse's read API (the page's console stays clean)
                got = httpx.get(
                    f"{srv.api_url}/api/public/traces/trace-{trace}", auth=(pair.public_key, pair.secret_key)
                )
                assert got.status_code in (200, 404), got.text
                return got.status_code == 200

            # A trace, from its view: asked first; declined, nothing happens.
            page.goto(f"{srv.api_url}/project/default/traces/trace-c")
            page.get_by_role("button", name="Delete", exact=True).wait_for()
            page.screenshot(path=str(ARTIFACTS / "trace-delete.png"))
            page.once("dialog", lambda d: d.dismiss())
            page.get_by_role("button", name="Delete", exact=True).click()
            assert stored("c")
            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
            page.get_by_role("button", name="Delete", exact=True).click()
            page.get_by_role("heading", name="Traces").wait_for()
            assert asked == ["Delete the trace chat c? Its spans, scores and logs are removed for good."]
            assert not stored("c") and stored("keep")
            # The list it lands on says what was done.
            expect(page.get_by_role("status")).to_have_text("The trace chat c is deleted.")
            expect(page.get_by_role("link", name="chat keep")).to_be_visible()
            page.get_by_placeholder("Name", exact=True).fill("chat keep")  # said once: gone on the next filter
            page.get_by_role("button", name="Apply").click()
            expect(page.get_by_role("status")).to_have_count(0)
            expect(page.get_by_role("link", name="chat keep")).to_be_visible()
            expect(page.get_by_role("link", name="chat c")).to_have_count(0)

            # A session, from its page: its two traces.
            page.goto(f"{srv.api_url}/project/default/sessions/s1")
            page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
            page.get_by_role("button", name="Delete", exact=True).click()
            page.get_by_role("heading", name="Sessions").wait_for()
            assert asked[-1] == "Delete the session s1 (2 traces), with the spans, scores and logs, for good?"
            assert not stored("a1") and not stored("a2") and stored("keep")
            expect(page.get_by_role("status")).to_have_text("The session s1 is deleted (2 traces).")
            expect(page.get_by_role("link", name="s4")).to_be_visible()
            expect(page.get_by_role("link", name="s1")).to_have_count(0)

            # A user's traces, from the Users page.
            page.goto(f"{srv.api_url}/project/default/users")
            row = page.locator("tr", has_text="u3")
            page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
            row.get_by_role("button", name="Delete data").click()
            expect(page.locator("tr", has_text="u3")).to_have_count(0)
            expect(page.locator("tr", has_text="u4")).to_have_count(1)
            expect(page.get_by_role("status")).to_have_text("The data of the user u3 is deleted (1 trace).")
            page.screenshot(path=str(ARTIFACTS / "user-deleted.png"))
            assert asked[-1] == "Delete every trace of the user u3, of any time, for good?"
            assert not stored("d") and stored("keep")

            # A member may not delete data: no button, and the API refuses (403).
            status, invited = api(page, "POST", "/api/v1/organizations/default/invitations",
                                  {"email": "mo@example.com", "role": "MEMBER"})  # fmt: skip
            assert status == 201, invited
            token = invited["url"].rsplit("/", 1)[1]
        with browser_page(errors) as member:
            member.goto(srv.api_url + "/")
            status, joined = api(member, "POST", f"/api/v1/invitations/{token}/accept",
                                 {"password": PASSWORD, "name": "Mo"})  # fmt: skip
            assert status in (200, 201), joined
            member.goto(f"{srv.api_url}/project/default/traces/trace-keep")
            member.get_by_role("button", name="Share").wait_for()
            assert member.get_by_role("button", name="Delete", exact=True).count() == 0
            member.goto(f"{srv.api_url}/project/default/users")
            member.locator("tr", has_text="u4").wait_for()
            assert member.get_by_role("button", name="Delete data").count() == 0
            csrf = next(c["value"] for c in member.context.cookies() if c["name"] == "th_csrf")
            refused = member.request.delete(f"{srv.api_url}/api/v1/settings/data/traces/trace-keep?project=default",
                                            headers={"X-CSRF-Token": csrf})  # fmt: skip
            assert refused.status == 403 and "delete" in refused.text(), refused.text()
        assert stored("keep")
    finally:
        srv.stop()
    assert errors == [], errors
