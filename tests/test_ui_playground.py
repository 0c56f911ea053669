"""The playground in chromium: a prompt version and a Dify generation (langfuse SDK 2.x) opened in
it, their variables filled, run against a local OpenAI-compatible model through the project's
connection; the model's error shown as it said it; a vision generation's image and an agent's
tools brought along and sent; the page in Chinese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from storage import KeyPair
from tests.conftest import start_server
from tests.fake_judge import threaded_fake_judge
from tests.langfuse_helpers import run_sdk
from tests.test_ui import ARTIFACTS, api, browser_page, new_key
from tests.test_ui_first_run import signed_up


def open_generation(page: Page, url: str, pair: KeyPair, batch: list[dict[str, object]], name: str) -> None:
    """Send ``batch`` through Langfuse's ingestion API, then open its generation ``name`` in the playground."""
    r = httpx.post(f"{url}/api/public/ingestion", json={"batch": batch}, auth=(pair.public_key, pair.secret_key))
    assert r.status_code == 207 and not r.json()["errors"], r.text
    page.goto(f"{url}/project/default/traces/{'a' * 32}")
    page.locator(".row", has_text=name).click()
    page.get_by_role("button", name="Open in playground").click()
    page.get_by_role("heading", name="Playground").wait_for()


def test_prompt_and_generation_in_the_playground(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with threaded_fake_judge() as model, browser_page(errors) as page:
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            signed_up(page, srv.api_url)
            # The playground before any connection says what it needs.
            page.goto(srv.api_url + "/project/default/playground")
            page.get_by_text("The playground needs a model connection").wait_for()
            assert page.get_by_role("button", name="Run", exact=True).count() == 0
            # Its link, and the evaluations page's, lead to the section where one is added.
            for path in ("/playground", "/evaluations"):
                page.goto(srv.api_url + "/project/default" + path)
                page.locator("p.muted", has_text="needs a model connection").get_by_role(
                    "link", name="Settings"
                ).click()
                page.wait_for_url("**/project/default/settings#model-connections")
                expect(page.get_by_role("heading", name="Model connections")).to_be_in_viewport()
            connection = {"provider": "local", "secretKey": "sk-play", "baseURL": model.url, "customModels": ["gpt-4o"]}
            assert api(page, "PUT", "/api/v1/llm-connections", connection)[0] == 200
            prompt = {
                "name": "weather",
                "type": "chat",
                "prompt": [
                    {"role": "system", "content": "You are {{persona}}."},
                    {"type": "placeholder", "name": "history"},
                    {"role": "user", "content": "Weather in {{city}}?"},
                ],
                "config": {"model": "gpt-4o-mini", "temperature": 0.2},
            }
            status, doc = api(page, "POST", "/api/v1/prompts?project=default", prompt)
            assert status == 201, doc

            # A prompt version, opened from its page: its messages, model and temperature.
            page.goto(srv.api_url + "/project/default/prompts/weather")
            page.get_by_role("button", name="Open in playground").click()
            page.get_by_role("heading", name="Playground").wait_for()
            assert page.get_by_role("link", name="weather · version 1").count() == 1
            page.get_by_text("The prompt's placeholders (1) are not sent").wait_for()
            expect(page.get_by_label("Placeholder name")).to_have_value("history")
            assert "null" not in page.locator("main").inner_text()
            expect(page.get_by_label("Message")).to_have_count(2)
            expect(page.get_by_label("Model", exact=True)).to_have_value("gpt-4o-mini")
            expect(page.get_by_label("Temperature")).to_have_value("0.2")
            page.get_by_label("persona").fill("a pilot")
            page.get_by_label("city").fill("Oslo")
            page.get_by_role("button", name="Run", exact=True).click()
            output = page.locator(".playground-output")
            expect(output).to_contain_text("looks right")
            expect(output).to_contain_text("120 → 15 tokens")
            assert model.requests[-1]["body"]["stream"] is True
            # A slow model: its answer shows while it writes, before its usage is known.
            model.behaviour = ["slow-stream", "good"]
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output.locator("pre.answer.writing")).to_have_text(re.compile(r'^\{"reasoning'))
            expect(output).not_to_contain_text("tokens")
            expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
            expect(output).to_contain_text("120 → 15 tokens", timeout=20_000)
            expect(output.locator("pre.answer")).to_have_text('{"reasoning": "looks right", "score": 0.8}')
            sent = model.requests[-1]["body"]
            assert sent["messages"] == [
                {"role": "system", "content": "You are a pilot."},
                {"role": "user", "content": "Weather in Oslo?"},
            ]
            assert (sent["model"], sent["temperature"]) == ("gpt-4o-mini", 0.2) and "max_tokens" not in sent
            page.screenshot(path=str(ARTIFACTS / "playground.png"))
            # Edited and run again; then the provider's error, as it said it.
            page.get_by_label("Message").last.fill("And tomorrow in {{city}}?")
            page.get_by_label("Max tokens").fill("50")
            model.behaviour = ["429"]
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output).to_contain_text("Rate limit reached")
            assert model.requests[-1]["body"]["messages"][-1]["content"] == "And tomorrow in Oslo?"
            assert model.requests[-1]["body"]["max_tokens"] == 50
            model.behaviour = ["good"]
            # A reload comes back to what was tried.
            page.reload()
            expect(page.get_by_label("Message").last).to_have_value("And tomorrow in {{city}}?")
            expect(page.get_by_label("city")).to_have_value("Oslo")
            # Side by side with another model: both answer, each with its own settings.
            page.get_by_role("button", name="+ Compare with another model").click()
            page.get_by_label("Model 2").fill("gpt-4o")
            page.locator(".model-panel").nth(1).get_by_label("Temperature").fill("0.9")
            asked_before = len(model.requests)
            page.get_by_role("button", name="Run", exact=True).click()
            outputs = page.locator(".playground-output")
            expect(outputs).to_have_count(2)
            for i, chosen in enumerate(("gpt-4o-mini", "gpt-4o")):
                expect(outputs.nth(i)).to_contain_text("120 → 15 tokens")
                expect(outputs.nth(i).locator("h3")).to_have_text(f"Output · local / {chosen}")
            compared = sorted((r["body"]["model"], r["body"].get("temperature")) for r in model.requests[asked_before:])
            assert compared == [("gpt-4o", 0.9), ("gpt-4o-mini", 0.2)]
            page.screenshot(path=str(ARTIFACTS / "playground-compare.png"), full_page=True)
            # Kept on a reload; removed again.
            page.reload()
            expect(page.get_by_label("Model 2")).to_have_value("gpt-4o")
            page.locator(".model-panel").nth(1).get_by_role("button", name="Remove").click()
            expect(outputs).to_have_count(1)
            # What was tried, saved as the prompt's next version: placeholder in place, settings in its config.
            page.get_by_role("button", name="Save as a new version of weather").click()
            page.get_by_role("heading", name="Version 2", exact=True).wait_for()
            status, saved = api(page, "GET", "/api/v1/prompt?name=weather&project=default")
            v2 = next(v for v in saved["versions"] if v["version"] == 2)
            assert v2["prompt"] == [
                {"role": "system", "content": "You are {{persona}}."},
                {"type": "placeholder", "name": "history"},
                {"role": "user", "content": "And tomorrow in {{city}}?"},
            ]
            assert v2["config"] == {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 50}
            assert v2["commitMessage"] == "From the playground"

            # A generation of a trace Dify sent: its messages, model and parameters.
            pair = new_key(page, "dify")
            dify = run_sdk("2", "v2_dify.py", srv.api_url, pair)
            page.goto(f"{srv.api_url}/project/default/traces/{dify['trace_id']}")
            page.locator(".row", has_text="LLM").click()
            page.locator(".panel").get_by_role("heading", name="LLM").wait_for()
            assert page.locator(".row", has_text="workflow").count() == 1
            page.screenshot(path=str(ARTIFACTS / "playground-from-generation.png"))
            page.get_by_role("button", name="Open in playground").click()
            page.get_by_role("heading", name="Playground").wait_for()
            expect(page.get_by_label("Message")).to_have_count(2)
            expect(page.get_by_label("Message").first).to_have_value("Be brief.")
            expect(page.get_by_label("Model", exact=True)).to_have_value("gpt-4o")
            expect(page.get_by_label("Max tokens")).to_have_value("512")
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output).to_contain_text("looks right")
            sent = model.requests[-1]["body"]
            assert [m["content"] for m in sent["messages"]] == ["Be brief.", "Weather?"]
            assert [m["role"] for m in sent["messages"]] == ["system", "user"]
            assert (sent["model"], sent.get("temperature"), sent["max_tokens"]) == ("gpt-4o", 0.2, 512), sent
            # Back to the generation it came from.
            page.get_by_role("link", name="LLM").click()
            page.locator(".panel").get_by_role("heading", name="LLM").wait_for()

            # A vision generation (SDK 5.x uploaded its image): the image comes along and is sent.
            vision = run_sdk("5", "media.py", srv.api_url, pair)
            page.goto(f"{srv.api_url}/project/default/traces/{vision['trace_id']}")
            page.locator(".row", has_text="vision").click()
            page.get_by_role("button", name="Open in playground").click()
            page.get_by_role("heading", name="Playground").wait_for()
            expect(page.get_by_label("Message")).to_have_value("What is in this picture?")
            image = page.locator(".playground-images img.media-image")
            expect(image).to_have_count(1)
            page.wait_for_function("document.querySelector('.playground-images img').naturalWidth > 0")
            page.screenshot(path=str(ARTIFACTS / "playground-image.png"))
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output).to_contain_text("looks right")
            [user] = model.requests[-1]["body"]["messages"]
            assert user["content"] == [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{vision['png']}"}},
            ], user
            # Without the image, it is a text try.
            page.get_by_role("button", name="Remove image").click()
            expect(image).to_have_count(0)
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output).to_contain_text("looks right")
            assert model.requests[-1]["body"]["messages"] == [{"role": "user", "content": "What is in this picture?"}]

            # A generation that called a tool: its tools, its call and the tool's result come along
            # and are sent as such; the model's own call of a tool is shown.
            calls = [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]
            tool_input = [{"role": "user", "content": "Weather?"},
                          {"role": "assistant", "content": "", "tool_calls": calls},
                          {"role": "tool", "content": "sunny", "tool_call_id": "c1"}]  # fmt: skip
            weather = {"name": "weather", "description": "Weather in a city.",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}  # fmt: skip
            batch = [
                {"id": "e1", "type": "trace-create", "timestamp": "2026-12-01T10:00:00.000Z",
                 "body": {"id": "a" * 32, "name": "agent"}},
                {"id": "e2", "type": "generation-create", "timestamp": "2026-12-01T10:00:00.000Z",
                 "body": {"id": "g1", "traceId": "a" * 32, "name": "tool-llm", "model": "gpt-4o",
                          "input": {"messages": tool_input, "tools": [{"type": "function", "function": weather}]}}},
            ]  # fmt: skip
            open_generation(page, srv.api_url, pair, batch, "tool-llm")
            assert page.get_by_text("Left out of the generation").count() == 0
            expect(page.get_by_label("Tool calls (JSON)")).to_have_value(re.compile(r'"name": "weather"'))
            expect(page.get_by_label("Tool call id")).to_have_value("c1")
            expect(page.get_by_label("Tool result")).to_have_value("sunny")
            expect(page.get_by_label("Tools (JSON)")).to_have_value(re.compile(r'"description": "Weather in a city."'))
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output.locator(".tool-call")).to_have_text(re.compile(r"^weather\(\{"))
            page.screenshot(path=str(ARTIFACTS / "playground-tools.png"), full_page=True)
            sent = model.requests[-1]["body"]
            assert sent["tools"] == [{"type": "function", "function": weather}]
            assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
            assert sent["messages"][1]["tool_calls"] == calls and sent["messages"][2]["tool_call_id"] == "c1"
            # The next turn: the model's call as its message, its result typed in, run again.
            page.get_by_role("button", name="Add these calls and their results").click()
            expect(page.get_by_label("Tool result")).to_have_count(2)
            page.get_by_label("Tool result").last.fill("rainy")
            page.get_by_role("button", name="Run", exact=True).click()
            expect(output.locator(".tool-call")).to_have_count(1)
            turn = model.requests[-1]["body"]["messages"][3:]
            assert [m["role"] for m in turn] == ["assistant", "tool"], turn
            assert turn[0]["tool_calls"][0]["function"]["name"] == "weather" and turn[0]["tool_calls"][0]["id"] == "c1"
            assert turn[1] == {"role": "tool", "content": "rainy", "tool_call_id": "c1"}
            # Anthropic's shape (tool_use and tool_result blocks, input_schema): the same rows.
            use = {"type": "tool_use", "id": "tu1", "name": "weather", "input": {"city": "Oslo"}}
            claude_tool = {
                "name": "weather",
                "description": "Weather in a city.",
                "input_schema": weather["parameters"],
            }
            claude_input = {"messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}, use]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "sunny"}]},
            ], "tools": [claude_tool]}  # fmt: skip
            batch = [{"id": "e3", "type": "generation-create", "timestamp": "2026-12-01T10:00:01.000Z",
                      "body": {"id": "g2", "traceId": "a" * 32, "name": "claude-llm", "model": "claude-sonnet-4",
                               "input": claude_input}}]  # fmt: skip
            open_generation(page, srv.api_url, pair, batch, "claude-llm")
            assert page.get_by_text("Left out of the generation").count() == 0
            expect(page.locator(".tool-calls").get_by_label("Message")).to_have_value("Let me check.")
            assert json.loads(page.get_by_label("Tool calls (JSON)").input_value()) == [
                {"id": "tu1", "name": "weather", "arguments": '{"city":"Oslo"}'}
            ]
            expect(page.get_by_label("Tool call id")).to_have_value("tu1")
            expect(page.get_by_label("Tool result")).to_have_value("sunny")
            assert json.loads(page.get_by_label("Tools (JSON)").input_value()) == [weather]

            # Tools that are not a JSON list: said, and nothing sent.
            asked = len(model.requests)
            page.get_by_label("Tools (JSON)").fill("{not json")
            page.get_by_role("button", name="Run", exact=True).click()
            expect(page.locator("form.playground .error")).to_have_text("Tools (JSON): not a JSON list")
            assert len(model.requests) == asked

            # Images more than the tab's storage holds (here any, as a browser at its quota would
            # refuse them): the text opens, and the page counts the image out.
            page.add_init_script("""const keep = Storage.prototype.setItem;
              Storage.prototype.setItem = function (key, value) {
                if (String(value).includes("langfuseMedia")) throw new DOMException("full", "QuotaExceededError");
                return keep.call(this, key, value);
              };""")
            page.goto(f"{srv.api_url}/project/default/traces/{vision['trace_id']}")
            page.locator(".row", has_text="vision").click()
            page.get_by_role("button", name="Open in playground").click()
            page.get_by_text("Left out of the generation: 1 part(s) (audio, documents, or images too large").wait_for()
            expect(page.get_by_label("Message")).to_have_value("What is in this picture?")
            expect(image).to_have_count(0)

            # From scratch: the empty system message it starts with is not sent.
            page.evaluate("sessionStorage.clear()")
            page.goto(srv.api_url + "/project/default/playground")
            expect(page.get_by_label("Message")).to_have_count(2)
            page.get_by_label("Message").last.fill("Hello?")
            page.get_by_label("Model", exact=True).fill("gpt-4o-mini")
            page.get_by_role("button", name="Run", exact=True).click()
            expect(page.locator(".playground-output .answer")).to_have_count(1)
            assert model.requests[-1]["body"]["messages"] == [{"role": "user", "content": "Hello?"}]

            # The prompts' tabs reach it, in Chinese too.
            page.goto(srv.api_url + "/project/default/prompts?lang=zh-CN")
            page.get_by_role("link", name="演练场").click()
            page.get_by_role("heading", name="演练场").wait_for()
            page.get_by_role("button", name="运行", exact=True).wait_for()
        assert errors == [], errors
    finally:
        srv.stop()
