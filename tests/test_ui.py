"""The UI in a real browser (Playwright driving Debian's chromium) against a real server."""

import base64
import contextlib
import csv
import datetime as dt
import io
import json
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from storage import KeyPair
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


@contextlib.contextmanager
def browser_page(errors: list[str], locale: str = "en-US") -> Iterator[Page]:
    """A 1440x900 page in Debian's chromium whose language is ``locale`` (navigator.language and
    Accept-Language); console errors and page errors go to ``errors``."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: ./dev test installs it with apt-get")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale=locale)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()


def api(page: Page, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the API from the page, as its own scripts do (session cookie and CSRF header)."""
    return tuple(
        page.evaluate(
            """async ([method, path, body]) => {
                const csrf = (document.cookie.match(/(?:^|; )th_csrf=([^;]+)/) || [])[1] || "";
                const r = await fetch(path, { method, headers: { "Content-Type": "application/json",
                  "X-CSRF-Token": decodeURIComponent(csrf) }, body: body === null ? undefined : JSON.stringify(body) });
                return [r.status, await r.json().catch(() => null)];
            }""",
            [method, path, body],
        )
    )


def asked(page: Page, click: Callable[[], object], accept: bool) -> str:
    """The question (window.confirm) that ``click`` makes the page ask, answered yes or no."""
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.accept() if accept else d.dismiss()))
    click()
    for _ in range(50):  # the handler runs once the dialog's event reaches this side
        if questions:
            break
        page.wait_for_timeout(100)
    assert questions, "nothing was asked"
    return questions[0]


def new_key(page: Page, note: str, project: str = "default") -> KeyPair:
    """A key pair of ``project``, made from the page as the Settings page makes one."""
    status, key = api(page, "POST", "/api/v1/settings/keys", {"project": project, "note": note})
    assert status == 201, key
    return KeyPair(public_key=key["public_key"], secret_key=key["secret_key"], project_id=project)


@pytest.fixture
def seeded_server(tmp_path: Path):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    srv = start_server(tmp_path / "data")
    tp = provider(OTLPSpanExporter(endpoint=srv.otlp_http_url + "/v1/traces"), service="ui-bot")
    tracer = tp.get_tracer("ui.test")
    with tracer.start_as_current_span("invoke_agent helper") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("user.id", "<script>alert(1)</script>")
        root.set_attribute("session.id", "sess-ui")
        root.set_attribute("tag.tags", ["beta"])
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
        with tracer.start_as_current_span('<img src=x onerror="alert(3)">') as evil:  # a hostile span name
            evil.set_attribute("note", "<script>alert(4)</script>")
            evil.set_attribute("output.value", '{"role": "assistant", "content": "one message"}')  # not a list
            evil.set_attribute("note.json", '{"q": "\\u6211\\u53ef"}')  # Python's json.dumps of "我可"
        trace_id = format(root.get_span_context().trace_id, "032x")
    tp.force_flush()
    tp.shutdown()
    try:
        yield srv, trace_id
    finally:
        srv.stop()


