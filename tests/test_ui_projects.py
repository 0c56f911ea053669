"""A platform team's project from the browser: made in the organization's settings, renamed in its
own settings, then deleted there once its name is typed (its key refused from then on)."""

from __future__ import annotations

import os

from playwright.sync_api import expect

from tests.conftest import Server
from tests.otlp_data import request
from tests.test_ui import ARTIFACTS, api, browser_page, new_key
from tests.test_ui_first_run import server, signed_up  # noqa: F401 (fixture)
from tests.test_ui_org_keys import basic_status


def send_span(srv: Server, public: str, secret: str) -> int:
    body = request([{"trace_id": os.urandom(16), "name": "checkout"}]).SerializeToString()
    return basic_status(srv.otlp_http_url + "/v1/traces", public, secret, body, "application/x-protobuf")


def test_make_rename_and_delete_a_project(server: Server) -> None:  # noqa: F811
    errors: list[str] = []
    with browser_page(errors) as page:
        signed_up(page, server.api_url)
        page.goto(server.api_url + "/organization/default/settings")
        page.get_by_label("New project name").fill("shop")
        page.get_by_role("button", name="Create project").click()
        page.get_by_role("heading", name="Settings · shop").wait_for()
        project_id = page.url.split("/project/")[1].split("/")[0]
        pair = new_key(page, "checkout", project_id)
        assert send_span(server, pair.public_key, pair.secret_key) == 200

        # Renamed: the page and the header's project switcher say the new name; the id stays.
        page.get_by_label("Project name", exact=True).fill("shop-eu")
        page.get_by_role("button", name="Rename").click()
        page.get_by_role("heading", name="Settings · shop-eu").wait_for()
        expect(page.get_by_label("Project", exact=True).locator("option:checked")).to_have_text("shop-eu")
        assert project_id in page.url
        expect(page.locator("tr", has_text="Renamed a project")).to_contain_text("name: shop-eu")  # audit log

        # Deleted once its name is typed: the button waits for it, then the organization's
        # settings no longer list it, and its key is refused.
        delete = page.get_by_role("button", name="Delete project")
        expect(delete).to_be_disabled()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "project-settings.png"), full_page=True)
        page.get_by_label("Type the project name to confirm").fill("shop")
        expect(delete).to_be_disabled()
        page.get_by_label("Type the project name to confirm").fill("shop-eu")
        delete.click()
        page.get_by_role("heading", name="Organization · Default").wait_for()
        expect(page.get_by_role("status")).to_have_text("Project shop-eu is deleted with its data.")
        expect(page.get_by_role("cell", name="shop-eu", exact=True)).to_have_count(0)
        switcher = page.get_by_label("Project", exact=True)
        expect(switcher.locator("option", has_text="default")).to_have_count(1)
        expect(switcher.locator("option", has_text="shop-eu")).to_have_count(0)
        page.goto(server.api_url + "/")  # the last project seen is gone: another one opens
        page.wait_for_url("**/project/default/traces")
        assert not errors, errors  # the refusal asked for next shows as a failed load
        assert api(page, "GET", f"/api/v1/traces?project={project_id}")[0] in (403, 404)
        assert send_span(server, pair.public_key, pair.secret_key) == 401
