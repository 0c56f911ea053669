"""The UI in English and in Simplified Chinese, in a real browser: every page in both languages
(screenshots at 1440x900, light theme), no English catalog string left on a Chinese page, the
default taken from the browser's language, ?lang= for links, and the switch in the top bar kept
with the account."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.otlp_data import request
from tests.test_ui import ARTIFACTS, browser_page, new_key
from tests.test_ui_first_run import PASSWORD, api, server, sign_in, sign_up, until_listed  # noqa: F401 (fixture)
from tests.test_ui_metrics import send_metrics
from tests.test_ui_prompts import _ingest
from ui.catalog import CATALOGS

SHOTS = ARTIFACTS / "i18n"
ZH = json.loads((CATALOGS / "zh-CN.json").read_text())
# English text a Chinese page must not show: every catalog string that has a translation of its own.
ENGLISH = {key.strip() for key, text in ZH.items() if key != text and len(key.strip()) > 1}

WALK = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    if (text && walker.currentNode.parentElement.closest("pre, code, .io") === null) out.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
    for (const name of ["placeholder", "title", "aria-label"]) {
      const value = (el.getAttribute(name) || "").trim();
      if (value) out.push(value);
    }
  }
  return out;
}"""


def seed(page: Page, srv: Server) -> dict[str, str]:
    """A project with a bit of everything, made as its people would: a trace in a session, a
    prompt, a dataset with an item, a score config, an annotation queue holding the trace and
    metrics from the OpenTelemetry SDK."""
    _, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "i18n"})
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    trace = uuid.uuid4().hex
    _ingest(srv, pair, [
        {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
         "body": {"id": trace, "name": "weather-bot", "timestamp": stamp, "sessionId": "conversation-42",
                  "userId": "customer-7@example.com", "input": "Wetter in Paris?", "output": "Sonnig.",
                  "tags": ["travel", "weather"]}},
        *({"id": str(uuid.uuid4()), "type": "score-create", "timestamp": stamp,
           "body": {"traceId": trace, "name": name, "value": value}} for name, value in
          (("user-feedback", 1), ("quality", 0.75), ("correctness", 0.5), ("answer-relevance", 0.9))),
        {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
         "body": {"id": f"g-{trace}", "traceId": trace, "name": "llm-call", "startTime": stamp, "endTime": stamp,
                  "model": "gpt-4o", "usage": {"input": 12, "output": 3}, "input": "Wetter?", "output": "Sonnig."}},
    ])  # fmt: skip
    assert api(page, "POST", "/api/v1/prompts?project=default", {"name": "greeter", "prompt": "Hi {{name}}"})[0] == 201
    skill = "---\nname: greeter\ndescription: Greets people warmly.\n---\n# Greeting\n"
    status, doc = api(
        page, "POST", "/api/v1/skills?project=default", {"files": [{"path": "SKILL.md", "content": skill}]}
    )
    assert status == 201, doc
    assert api(page, "POST", "/api/v1/datasets?project=default", {"name": "cities"})[0] == 200
    status, _ = api(page, "PUT", "/api/v1/dataset/items?project=default", {"datasetName": "cities", "input": "Oslo"})
    assert status == 200
    status, config = api(page, "POST", "/api/public/score-configs?project=default",
                         {"name": "helpful", "dataType": "BOOLEAN"})  # fmt: skip
    assert status == 200, config
    status, queue = api(page, "POST", "/api/public/annotation-queues?project=default",
                        {"name": "review", "scoreConfigIds": [config["id"]]})  # fmt: skip
    assert status == 200, queue
    status, _ = api(page, "POST", f"/api/public/annotation-queues/{queue['id']}/items?project=default",
                    {"objectId": trace, "objectType": "TRACE"})  # fmt: skip
    assert status == 200
    token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
    send_metrics(srv.otlp_http_url, {"Authorization": f"Basic {token}"})
    return {"trace": trace, "queue": queue["id"]}


