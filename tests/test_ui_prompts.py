"""Prompts in a real browser: create a prompt in a folder, add a version, diff the two, move
``production`` (with its confirmation), then see the generation that used it with its version's
metrics, and follow it to the trace, which links back to the prompt."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import Server
from tests.test_ui import ARTIFACTS, browser_page
from tests.test_ui_first_run import api, server, sign_up  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "prompts"


def _ingest(srv: Server, pair: dict[str, str], batch: list[dict[str, object]]) -> None:
    token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
    request = urllib.request.Request(
        srv.api_url + "/api/public/ingestion",
        data=json.dumps({"batch": batch}).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        doc = json.loads(r.read())
    assert not doc["errors"], doc


def test_prompt_lifecycle_in_the_browser(server: Server, tmp_path: Path) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        page.goto(server.api_url + "/project/default/prompts")
        page.get_by_role("heading", name="No prompts yet").wait_for()
        expect(page.get_by_role("link", name="Prompts", exact=True)).to_have_attribute("aria-current", "page")

        # A new prompt in a folder, with a variable the editor finds as it is typed.
        page.get_by_role("button", name="New prompt").click()
        page.get_by_label("Prompt name").fill("support/answer")
        page.get_by_label("Prompt text").fill("Answer {{question}} politely.\nSign as {{agent}}.")
        expect(page.locator(".variables")).to_contain_text("question")
        expect(page.locator(".variables")).to_contain_text("agent")
        page.get_by_label("Config (JSON)").fill('{"model": "gpt-4o-mini", "temperature": 0.2}')
        page.get_by_label("Commit message").fill("first draft")
        page.get_by_role("button", name="Create prompt").click()
        page.get_by_role("heading", name="support/answer").wait_for()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        expect(page.locator(".page-head .muted")).to_have_text("text prompt · 1 version")  # not "1 versions"
        expect(page.get_by_label("Compare with version")).to_have_count(0)  # nothing to compare it with
        # Its address with the folder's slash typed as it is (the UI's links encode it): the same page.
        page.goto(server.api_url + "/project/default/prompts/support/answer")
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        page.go_back()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()

        # A second version from the editor, prefilled with the first.
        page.get_by_role("button", name="New version").click()
        expect(page.get_by_label("Prompt text")).to_have_value("Answer {{question}} politely.\nSign as {{agent}}.")
        page.get_by_label("Prompt text").fill("Answer {{question}} briefly and politely.\nSign as {{agent}}.")
        page.get_by_label("Commit message").fill("shorter answers")
        page.get_by_role("button", name="Save new version").click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        expect(page.locator(".versions a.version")).to_have_count(2)
        expect(page.locator(".page-head .muted")).to_have_text("text prompt · 2 versions")

        # The diff between the two versions.
        page.get_by_label("Compare with version").select_option("1")
        expect(page.locator("pre.diff .del")).to_have_text("- Answer {{question}} politely.")
        expect(page.locator("pre.diff .add")).to_have_text("+ Answer {{question}} briefly and politely.")
        page.screenshot(path=str(SHOTS / "diff.png"))

        # Move production to version 2: a confirmation names what SDKs will get.
        page.goto(server.api_url + "/project/default/prompts/support%2Fanswer?version=2")
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_label("Labels", exact=True).fill("production, staging")
        page.get_by_role("button", name="Save labels").click()
        expect(page.locator("a.version.active .chip.production")).to_have_text("production")
        assert dialogs and "production" in dialogs[0] and "version 2" in dialogs[0]
        # Tags, the prompt's: set here (the editor had none), shown in the list and its filter.
        page.get_by_label("Tags", exact=True).fill("support, faq")
        page.get_by_role("button", name="Save tags").click()
        expect(page.get_by_label("Tags", exact=True)).to_have_value("faq, support")
        expect(page.locator(".page-head .chip.tag")).to_have_count(2)

        # A generation that used version 2, with a score, sent as Dify and the 2.x SDK send it.
        status, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "prompts"})
        assert status == 201, pair
        trace_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        stamp = now.isoformat().replace("+00:00", "Z")
        _ingest(
            server,
            pair,
            [
                {
                    "id": str(uuid.uuid4()),
                    "type": "trace-create",
                    "timestamp": stamp,
                    "body": {"id": trace_id, "name": "support-bot", "timestamp": stamp},
                },
                {
                    "id": str(uuid.uuid4()),
                    "type": "generation-create",
                    "timestamp": stamp,
                    "body": {
                        "id": "gen-1",
                        "traceId": trace_id,
                        "name": "answer-llm",
                        "model": "gpt-4o-mini",
                        "startTime": stamp,
                        "endTime": stamp,
                        "promptName": "support/answer",
                        "promptVersion": 2,
                        "usage": {"input": 120, "output": 30},
                        "input": "q",
                        "output": "a",
                    },
                },
                {
                    "id": str(uuid.uuid4()),
                    "type": "score-create",
                    "timestamp": stamp,
                    "body": {
                        "id": "s-1",
                        "traceId": trace_id,
                        "observationId": "gen-1",
                        "name": "helpful",
                        "value": 0.75,
                    },
                },
            ],
        )
        time.sleep(0.2)
        page.reload()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        metrics = page.locator("table.traces", has=page.locator("th", has_text="p95"))
        expect(metrics.locator("tbody tr")).to_have_count(1)
        expect(metrics.locator("tbody tr td").first).to_have_text("v2")
        cells = metrics.locator("tbody tr td")
        expect(cells.nth(5)).to_have_text("120")  # input tokens
        expect(cells.nth(6)).to_have_text("30")
        expect(cells.nth(7)).to_have_text("$0.000036")  # gpt-4o-mini's price
        expect(metrics).to_contain_text("0.75 (1)")
        expect(page.get_by_role("link", name="answer-llm")).to_be_visible()
        page.screenshot(path=str(SHOTS / "prompt.png"), full_page=True)

        # Through to the trace, which links back to the prompt version.
        page.get_by_role("link", name="answer-llm").click()
        link = page.get_by_role("link", name="support/answer · version 2")
        link.wait_for()
        trace_url = page.url
        page.screenshot(path=str(SHOTS / "trace-link.png"))
        link.click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()

        # A generation that used version 1, then version 1 deleted: its use keeps a row, marked, and
        # the trace's link to it opens the newest version, said so (it showed version 2 unsaid).
        _ingest(
            server,
            pair,
            [
                {
                    "id": str(uuid.uuid4()),
                    "type": "generation-create",
                    "timestamp": stamp,
                    "body": {
                        "id": "gen-old",
                        "traceId": trace_id,
                        "name": "old-llm",
                        "startTime": stamp,
                        "endTime": stamp,
                        "promptName": "support/answer",
                        "promptVersion": 1,
                    },
                },
            ],
        )
        time.sleep(0.2)
        page.goto(server.api_url + "/project/default/prompts/support%2Fanswer?version=1")
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        dialogs.clear()
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Delete this version").click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        expect(page.locator(".versions a.version")).to_have_count(1)
        assert dialogs == ['Delete version 1 of support/answer? SDKs asking for it will get "not found".']
        expect(page.get_by_role("button", name="Delete this version")).to_have_count(0)  # the last: Delete prompt
        page.goto(server.api_url + "/project/default/prompts/support%2Fanswer?version=1")
        expect(page.locator(".card.unstored")).to_contain_text("Version 1 of support/answer is not stored here")
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        expect(metrics.locator("tbody tr")).to_have_count(2)
        expect(metrics.locator("tbody tr").first.locator("td").first).to_have_text("v1 · not stored")
        assert "null" not in page.locator("main").inner_text()

        # The list: the folder, then the prompt in it with its labels.
        page.goto(server.api_url + "/project/default/prompts")
        page.get_by_role("link", name="support/").click()
        row = page.locator("tr", has=page.get_by_role("link", name="answer"))
        expect(row).to_contain_text("production")
        expect(row.locator(".chip.tag")).to_have_text(["faq", "support"])
        expect(row.locator("td").nth(2)).to_have_text("1")
        page.screenshot(path=str(SHOTS / "list.png"))

        # The prompt deleted whole: the trace's link opens a page of its use (an error page before),
        # and a writer creates it again from there.
        row.get_by_role("link", name="answer").click()
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Delete prompt").click()
        page.get_by_role("heading", name="No prompts yet").wait_for()
        assert dialogs[-1] == 'Delete support/answer? SDKs asking for it will get "not found".'
        page.goto(trace_url)
        page.get_by_role("link", name="support/answer · version 2").click()
        expect(page.locator(".card.unstored")).to_contain_text("This project holds no prompt named support/answer")
        expect(metrics.locator("tbody tr")).to_have_count(2)
        expect(metrics.locator("tbody tr").nth(1).locator("td").first).to_have_text("v2 · not stored")
        expect(page.get_by_role("heading", name="Observations that used version 2")).to_be_visible()
        expect(page.get_by_role("link", name="answer-llm")).to_be_visible()
        assert "null" not in page.locator("main").inner_text()
        page.screenshot(path=str(SHOTS / "unstored.png"), full_page=True)
        page.get_by_role("button", name="Create it here").click()
        page.get_by_label("Prompt text").fill("Answer {{question}}")
        page.get_by_role("button", name="Create prompt").click()
        expect(page.locator(".card.unstored")).to_have_count(0)
        expect(page.get_by_text("text prompt · 1 version")).to_be_visible()
        expect(metrics.locator("tbody tr").first.locator("td").first).to_have_text("v1 · not stored")
    assert not errors, errors