def test_setup_traces_list_and_trace_view(seeded_server: tuple[Server, str]) -> None:

    srv, trace_id = seeded_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        page.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))

        page.goto(srv.api_url + "/")
        page.get_by_role("heading", name="Create the admin account").wait_for()
        page.get_by_label("Name").fill("Ada")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password (8+ characters)").fill("a very good password")
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("button", name="Skip for now").click()  # the first-run wizard: its own test

        page.get_by_role("heading", name="Traces").wait_for()
        page.get_by_role("link", name="invoke_agent helper").wait_for()
        assert "<script>alert(1)</script>" in page.locator("table.traces").inner_text()  # shown as text
        # Scores fill their column once the page is drawn: numeric ones averaged, others the newest.
        status, key = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "scores"})
        assert status == 201, key
        token = base64.b64encode(f"{key['public_key']}:{key['secret_key']}".encode()).decode()
        for body in (
            {"traceId": trace_id, "name": "quality", "value": 0.5},
            {"traceId": trace_id, "name": "quality", "value": 0.8},
            {"traceId": trace_id, "name": "<b>tone</b>", "value": "polite", "dataType": "CATEGORICAL"},
            {"traceId": trace_id, "name": "resolved", "value": 1, "dataType": "BOOLEAN"},
        ):
            sent = urllib.request.Request(
                srv.api_url + "/api/public/scores",
                data=json.dumps(body).encode(),
                headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(sent) as r:
                assert r.status == 200
        page.reload()
        cell = page.locator("td.score-cell")
        cell.locator(".score", has_text="quality").wait_for()
        assert cell.locator(".score").all_inner_texts() == ["<b>tone</b> polite", "quality 0.65", "resolved True"]
        page.screenshot(path=str(ARTIFACTS / "traces.png"))
        # Headers over numbers sit right, as their numbers do (they sat left).
        align = page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll("table.traces thead th")]
                .map((th) => [th.innerText.replace(/[▲▼]/g, "").trim(), getComputedStyle(th).textAlign]))"""
        )
        assert align["Cost"] == align["Latency"] == "right" and align["Name"] == "left", align

        page.get_by_placeholder("Model", exact=True).focus()  # suggestions come from the API
        page.wait_for_function("document.querySelectorAll('#suggest-model option').length > 0")
        assert page.locator("#suggest-model option").first.get_attribute("value") == "gpt-4o"
        page.get_by_placeholder("Search input and output").fill("Hello there")  # full text over the messages
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**search=Hello*")
        page.get_by_role("link", name="invoke_agent helper").wait_for()
        page.get_by_placeholder("Search input and output").fill("")
        page.get_by_placeholder("Model", exact=True).fill("no-such-model")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text("No traces match in this range.").wait_for()  # not "yet": a filter leaves them out
        assert "model=no-such-model" in page.url
        page.go_back()
        # Columns, sort and a custom range live in the URL.
        page.get_by_role("link", name="invoke_agent helper").wait_for()
        page.get_by_text("Columns").click()
        page.get_by_role("checkbox", name="Service").click()
        page.wait_for_url("**hide=*")
        assert not page.get_by_role("checkbox", name="Service").is_checked()
        assert "Service" not in page.locator("table.traces thead").inner_text()
        page.get_by_role("button", name="Cost").click()
        expect(page).to_have_url(re.compile(r"sort=total_cost"))
        assert page.locator("th[aria-sort=descending]").inner_text().startswith("Cost")
        page.get_by_label("Time range").select_option("custom")
        page.get_by_label("From").fill("2020-01-01T00:00")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**range=custom*")
        # The list as a file: the same filters, the root's whole input and output.
        page.get_by_text("Export", exact=True).click()
        with page.expect_download() as download:
            page.get_by_role("link", name="CSV (spreadsheets)").click()
        exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert [r["name"] for r in exported] == ["invoke_agent helper"] and exported[0]["session_id"] == "sess-ui"
        assert download.value.suggested_filename.startswith("traces-") and download.value.suggested_filename.endswith(
            ".csv"
        )
        # A laptop screen: nothing spills out sideways.
        page.set_viewport_size({"width": 1280, "height": 720})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # ... and the project's pages keep to one line of the header.
        assert page.evaluate("new Set([...document.querySelectorAll('#nav a')].map((a) => a.offsetTop)).size") == 1
        page.set_viewport_size({"width": 1440, "height": 900})
        page.get_by_role("link", name="invoke_agent helper").click()

        page.get_by_role("tree").wait_for()
        assert page.locator(".row").count() == 3
        expect(page.locator(".axis-row .label")).to_have_text("3 spans")
        # The trace's scores: a boolean as it was given, and who gave each (here the API).
        scores = page.locator(".panel ul.scores li")
        expect(scores.filter(has_text="resolved")).to_have_text("resolved: True · API")
        assert sorted(scores.all_inner_texts())[:3] == [
            "<b>tone</b>: polite · API",
            "quality: 0.5 · API",
            "quality: 0.8 · API",
        ]
        # Whose trace it is: links to the user's traces, the session and the tag's traces.
        facts = page.locator(".trace-facts")
        user_link = facts.get_by_role("link", name="<script>alert(1)</script>")
        assert "user_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E" in user_link.get_attribute("href")
        assert facts.get_by_role("link", name="sess-ui").get_attribute("href").endswith("/sessions/sess-ui")
        assert "tags=beta" in facts.get_by_role("link", name="beta").get_attribute("href")
        evil = page.locator(".row", has_text='<img src=x onerror="alert(3)">')  # the name, as text
        evil.click()
        assert "<script>alert(4)</script>" in page.locator(".panel").inner_text()
        page.locator(".panel .chat").get_by_text("one message").wait_for()  # one message, shown as a chat
        assert '{"q":"我可"}' in page.locator(".panel").inner_text()
        page.locator(".row", has_text="chat gpt-4o").click()
        panel = page.locator(".panel")
        panel.locator(".chat").get_by_text("Hello there").wait_for()
        assert "<img src=x onerror=alert(2)> hi" in panel.inner_text()
        assert "1,000" in panel.inner_text() and "$" in panel.inner_text()
        assert page.locator(".bar").count() == 3
        assert page.locator(".bar .ttft").count() == 1  # the generation's first-token marker
        page.screenshot(path=str(ARTIFACTS / "trace.png"))

        # Collapse and expand the tree, zoom the waterfall, move with the keyboard.
        page.locator(".row", has_text="invoke_agent helper").get_by_role("button", name="Collapse or expand").click()
        assert page.locator(".row", has_text="chat gpt-4o").is_hidden()
        page.locator(".row", has_text="invoke_agent helper").get_by_role("button", name="Collapse or expand").click()
        page.locator(".row", has_text="chat gpt-4o").wait_for()
        page.locator(".row", has_text="chat gpt-4o").click()
        page.get_by_role("button", name="Zoom to span").click()
        assert page.locator(".zoom-level").inner_text() != "1×"
        page.get_by_role("button", name="Reset").click()
        assert page.locator(".zoom-level").inner_text() == "1×"
        page.get_by_role("tree").press("ArrowUp")
        assert "invoke_agent helper" in page.locator(".row.selected").inner_text()
        assert "span=" in page.url  # a deep link to the selected span

        page.goto(f"{srv.api_url}/project/default/traces/{trace_id}")  # Dify's deep link
        page.get_by_role("heading", name="invoke_agent helper", exact=True).wait_for()
        page.locator(".trace-facts").get_by_role("link", name="sess-ui").click()
        page.get_by_role("heading", name="sess-ui").wait_for()
        # A mistyped page of a project: the UI's own answer, not the API's JSON 404.
        page.goto(f"{srv.api_url}/project/default/tracez")
        page.get_by_text("You have no access to this page, or it does not exist.").wait_for()
        page.get_by_role("link", name="Go to your projects").click()
        page.get_by_role("heading", name="Traces").wait_for()
    assert errors == []


def test_pages_dashboard_sessions_users_settings(seeded_server: tuple[Server, str]) -> None:
    import json
    import urllib.request

    srv, _ = seeded_server
    errors: list[str] = []
    with browser_page(errors) as page:
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(srv.api_url + "/dashboard")
        page.get_by_role("button", name="Continue without an account").click()  # open mode: no account needed
        page.get_by_role("heading", name="Dashboard").wait_for()
        page.locator("svg.chart rect").first.wait_for()
        # The organization switcher names the organization, not its id, in open mode too.
        expect(page.get_by_label("Organization").locator("option:checked")).to_have_text("Default")
        shown_cost = page.locator('[data-stat="Cost"]').inner_text()
        shown_tokens = page.locator('[data-stat="Tokens"]').inner_text()
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        # the dashboard's numbers are the API's numbers (read now: creating a key below ends open mode)
        with urllib.request.urlopen(srv.api_url + "/api/v1/metrics/timeseries?interval=3600") as r:
            items = json.loads(r.read())["items"]
        assert shown_tokens == f"{sum(p['total_tokens'] for p in items):,}"
        assert shown_cost == "$0.003000"

        assert page.locator("svg.chart").count() >= 5  # traces, observations, cost, tokens, error rate
        # Each chart says when: the times of four of its 24 hourly bars, the last one this hour.
        ticks = page.locator("svg.chart").first.locator("text.tick").all_text_contents()
        # (With their date when the 24 hours run over midnight.)
        tick = re.compile(r"([A-Z][a-z]{2} \d{1,2}, )?\d{1,2}:00\s(AM|PM)")
        assert len(ticks) == 4 and all(tick.fullmatch(x) for x in ticks), ticks
        # This hour's bucket (or the last one, if the hour turned since the page was drawn).
        hours = page.evaluate(
            "[0, 3600e3].map((back) => new Date(new Date(Date.now() - back).setMinutes(0))"
            ".toLocaleTimeString('en', {hour: 'numeric', minute: '2-digit'}))"
        )
        assert any(ticks[-1].endswith(hour) for hour in hours), (ticks, hours)
        assert page.get_by_role("link", name="gpt-4o").count() >= 1  # legends link to the filtered list
        page.get_by_role("link", name="Users", exact=True).click()
        page.get_by_role("heading", name="Users").wait_for()
        page.get_by_role("link", name="<script>alert(1)</script>").wait_for()
        page.get_by_role("columnheader", name="First seen").wait_for()
        page.get_by_label("Time range").select_option(label="Last 7 days")
        page.wait_for_url("**/users?seconds=604800*")
        page.get_by_role("link", name="<script>alert(1)</script>").wait_for()
        # Found by a part of the id, in any case; the search and order kept in the URL with the range.
        drawn = page.locator("main section[aria-busy=true]")  # a list loading for the last change
        expect(drawn).to_have_count(0)
        page.get_by_label("Find a user").fill("ALERT(1)")
        page.get_by_role("button", name="Find").click()
        expect(page).to_have_url(re.compile(r"q=ALERT"))  # (wait_for_url misses some same-page changes)
        expect(drawn).to_have_count(0)
        page.get_by_role("link", name="<script>alert(1)</script>").wait_for()
        page.get_by_label("Order").select_option(label="Highest cost first")
        expect(page).to_have_url(re.compile(r"sort=total_cost"))
        assert "seconds=604800" in page.url and "q=ALERT" in page.url
        expect(drawn).to_have_count(0)
        page.get_by_role("link", name="<script>alert(1)</script>").wait_for()
        page.get_by_label("Find a user").fill("nobody")
        page.get_by_label("Find a user").press("Enter")
        page.get_by_text("Nothing found for “nobody” in this range.").wait_for()
        page.get_by_role("link", name="Sessions", exact=True).click()
        page.get_by_role("heading", name="Sessions").wait_for()
        session = page.locator("table.traces tbody tr", has_text="sess-ui")
        assert [session.locator("td").nth(i).inner_text() for i in (3, 5, 6)] == ["1", "1,050", "$0.003000"]
        session.get_by_role("link", name="<script>alert(1)</script>").wait_for()  # its user, as text
        page.get_by_label("Time range").select_option(label="Last hour")
        page.wait_for_url("**seconds=3600*")
        page.locator("table.traces tbody tr", has_text="sess-ui").wait_for()
        expect(drawn).to_have_count(0)  # the list drawn for the last hour
        page.get_by_label("Find a session").fill("SESS")
        page.get_by_label("Find a session").press("Enter")
        expect(page).to_have_url(re.compile(r"q=SESS"))
        page.locator("table.traces tbody tr", has_text="sess-ui").wait_for()
        page.get_by_role("link", name="Settings", exact=True).click()
        page.get_by_role("heading", name="API keys").wait_for()
        # A per-project price override, then retention (before the key below ends open mode).
        page.get_by_label("Model name").fill("my-finetune")
        page.get_by_label("Match pattern (regex)").fill("^my-finetune")
        page.get_by_label("input $/1M").fill("1.5")
        page.get_by_label("output $/1M").fill("6")
        with page.expect_response(lambda r: "/api/v1/llm-connections" in r.url and r.request.method == "GET"):
            page.get_by_role("button", name="Add override").click()
        page.locator("tr", has_text="my-finetune").get_by_text("override").wait_for()
        # As numbers, not as the API's twelve-place decimals; whole placeholders (a field's only label).
        cells = page.locator("tr", has_text="my-finetune").locator("td").all_inner_texts()
        assert cells[1:6] == ["1.5", "6", "–", "–", "–"], cells
        assert page.evaluate(
            "[...document.querySelectorAll('.price-form input')].every((i) => i.scrollWidth <= i.clientWidth)"
            " && [...document.querySelectorAll('.price-form input')].every((i) => {"
            "  const c = document.createElement('canvas').getContext('2d'); c.font = getComputedStyle(i).font;"
            "  return c.measureText(i.placeholder).width < i.clientWidth; })"
        )
        # Deleting an override asks first: declined, it stays; accepted, the model's price is the table's.
        override = page.locator("tr", has_text="my-finetune")
        delete = override.get_by_role("button", name="Delete").click
        assert asked(page, delete, accept=False) == "Delete the price override of my-finetune?"
        expect(override).to_have_count(1)
        asked(page, delete, accept=True)
        expect(override).to_have_count(0)
        page.get_by_label("Retention days").fill("30")
        # A shorter retention deletes older data at once: asked first, and declined it changes nothing.
        question = asked(page, page.get_by_role("button", name="Save", exact=True).click, accept=False)
        assert question == "Keep 30 days of data? Everything older is deleted now, for good."
        [default] = [p for p in api(page, "GET", "/api/v1/settings/projects")[1]["items"] if p["id"] == "default"]
        assert default["retention_days"] == 0
        page.once("dialog", lambda d: d.accept())
        # The page renders again once its last section (model connections) has loaded.
        with page.expect_response(lambda r: "/api/v1/llm-connections" in r.url and r.request.method == "GET"):
            page.get_by_role("button", name="Save", exact=True).click()
        assert page.get_by_label("Retention days").input_value() == "30"
        expect(page.locator(".open-mode-note")).to_contain_text("The first key ends that")
        page.get_by_role("button", name="Create key pair").click()
        page.get_by_text("The secret key is shown only now").wait_for()
        assert "sk-th-" in page.locator(".created").inner_text()
        assert "Dify (Settings → Monitoring → Langfuse)" in page.locator(".created").inner_text()
        # Open mode ends with this key: the page says so instead of failing to read on without an
        # account (it showed "sign in to change settings" under the key, and "No key yet.").
        expect(page.get_by_text("Copy the secret key now: this server asks for an account")).to_be_visible()
        expect(page.get_by_text("No key yet.")).to_have_count(0)
        expect(page.get_by_text("sign in to change settings")).to_have_count(0)
        # The built-in price table, folded away under the project's overrides until asked for.
        assert page.get_by_role("cell", name="claude-sonnet-4", exact=True).is_hidden()
        page.get_by_text("Built-in prices (").click()
        page.get_by_role("cell", name="claude-sonnet-4", exact=True).wait_for()
        page.screenshot(path=str(ARTIFACTS / "settings.png"))
        page.get_by_role("link", name="Create the admin account").click()
        page.get_by_role("heading", name="Create the admin account").wait_for()
        expect(page.get_by_role("button", name="Continue without an account")).to_have_count(0)
        # The account made, its traces, not a wizard to make a key again.
        page.get_by_label("Name").fill("Ada")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password (8+ characters)").fill("a good password")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/project/default/traces")
        page.get_by_role("button", name="Sign out").wait_for()
    assert errors == []


def test_a_long_session_a_page_at_a_time_with_its_scores(tmp_path: Path) -> None:
    """An agent's session of 150 turns (Langfuse ingestion): the view counts all of them, shows 100,
    loads the rest on asking, and shows each turn's scores (those of the turns loaded later too)."""
    import httpx

    from tests.test_ui_first_run import signed_up

    srv = start_server(tmp_path / "data")
    errors: list[str] = []
    try:
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "session")
            base = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
            batch: list[dict[str, Any]] = []
            for i in range(150):
                at = (base + dt.timedelta(minutes=i)).isoformat()
                batch.append({"id": f"t{i}", "type": "trace-create", "timestamp": at, "body": {
                    "id": f"turn-{i:03d}", "name": f"turn {i}", "sessionId": "agent-run", "userId": "kim",
                    "timestamp": at, "input": f"step {i}?", "output": f"done {i}"}})  # fmt: skip
            # The first turn as chat messages: a list with content blocks in, one message object out.
            batch[0]["body"]["input"] = [{"role": "user", "content": [{"type": "text", "text": "step 0?"}]}]
            batch[0]["body"]["output"] = {"role": "assistant", "content": "done 0"}
            for i, value in ((0, 1), (149, 0)):
                score = {"id": f"score-{i}", "traceId": f"turn-{i:03d}", "name": "user-feedback", "value": value}
                batch.append({"id": f"s{i}", "type": "score-create", "timestamp": base.isoformat(), "body": score})
            r = httpx.post(f"{srv.api_url}/api/public/ingestion", json={"batch": batch},
                           auth=(pair.public_key, pair.secret_key))  # fmt: skip
            assert r.status_code == 207 and not r.json()["errors"], r.text
            page.goto(srv.api_url + "/sessions/agent-run")
            expect(page.locator(".session-totals")).to_have_text(re.compile(r"^150 traces · 0 tokens · .* · kim$"))
            expect(page.locator(".turn")).to_have_count(100)
            first = page.locator(".turn").first
            expect(first.locator(".score")).to_have_text("user-feedback 1")
            expect(first).to_contain_text("step 0?")
            expect(first.locator(".msg.role-assistant .part")).to_have_text("done 0")  # the message, not its JSON
            expect(first.locator(".msg.role-user .part")).to_have_text("step 0?")
            expect(first.locator(".msg.role-user .role")).to_have_text("User")
            assert page.locator(".turn", has_text="turn 99").locator(".score").count() == 0
            page.get_by_role("button", name="Load more").click()
            expect(page.locator(".turn")).to_have_count(150)
            expect(page.locator(".turn").last.locator(".score")).to_have_text("user-feedback 0")
            expect(page.get_by_role("button", name="Load more")).to_be_hidden()
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(ARTIFACTS / "session-long.png"))
            # The user's traces over the session's time, from the session.
            page.locator(".session-totals").get_by_role("link", name="kim").click()
            expect(page.locator("table.traces tbody tr")).to_have_count(50)
    finally:
        srv.stop()
    assert errors == []


