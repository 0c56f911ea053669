"""The traces list filtered with TraceQL in the browser, as in Grafana, in English and Chinese."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tests.conftest import start_server
from tests.otlp_data import request
from tests.test_ui import ARTIFACTS, browser_page, new_key
from tests.test_ui_first_run import signed_up

SHOTS = ARTIFACTS / "traceql"


def test_traces_filtered_with_traceql(tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    srv = start_server(tmp_path / "data")
    errors: list[str] = []
    try:
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "traceql")
            now = time.time_ns()
            spans = [
                {
                    "trace_id": bytes([n]) * 16,
                    "name": name,
                    "start": now - n * 10**9,
                    "end": now - n * 10**9 + ms * 10**6,
                    "attrs": {"gen_ai.request.model": model},
                }
                for n, (name, model, ms) in enumerate(
                    [("fast-4o", "gpt-4o", 200), ("slow-4o", "gpt-4o", 3000), ("slow-claude", "claude", 4000)], start=1
                )
            ]
            body = request(spans, {"service.name": "support-bot"})
            body.resource_spans[0].scope_spans[0].spans[2].status.code = Status.STATUS_CODE_ERROR
            token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
            r = httpx.post(
                srv.otlp_http_url + "/v1/traces",
                content=body.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf", "Authorization": f"Basic {token}"},
            )
            assert r.status_code == 200, r.text

            page.goto(srv.api_url + "/project/default/traces")
            page.get_by_role("link", name="slow-claude").wait_for()
            page.get_by_text("More filters").click()
            box = page.get_by_label('TraceQL, e.g. { span.gen_ai.request.model = "gpt-4o" && duration > 2s }')
            box.fill('{ span.gen_ai.request.model = "gpt-4o" && duration > 2s }')
            box.press("Enter")
            page.get_by_role("link", name="slow-4o").wait_for()
            assert page.get_by_role("link", name="fast-4o").count() == 0
            assert page.get_by_role("link", name="slow-claude").count() == 0
            assert "traceql=" in page.url  # kept in the address, so the filtered list can be shared
            page.screenshot(path=str(SHOTS / "traces-traceql.png"), full_page=True)
            # A mistake says where it is, in the list's place
            box = page.locator('input[name="traceql"]')
            box.fill("{ status = }")
            box.press("Enter")
            page.get_by_role("alert").filter(has_text="invalid TraceQL").wait_for()
            # In Chinese: the label translated, the filter the same
            page.goto(srv.api_url + "/project/default/traces?lang=zh-CN&traceql=" + "%7B%20status%20%3D%20error%20%7D")
            page.get_by_role("link", name="slow-claude").wait_for()
            assert page.get_by_role("link", name="slow-4o").count() == 0
            assert (
                page.locator('input[name="traceql"]').get_attribute("placeholder", timeout=5000).startswith("TraceQL，")
            )
            page.screenshot(path=str(SHOTS / "traces-traceql-zh.png"), full_page=True)
        assert not [e for e in errors if "400" not in e], errors  # the 400 above is the one expected
    finally:
        srv.stop()