def pages(ids: dict[str, str]) -> list[tuple[str, str]]:
    p = "/project/default"
    return [
        ("dashboard", f"{p}/dashboard"), ("traces", f"{p}/traces"), ("trace", f"{p}/traces/{ids['trace']}"),
        ("sessions", f"{p}/sessions"), ("session", f"{p}/sessions/conversation-42"), ("users", f"{p}/users"),
        ("prompts", f"{p}/prompts"), ("prompt", f"{p}/prompts/greeter"), ("playground", f"{p}/playground"),
        ("skills", f"{p}/skills"), ("skill", f"{p}/skills/greeter"),
        ("datasets", f"{p}/datasets"),
        ("dataset", f"{p}/datasets/cities"), ("dataset-runs", f"{p}/datasets/cities?tab=runs"),
        ("evaluations", f"{p}/evaluations"), ("annotation-queues", f"{p}/annotation-queues"),
        ("annotation-queue", f"{p}/annotation-queues/{ids['queue']}"), ("logs", f"{p}/logs"),
        ("metrics", f"{p}/metrics?metric=app_request_duration_seconds"),
        ("settings", f"{p}/settings"), ("account", "/account"), ("organization", "/organization/default/settings"),
        ("setup", "/setup"),
    ]  # fmt: skip


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    expect(page.locator("main")).not_to_contain_text("Loading")
    expect(page.locator("main")).not_to_contain_text("加载中")


def english_left(page: Page) -> list[str]:
    return sorted({text for text in page.evaluate(WALK) if text in ENGLISH})


def test_every_page_in_both_languages(server: Server) -> None:  # noqa: F811
    errors: list[str] = []
    with browser_page(errors) as page:
        page.emulate_media(color_scheme="light")
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        ids = seed(page, server)
        untranslated: dict[str, list[str]] = {}
        for lang in ("en", "zh-CN"):
            (SHOTS / lang).mkdir(parents=True, exist_ok=True)
            for name, path in pages(ids):
                page.goto(server.api_url + path + ("&" if "?" in path else "?") + f"lang={lang}")
                settle(page)
                assert page.evaluate("document.documentElement.lang") == lang
                page.screenshot(path=str(SHOTS / lang / f"{name}.png"), full_page=True)
                if lang == "zh-CN" and (left := english_left(page)):
                    untranslated[name] = left
        assert not untranslated, f"English left on Chinese pages: {untranslated}"
        # Spot checks that the pages are the right ones, in Chinese.
        page.goto(server.api_url + "/project/default/traces?lang=zh-CN")
        expect(page.locator("#nav")).to_contain_text("追踪")
        expect(page.locator("table.traces")).to_contain_text("weather-bot")
        expect(page.locator("table.traces th").nth(1)).to_contain_text("时间")
        # A laptop's screen: the list's columns fit, long names cut (whole on hover), in both languages.
        page.set_viewport_size({"width": 1280, "height": 800})
        for lang in ("en", "zh-CN"):
            page.goto(server.api_url + f"/project/default/traces?lang={lang}")
            page.locator("td.score-cell .score").first.wait_for()
            assert page.evaluate("(w => w.scrollWidth <= w.clientWidth)(document.querySelector('.table-wrap'))"), lang
    assert not errors, errors


def sign_up_in_chinese(page: Page, url: str) -> None:
    """The admin account made on the Chinese first-run page (li@example.com)."""
    page.goto(url + "/")
    page.get_by_label("名称").fill("Li")
    page.get_by_label("邮箱").fill("li@example.com")
    page.get_by_label("密码（至少 8 个字符）").fill(PASSWORD)
    page.get_by_role("button", name="创建账号", exact=True).click()