def test_large_trace_first_paint_and_every_page_in_both_themes(seeded_server: tuple[Server, str]) -> None:
    import json
    import time

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    srv, _ = seeded_server
    # A 500-span agent run: the root, 19 retrievals, and 20 steps of a generation and 22 tool calls.
    tp = TracerProvider(resource=Resource.create({"service.name": "big-agent"}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=srv.otlp_http_url + "/v1/traces")))
    tracer = tp.get_tracer("ui.big")
    with tracer.start_as_current_span("invoke_agent planner") as root:
        root.set_attribute("session.id", "session-big")
        for n in range(19):
            with tracer.start_as_current_span(f"retrieve docs {n}"):
                pass
        for step in range(20):
            with tracer.start_as_current_span(f"step {step}"):
                with tracer.start_as_current_span("chat gpt-4o-mini") as chat:
                    chat.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                    chat.set_attribute("gen_ai.usage.input_tokens", 200)
                    chat.set_attribute("gen_ai.usage.output_tokens", 20)
                for tool in range(22):
                    with tracer.start_as_current_span(f"execute_tool t{tool}"):
                        pass
        big = format(root.get_span_context().trace_id, "032x")
    tp.force_flush()
    tp.shutdown()

    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(srv.api_url + "/traces")
        page.get_by_role("button", name="Continue without an account").click()
        page.get_by_role("heading", name="Traces").wait_for()

        paints = []
        for _ in range(3):
            started = time.monotonic()
            page.goto(f"{srv.api_url}/traces/{big}")
            page.wait_for_function("document.body.dataset.traceFirstPaintMs !== undefined")
            in_page = float(page.evaluate("document.body.dataset.traceFirstPaintMs"))
            page.wait_for_selector(".tree[data-complete=true]")
            paints.append(
                {"navigation_to_complete_ms": round((time.monotonic() - started) * 1000), "first_paint_ms": in_page}
            )
            page.evaluate("delete document.body.dataset.traceFirstPaintMs")
        assert page.locator(".row").count() == 500
        report = ARTIFACTS.parent / "ui-first-paint.json"
        report.write_text(json.dumps({"spans": page.locator(".row").count(), "runs": paints}, indent=2))
        print(f"\n500-span trace view: {paints}")
        page.screenshot(path=str(ARTIFACTS / "trace-500-spans.png"))

        for theme in ("light", "dark"):
            while page.locator("#theme").get_attribute("aria-label") != f"Theme: {theme}":
                page.locator("#theme").click()
            assert page.evaluate("document.documentElement.dataset.theme") == theme
            for name, path, ready in [
                ("traces", "/traces", "table.traces tbody a"),
                ("trace", f"/traces/{big}", ".tree[data-complete=true]"),
                ("dashboard", "/dashboard", "svg.chart rect"),
                ("sessions", "/sessions", "h1"),
                ("session", "/sessions/session-big", ".turn"),
                ("users", "/users", "h1"),
                ("logs", "/logs", "table.logs"),
                ("settings", "/settings", ".builtin-prices summary"),
            ]:
                page.goto(srv.api_url + path)
                page.wait_for_selector(ready)
                page.screenshot(path=str(ARTIFACTS / f"{name}-{theme}.png"))
                if name == "session":  # one trace: said in the singular
                    expect(page.locator("main p.muted").first).to_have_text(re.compile(r"^1 trace · 4,400 tokens · "))
    assert errors == []


