"""The UI in a real browser (Playwright driving Debian's chromium) against a real server."""

import shutil
from pathlib import Path

import pytest

from tests.conftest import Server, start_server
from tests.otel import provider

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def seeded_server(tmp_path: Path):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    srv = start_server(tmp_path / "data")
    tp = provider(OTLPSpanExporter(endpoint=srv.otlp_http_url + "/v1/traces"), service="ui-bot")
    tracer = tp.get_tracer("ui.test")
    with tracer.start_as_current_span("invoke_agent helper") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("user.id", "<script>alert(1)</script>")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 1000)
            chat.set_attribute("gen_ai.usage.output_tokens", 50)
            chat.set_attribute("gen_ai.response.time_to_first_chunk", 0.0001)
            chat.set_attribute(
                "gen_ai.input.messages",
                '[{"role":"user","parts":[{"type":"text","content":"<img src=x onerror=alert(2)> hi"}]}]',
            )
            chat.set_attribute(
                "gen_ai.output.messages", '[{"role":"assistant","parts":[{"type":"text","content":"Hello there"}]}]'
            )
        trace_id = format(root.get_span_context().trace_id, "032x")
    tp.force_flush()
    tp.shutdown()
    try:
        yield srv, trace_id
    finally:
        srv.stop()


def test_setup_traces_list_and_trace_view(seeded_server: tuple[Server, str]) -> None:
    from playwright.sync_api import sync_playwright

    srv, trace_id = seeded_server
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: ./dev test installs it with apt-get")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))

        page.goto(srv.api_url + "/")
        page.get_by_role("heading", name="Create the admin account").wait_for()
        page.get_by_label("Name").fill("Ada")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password (8+ characters)").fill("a very good password")
        page.get_by_role("button", name="Create account").click()

        page.get_by_role("heading", name="Traces").wait_for()
        page.get_by_role("link", name="invoke_agent helper").wait_for()
        assert "<script>alert(1)</script>" in page.locator("table.traces").inner_text()  # shown as text
        page.screenshot(path=str(ARTIFACTS / "traces.png"))

        page.get_by_placeholder("Model").focus()  # suggestions come from the API
        page.wait_for_function("document.querySelectorAll('#suggest-model option').length > 0")
        assert page.locator("#suggest-model option").first.get_attribute("value") == "gpt-4o"
        page.get_by_placeholder("Model").fill("no-such-model")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text("No traces in this range yet.").wait_for()
        assert "model=no-such-model" in page.url
        page.go_back()
        page.get_by_role("link", name="invoke_agent helper").click()

        page.get_by_role("tree").wait_for()
        assert page.locator(".row").count() == 2
        page.locator(".row", has_text="chat gpt-4o").click()
        panel = page.locator(".panel")
        panel.locator(".chat").get_by_text("Hello there").wait_for()
        assert "<img src=x onerror=alert(2)> hi" in panel.inner_text()
        assert "1,000" in panel.inner_text() and "$" in panel.inner_text()
        assert page.locator(".bar").count() == 2
        assert page.locator(".bar .ttft").count() == 1  # the generation's first-token marker
        page.screenshot(path=str(ARTIFACTS / "trace.png"))

        page.goto(f"{srv.api_url}/project/default/traces/{trace_id}")  # Dify's deep link
        page.get_by_role("heading", name="invoke_agent helper", exact=True).wait_for()
        browser.close()
    assert errors == []


def test_pages_dashboard_sessions_users_settings(seeded_server: tuple[Server, str]) -> None:
    import json
    import urllib.request

    from playwright.sync_api import sync_playwright

    srv, _ = seeded_server
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.api_url + "/dashboard")
        page.get_by_role("button", name="Continue without an account").click()  # open mode: no account needed
        page.get_by_role("heading", name="Dashboard").wait_for()
        page.locator("svg.chart rect").first.wait_for()
        shown_cost = page.locator('[data-stat="Cost"]').inner_text()
        shown_tokens = page.locator('[data-stat="Tokens"]').inner_text()
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        # the dashboard's numbers are the API's numbers (read now: creating a key below ends open mode)
        with urllib.request.urlopen(srv.api_url + "/api/v1/metrics/timeseries?interval=3600") as r:
            items = json.loads(r.read())["items"]
        assert shown_tokens == f"{sum(p['total_tokens'] for p in items):,}"
        assert shown_cost == "$0.003000"

        page.get_by_role("link", name="Users").click()
        page.get_by_role("heading", name="Users").wait_for()
        page.get_by_role("link", name="<script>alert(1)</script>").wait_for()
        page.get_by_role("link", name="Sessions").click()
        page.get_by_role("heading", name="Sessions").wait_for()
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("heading", name="API keys").wait_for()
        page.get_by_role("button", name="Create key pair").click()
        page.get_by_text("The secret key is shown only now").wait_for()
        assert "sk-th-" in page.locator(".created").inner_text()
        assert "Dify (Langfuse provider)" in page.locator(".created").inner_text()
        page.get_by_text("claude-sonnet-4").first.wait_for()  # the built-in price table
        page.screenshot(path=str(ARTIFACTS / "settings.png"))
        browser.close()
    assert errors == []
