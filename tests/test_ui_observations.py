"""The Observations tab in chromium: every span one by one, as Langfuse lists observations, from
Dify's calls (langfuse SDK 2.x) and an OpenTelemetry trace; filtered by type, model and name, a
page at a time, each linking to its span in the trace view; another project's spans never shown;
the page in Chinese. Garbage in the URL is an error said in words, not a broken page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.conftest import start_server
from tests.langfuse_helpers import basic, event, run_sdk
from tests.test_ui import ARTIFACTS, api, browser_page, new_key
from tests.test_ui_first_run import signed_up


def test_observations_tab(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "observations")
            dify = run_sdk("2", "v2_dify.py", srv.api_url, pair)
            # An event in that trace (a point in time, as the SDKs' event() sends it): no duration.
            now = datetime.now(UTC).isoformat()
            marker = event("event-create", {"id": "evt-1", "traceId": dify["trace_id"], "name": "user-clicked",
                                            "startTime": now}, timestamp=now)  # fmt: skip
            sent = httpx.post(f"{srv.api_url}/api/public/ingestion", json={"batch": [marker]}, headers=basic(pair))
            assert sent.status_code == 207 and sent.json()["successes"], sent.text
            # Another project's generation: never among this project's observations.
            status, other = api(page, "POST", "/api/v1/organizations/default/projects", {"name": "other"})
            assert status == 201
            other_pair = new_key(page, "other", project=other["id"])
            run_sdk("2", "v2_dify.py", srv.api_url, other_pair)

            page.goto(f"{srv.api_url}/project/default/traces")
            page.get_by_role("link", name="Observations").click()
            page.get_by_role("heading", name="Observations").wait_for()
            rows = page.locator("table.observations tbody tr")
            expect(rows.first).not_to_have_text("Loading…")
            names = rows.locator("td:nth-child(2)").all_inner_texts()
            assert "LLM" in names and "workflow" in names, names
            assert names.count("LLM") == 1, names  # this project's Dify run only
            assert "message" not in names  # the trace itself is no observation
            llm = rows.filter(has_text="LLM")
            expect(llm.locator("td").nth(2)).to_have_text("GENERATION")
            expect(llm.locator("td").nth(3)).to_have_text("gpt-4o")
            expect(llm.locator("td").nth(5)).to_have_text("120 / 30")
            page.screenshot(path=str(ARTIFACTS / "observations.png"))
            # The event's latency is none, not "<1 ms" (so on its trace's page, below).
            expect(rows.filter(has_text="user-clicked").locator("td").nth(4)).to_have_text("–")

            # By type: generations only.
            page.get_by_label("Type").select_option("GENERATION")
            expect(rows.locator("td:nth-child(3)")).to_have_text(["GENERATION"] * rows.count())
            assert "type=GENERATION" in page.url
            # By model and name, in the URL; none match: said so.
            page.get_by_label("Model").fill("no-such-model")
            page.get_by_role("button", name="Apply").click()
            expect(page.locator("table.observations")).to_contain_text("No observations match in this range.")
            page.get_by_label("Model").fill("gpt-4o")
            page.get_by_label("Name").fill("LLM")
            page.get_by_role("button", name="Apply").click()
            expect(rows).to_have_count(1)

            # Exported: what the filters select, with its input.
            page.get_by_text("Export", exact=True).click()
            with page.expect_download() as download:
                page.get_by_role("link", name="CSV (spreadsheets)").click()
            exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
            assert [(r["name"], r["model"], r["input_tokens"]) for r in exported] == [("LLM", "gpt-4o", "120")]
            assert "Weather?" in exported[0]["input"] and download.value.suggested_filename.startswith("observations-")

            # To the span in its trace.
            rows.first.get_by_role("link", name="LLM").click()
            page.locator(".panel").get_by_role("heading", name="LLM").wait_for()
            assert dify["trace_id"].replace("-", "") in page.url.replace("-", "")
            clicked = page.locator("[role=treeitem]").filter(has_text="user-clicked")
            expect(clicked.locator(".dur")).to_have_text("–")
            clicked.click()
            expect(page.locator(".panel p.muted").first).to_have_text("EVENT · –")

            # A page at a time.
            page.goto(f"{srv.api_url}/project/default/observations?limit=1")
            expect(rows).to_have_count(1)
            links = rows.locator("td:nth-child(2) a")
            first_page = {a.get_attribute("href") for a in links.all()}
            page.get_by_role("button", name="Next page").click()
            expect(page.get_by_role("button", name="First page")).to_be_visible()
            assert "cursor=" in page.url
            second_page = {a.get_attribute("href") for a in links.all()}
            assert second_page and not first_page & second_page, (first_page, second_page)

            # Text in the input or output: the generation that was asked about the weather.
            page.goto(f"{srv.api_url}/project/default/observations")
            page.get_by_label("Search input and output").fill("weather?")
            page.get_by_role("button", name="Apply").click()
            page.wait_for_url("**search=weather*")
            expect(rows).to_have_count(1)
            expect(rows.first.locator("td").nth(1)).to_have_text("LLM")

            # A custom range, in the URL: a day before the spans holds none; from then on, all.
            page.goto(f"{srv.api_url}/project/default/observations")
            page.get_by_label("Time range").select_option("custom")
            page.get_by_label("From").fill("2020-01-01T00:00")
            page.get_by_label("To").fill("2020-01-02T00:00")
            page.get_by_role("button", name="Apply").click()
            page.wait_for_url("**range=custom*")
            expect(page.locator("table.observations")).to_contain_text("No observations match in this range.")
            page.get_by_label("To").fill("")
            page.get_by_role("button", name="Apply").click()
            expect(rows.filter(has_text="LLM")).to_have_count(1)
            assert "from=2020" in page.url and "&to=" not in page.url, page.url

            # Garbage in the URL: the API's error, in words.
            page.goto(f"{srv.api_url}/project/default/observations?cursor=%%%garbage")
            expect(page.locator("table.observations [role=alert]")).to_contain_text("Could not load observations")

            # The project switcher keeps the tab: the other project's observations, its own only.
            page.goto(f"{srv.api_url}/project/default/observations")
            expect(rows.filter(has_text="LLM")).to_have_count(1)
            page.locator("#project-switch").select_option(label="other")
            page.wait_for_url(f"**/project/{other['id']}/observations")
            expect(rows.filter(has_text="LLM")).to_have_count(1)
            expect(page.locator("nav.tabs a.active")).to_have_text("Observations")

            # In Chinese: the tabs and the page.
            page.goto(f"{srv.api_url}/project/default/observations?lang=zh-CN")
            page.get_by_role("heading", name="观测").wait_for()
            expect(page.locator("nav.tabs a")).to_have_text(["追踪", "观测"])
            expect(rows.filter(has_text="LLM").locator("td").nth(2)).to_have_text("GENERATION")
            page.screenshot(path=str(ARTIFACTS / "i18n" / "zh-CN" / "observations.png"))
        assert [e for e in errors if "400" not in e] == [], errors
    finally:
        srv.stop()