def test_logs_beside_traces(tmp_path: Path) -> None:
    """A GenAI call sent in EVENT_ONLY mode (the span without its messages, the messages as an event
    record) and an application error log: the trace view shows the messages, the span's logs and
    marks on its bar; the logs page filters and links back to the trace."""
    import os
    import urllib.request

    from tests.test_otlp_logs import details_event, genai_span, log_request

    srv = start_server(tmp_path / "data")
    try:
        trace_id, span_id = os.urandom(16), os.urandom(8)
        import time

        start = time.time_ns() - 60 * 10**9
        bodies = [
            ("/v1/traces", genai_span(trace_id, span_id, start)),
            (
                "/v1/logs",
                log_request(
                    [
                        details_event(trace_id, span_id, start + 10**8),
                        {"trace_id": trace_id, "span_id": span_id, "time": start + 5 * 10**8, "severity": 17,
                         "severity_text": "ERROR", "body": "<b>upstream</b> timed out", "attrs": {"retry": 2}},
                    ]
                ).SerializeToString(),
            ),
        ]  # fmt: skip
        for path, body in bodies:
            req = urllib.request.Request(
                srv.otlp_http_url + path, data=body, headers={"Content-Type": "application/x-protobuf"}
            )
            with urllib.request.urlopen(req) as response:
                assert response.status == 200
        errors: list[str] = []
        with browser_page(errors) as page:
            page.goto(f"{srv.api_url}/traces/{trace_id.hex()}")
            page.get_by_role("button", name="Continue without an account").click()
            page.wait_for_selector(".tree[data-complete=true]")
            panel = page.locator("aside.panel")
            panel.get_by_role("heading", name="Logs (2)").wait_for()
            assert "hello" in panel.inner_text() and "Be kind." in panel.inner_text()  # messages from the event
            assert "<b>upstream</b> timed out" in panel.inner_text()  # a body is text, never HTML
            assert page.locator(".bar .log-mark").count() == 2 and page.locator(".bar .log-mark.err").count() == 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "trace-logs.png"))

            page.get_by_role("link", name="Logs").click()
            page.get_by_role("heading", name="Logs").wait_for()
            page.wait_for_selector("table.logs tbody tr td a")
            assert page.locator("table.logs tbody tr").count() == 2
            page.get_by_label("Lowest severity").select_option("17")
            page.get_by_role("button", name="Apply").click()
            page.wait_for_function("document.querySelectorAll('table.logs tbody tr').length === 1")
            assert "timed out" in page.locator("table.logs tbody").inner_text()
            assert "min_severity=17" in page.url
            page.screenshot(path=str(ARTIFACTS / "logs.png"))
            page.locator("table.logs tbody a").first.click()
            page.wait_for_selector(".tree[data-complete=true]")
            assert trace_id.hex() in page.url and span_id.hex() in page.url
        assert errors == []
    finally:
        srv.stop()
