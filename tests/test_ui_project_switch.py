"""Switching project in chromium: from the moment another project is picked, nothing of the one
left stays on screen under the new project's name, even while the new page's first requests are
slow, nor comes back when the page left behind gets its answers late; the new project's traces, its
own only, in English and in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, Route, expect

from storage.projects import KeyPair
from tests.conftest import start_server
from tests.langfuse_helpers import basic
from tests.otlp_data import request
from tests.test_ui import api, browser_page, new_key
from tests.test_ui_first_run import signed_up

# Resolves once the page has run its pending tasks and drawn two frames.
A_TASK_AND_TWO_FRAMES = (
    "() => new Promise((r) => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(r))))"
)


def send_trace(otlp_url: str, pair: KeyPair, trace_id: bytes, name: str) -> None:
    now = time.time_ns()
    body = request([{"trace_id": trace_id, "name": name, "start": now, "end": now + 10**6}], {"service.name": "bot"})
    r = httpx.post(
        otlp_url + "/v1/traces",
        content=body.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", **basic(pair)},
    )
    assert r.status_code == 200, r.text


@contextmanager
def held_requests(page: Page, pattern: str) -> Iterator[list[Route]]:
    """Hold the page's requests to URLs matching ``pattern`` (listed) until the block ends; then
    they go on to the server."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(pattern, hold)
    try:
        yield held
    finally:
        page.unroute(pattern, hold)


def switch_with_slow_requests(page: Page, project_name: str, project_id: str, left_behind: str) -> None:
    """Pick ``project_name`` while the page's next requests are held: what was on screen is gone
    before any of them is answered."""
    with held_requests(page, "**/api/v1/**") as held:
        page.locator("#project-switch").select_option(label=project_name)
        page.wait_for_url(f"**/project/{project_id}/traces")
        expect(page.locator("#main")).not_to_contain_text(left_behind)
        assert held, "the switch made no request to hold"


def test_no_trace_of_the_project_left_stays_on_screen(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            status, other = api(page, "POST", "/api/v1/organizations/default/projects", {"name": "other"})
            assert status == 201, other
            theirs = new_key(page, "theirs", project=other["id"])
            send_trace(srv.otlp_http_url, new_key(page, "mine"), b"\x01" * 16, "default-only-trace")
            send_trace(srv.otlp_http_url, theirs, b"\x02" * 16, "other-only-trace")

            page.goto(f"{srv.api_url}/project/default/traces")
            page.get_by_role("link", name="default-only-trace").wait_for()
            switch_with_slow_requests(page, "other", other["id"], "default-only-trace")
            page.get_by_role("link", name="other-only-trace").wait_for()
            assert page.get_by_role("link", name="default-only-trace").count() == 0

            # And back, in Chinese.
            page.goto(f"{srv.api_url}/project/{other['id']}/traces?lang=zh-CN")
            page.get_by_role("heading", name="追踪").wait_for()
            page.get_by_role("link", name="other-only-trace").wait_for()
            switch_with_slow_requests(page, "default", "default", "other-only-trace")
            page.get_by_role("link", name="default-only-trace").wait_for()
            assert page.get_by_role("link", name="other-only-trace").count() == 0

            # A trace that answers late, after the user has gone on to the other project: the
            # other project's list stays, and its address (the trace view would add ?span=).
            trace = "01" * 16
            # (The held requests go on when the block ends, and their answers are awaited after.)
            with ExitStack() as answered, held_requests(page, f"**/api/v1/traces/{trace}**") as held:
                page.goto(f"{srv.api_url}/project/default/traces/{trace}")
                page.get_by_text("Loading trace…").wait_for()
                page.locator("#project-switch").select_option(label="other")
                page.get_by_role("link", name="other-only-trace").wait_for()
                assert len(held) == 2  # the trace and its log records
                for request in held:
                    url = request.request.url
                    answered.enter_context(page.expect_event("requestfinished", lambda r, url=url: r.url == url))
            # Answered, read, and a frame drawn since (when the trace view would have drawn it).
            page.evaluate(A_TASK_AND_TWO_FRAMES)
            assert page.url == f"{srv.api_url}/project/{other['id']}/traces"
            expect(page.locator("#main")).not_to_contain_text("default-only-trace")
            page.get_by_role("link", name="other-only-trace").wait_for()

            # A tab switches to the same tab: the annotation queues (a tab of Evaluations) to the
            # other project's queues, not its evaluations.
            page.goto(f"{srv.api_url}/project/default/annotation-queues")
            page.get_by_role("heading", name="Annotation queues").wait_for()
            page.locator("#project-switch").select_option(label="other")
            page.wait_for_url(f"**/project/{other['id']}/annotation-queues")
            page.get_by_role("heading", name="Annotation queues").wait_for()
        assert errors == [], errors
    finally:
        srv.stop()
