"""Skills in a real browser: a skill the langfuse 5.2 SDK published and a generation reported, from
the Prompts page's Skills tab to the skill's files and the observation that reported it, through to
the trace, which links back to the version; then a new skill made in the editor, a second version,
``production`` moved (with its confirmation), tags, and a version deleted."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from storage.skills import SKILLS_AVAILABLE
from tests.conftest import Server
from tests.langfuse_helpers import run_sdk
from tests.otel import exporter, provider
from tests.test_ui import ARTIFACTS, browser_page
from tests.test_ui_first_run import api, server, sign_up  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "skills"

GREETER = "---\nname: greeter\ndescription: Greets customers by name.\n---\n# Greeting\nSay hello.\n"


def test_skills_in_the_browser(server: Server, tmp_path: Path) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        status, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "skills"})
        assert status == 201, pair
        out = run_sdk("5", "v5_skills.py", server.api_url, SimpleNamespace(**pair))  # type: ignore[arg-type]
        # An agent pinned to version 2, which the script deleted, reports it over OTLP.
        token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
        tracing = provider(exporter("http", server, {"Authorization": f"Basic {token}"}))  # type: ignore[arg-type]
        with tracing.get_tracer("agent").start_as_current_span("pinned-agent") as span:
            span.set_attribute(SKILLS_AVAILABLE, '[{"name": "refund-policy", "version": 2}]')
        tracing.shutdown()

        # From the Prompts page's tabs to the skills: the SDK's skill with its production version.
        page.goto(server.api_url + "/project/default/prompts")
        page.get_by_role("link", name="Skills", exact=True).click()
        page.get_by_role("heading", name="Skills", exact=True).wait_for()
        expect(page.get_by_role("link", name="Prompts", exact=True)).to_have_attribute("aria-current", "page")
        row = page.locator("tr", has=page.get_by_role("link", name="refund-policy"))
        expect(row).to_contain_text("Decide refunds under the 2026 policy.")
        expect(row.locator(".chip.production")).to_have_text("production")
        expect(row.locator("td").nth(2)).to_have_text("1")  # version 2 was deleted
        page.screenshot(path=str(SHOTS / "list.png"))

        # The skill: its files (SKILL.md open, the guide's Chinese text as sent), and the generation
        # that reported version 1.
        row.get_by_role("link", name="refund-policy").click()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        expect(page.locator(".page-head .muted")).to_have_text("skill · 1 version")
        expect(page.locator("details.skill-file[open] pre")).to_contain_text("Up to 30 days.")
        guide = page.locator("details.skill-file", has=page.locator("code", has_text="references/guide.md"))
        guide.locator("summary").click()
        expect(guide.locator("pre")).to_contain_text("退款需经理批准。")
        reported = page.locator("table", has=page.locator("th", has_text="Version reported"))
        decide = reported.locator("tr", has=page.get_by_role("link", name="decide"))
        expect(decide).to_contain_text("version 1")
        usage = page.locator("table", has=page.locator("th", has_text="Cost / call"))
        expect(usage.locator("tbody tr")).to_have_count(2)
        expect(usage.locator("tbody tr").first.locator("td").first).to_have_text("v1")
        expect(usage.locator("tbody tr").first.locator("td").nth(1)).to_have_text("2")  # the generation and its span
        expect(usage.locator("tbody tr").nth(1).locator("td").first).to_have_text("v2 · not stored")
        page.screenshot(path=str(SHOTS / "skill.png"), full_page=True)
        assert "null" not in page.locator("main").inner_text()
        # The deleted version's link: the newest, said so, rather than an error.
        usage.get_by_role("link", name="v2").click()
        expect(page.locator(".card.unstored")).to_contain_text("Version 2 of refund-policy is not stored here")
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        page.go_back()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        expect(page.locator(".card.unstored")).to_have_count(0)

        # Through to the trace: the generation says which skills were available, linked.
        decide.get_by_role("link", name="decide").click()
        link = page.get_by_role("link", name="refund-policy · version 1")
        link.wait_for()
        assert out["trace_id"] in page.url
        expect(page.locator(".skills-link")).to_contain_text("tone")
        page.screenshot(path=str(SHOTS / "trace-link.png"))
        trace_url = page.url
        link.click()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()

        # A skill the agent reported that this project does not hold: what reported it, not an
        # error, and its SKILL.md started to store it here.
        page.goto(trace_url)
        page.locator(".skills-link").get_by_role("link", name="tone", exact=True).click()
        page.get_by_role("heading", name="tone", exact=True).wait_for()
        expect(page.locator(".page-head .muted")).to_have_text("not stored in this project")
        expect(page.locator(".card.unstored")).to_contain_text("This project holds no skill named tone.")
        reported = page.locator("table", has=page.locator("th", has_text="Version reported"))
        expect(reported.locator("tr", has=page.get_by_role("link", name="decide"))).to_contain_text("any version")
        usage = page.locator("table", has=page.locator("th", has_text="Cost / call"))
        expect(usage.locator("tbody tr td").first).to_have_text("any version")
        expect(usage.locator("tbody tr td").nth(1)).to_have_text("2")
        page.screenshot(path=str(SHOTS / "unstored.png"), full_page=True)
        page.get_by_role("button", name="Store it here").click()
        expect(page.get_by_label("File text").first).to_have_value(re.compile(r"^---\nname: tone\ndescription: "))
        page.get_by_label("File text").first.fill("---\nname: tone\ndescription: Warm and brief.\n---\nBe kind.\n")
        page.get_by_role("button", name="Save version").click()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        expect(page.locator(".skill-description")).to_have_text("Warm and brief.")
        # Stored now, its reports by name alone still count, beside its versions'.
        expect(usage.locator("tbody tr")).to_have_count(1)
        expect(usage.locator("tbody tr td").first).to_have_text("any version")

        # A new skill from the editor: SKILL.md's header names it; a supporting file beside it.
        page.goto(server.api_url + "/project/default/skills")
        page.get_by_role("button", name="New skill").click()
        page.get_by_label("File text").first.fill(GREETER)
        page.get_by_role("button", name="+ File").click()
        page.get_by_label("File path").nth(1).fill("examples/hello.md")
        page.get_by_label("File text").nth(1).fill("Hello, Ada!")
        page.get_by_label("Commit message").fill("first greeting")
        page.get_by_role("button", name="Save version").click()
        page.get_by_role("heading", name="greeter").wait_for()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        expect(page.locator(".skill-description")).to_have_text("Greets customers by name.")

        # A broken header is refused with the reason, and nothing is saved.
        page.get_by_role("button", name="New version").click()
        expect(page.get_by_label("File text").first).to_have_value(GREETER)
        page.get_by_label("File text").first.fill("no header")
        page.get_by_role("button", name="Save version").click()
        expect(page.locator(".skill-editor .error")).to_contain_text("YAML header")
        assert errors.pop() == "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        # The second version, then production moved to it.
        page.get_by_label("File text").first.fill(GREETER.replace("Say hello.", "Say hello by name."))
        page.get_by_role("button", name="Save version").click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        expect(page.locator(".page-head .muted")).to_have_text("skill · 2 versions")
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_label("Labels", exact=True).fill("production")
        page.get_by_role("button", name="Save labels").click()
        expect(page.locator("a.version.active .chip.production")).to_have_text("production")
        assert dialogs and "version 2" in dialogs[0]
        page.get_by_label("Tags", exact=True).fill("support, greetings")
        page.get_by_role("button", name="Save tags").click()
        expect(page.get_by_label("Tags", exact=True)).to_have_value("greetings, support")

        # Version 1 deleted: the list says one version, production on 2.
        page.get_by_role("link", name="v1").click()
        page.get_by_role("heading", name="Version 1", exact=True).wait_for()
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete this version").click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        expect(page.locator(".versions a.version")).to_have_count(1)
        page.goto(server.api_url + "/project/default/skills")
        row = page.locator("tr", has=page.get_by_role("link", name="greeter"))
        expect(row.locator(".chip.production")).to_have_text("production")
        expect(row.locator("td").nth(2)).to_have_text("1")
        expect(row).to_contain_text("support")

        # The project switcher keeps the Skills tab: the other project's skills, none of these.
        status, other = api(page, "POST", "/api/v1/organizations/default/projects", {"name": "second-app"})
        assert status in (200, 201), other
        page.reload()
        page.locator("#project-switch").select_option(other["id"])
        page.get_by_role("heading", name="No skills yet").wait_for()
        assert page.url.endswith(f"/project/{other['id']}/skills"), page.url
        expect(page.get_by_role("link", name="greeter")).to_have_count(0)

        # Back in the first project, the whole skill deleted from its page.
        page.locator("#project-switch").select_option("default")
        page.get_by_role("link", name="greeter").click()
        page.get_by_role("heading", name="Version 2", exact=True).wait_for()
        dialogs.clear()
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Delete skill").click()
        page.get_by_role("heading", name="Skills", exact=True).wait_for()
        expect(page.get_by_role("link", name="greeter")).to_have_count(0)
        assert dialogs == ['Delete greeter? Agents asking for it will get "not found".']
    assert not errors, errors