def test_default_from_the_browser_switch_and_account(server: Server) -> None:  # noqa: F811
    errors: list[str] = []
    with browser_page(errors, locale="zh-CN") as page:
        # Before sign-up: the browser's language decides, ?lang= overrides it for a link.
        page.goto(server.api_url + "/")
        page.get_by_role("heading", name="创建管理员账号").wait_for()
        page.goto(server.api_url + "/?lang=en")
        page.get_by_role("heading", name="Create the admin account").wait_for()
        sign_up_in_chinese(page, server.api_url)
        page.get_by_role("button", name="退出登录").wait_for()
        # The switch: English now, kept with the account.
        page.goto(server.api_url + "/project/default/traces")
        expect(page.locator("#nav")).to_contain_text("仪表盘")
        page.get_by_label("语言").select_option("en")
        expect(page.locator("#nav")).to_contain_text("Dashboard")
        assert api(page, "GET", "/api/v1/auth/me")[1]["user"]["locale"] == "en"
        page.get_by_label("Language").select_option("zh-CN")
        expect(page.locator("#nav")).to_contain_text("仪表盘")
        assert api(page, "GET", "/api/v1/auth/me")[1]["user"]["locale"] == "zh-CN"
        assert api(page, "PUT", "/api/v1/auth/preferences", {"locale": "klingon"})[0] == 400
        assert errors.pop() == "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    with browser_page(errors, locale="en-US") as page:
        # Another browser, in English: signed in, the account's choice wins.
        page.goto(server.api_url + "/")
        page.get_by_role("heading", name="Sign in").wait_for()
        page.get_by_label("Email").fill("li@example.com")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("wrong email or password")
        assert errors.pop() == "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="退出登录").wait_for()
        page.screenshot(path=str(SHOTS / "account-choice.png"))
        # The server's messages follow the page's language, not the browser's (en-US here).
        page.goto(server.api_url + "/organization/default/settings")
        page.get_by_label("新项目名称").fill("default")
        page.get_by_role("button", name="创建项目").click()
        expect(page.get_by_role("alert").first).to_contain_text("此组织中已有名为 'default' 的项目")
        page.screenshot(path=str(SHOTS / "server-message-zh.png"))
        assert errors.pop() == "Failed to load resource: the server responded with a status of 409 (Conflict)"
    with browser_page(errors, locale="zh-CN") as page:
        # The server's own messages come in the page's language too.
        page.goto(server.api_url + "/")
        page.get_by_role("heading", name="登录").wait_for()
        page.get_by_label("邮箱").fill("li@example.com")
        page.get_by_label("密码").fill("not the password")
        page.get_by_role("button", name="登录", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text("未登录：邮箱或密码错误")
        assert errors.pop() == "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    assert not errors, errors


def test_durations_below_a_millisecond_read_in_microseconds(server: Server) -> None:  # noqa: F811
    """A 56 µs span: its waterfall's axis and its duration in microseconds (every tick read
    "<1 ms" before), in both languages, and the list's latency the same (it read "<1 ms")."""
    errors: list[str] = []
    with browser_page(errors, locale="zh-CN") as page:
        sign_up_in_chinese(page, server.api_url)
        page.get_by_role("button", name="暂时跳过").click()
        key = new_key(page, "µs")
        start = time.time_ns() - 60 * 10**9
        body = request([{"trace_id": b"\x05" * 16, "name": "快速工具", "start": start, "end": start + 56_000}])
        token = base64.b64encode(f"{key.public_key}:{key.secret_key}".encode()).decode()
        post = urllib.request.Request(
            server.otlp_http_url + "/v1/traces",
            data=body.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Basic {token}"},
        )
        with urllib.request.urlopen(post, timeout=30) as r:
            assert r.status == 200
        until_listed(server.api_url, {"Authorization": f"Basic {token}"})
        page.goto(f"{server.api_url}/project/default/traces/{'05' * 16}")
        header = page.locator("main p.muted").first
        expect(header).to_contain_text("56 微秒")
        ticks = page.locator(".axis-row .ticks span").all_inner_texts()
        # Times reach the page as JSON numbers of nanoseconds (a double holds them to 256 ns), so
        # the ticks are chosen away from a rounding edge: 54 µs put them at 13.5 µs and flaked.
        assert ticks == ["0", "14 微秒", "28 微秒", "42 微秒"], ticks
        page.screenshot(path=str(SHOTS / "zh-CN" / "microseconds.png"))
        page.get_by_label("语言").select_option("en")
        expect(header).to_contain_text("56 µs")
        # The list's latency as the trace's, from its bounds: not "<1 ms" (its whole milliseconds).
        page.goto(f"{server.api_url}/project/default/traces")
        expect(page.locator("main table tbody tr").first).to_contain_text("56 µs")
    assert not errors, errors
