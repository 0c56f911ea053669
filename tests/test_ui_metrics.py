"""The metrics page in chromium: metrics sent by the OpenTelemetry SDK's OTLP/HTTP exporter (a
counter, a histogram, an observable gauge, an up-down counter) listed for their project only, each
charted by its type, grouped by a label, in English and Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from playwright.sync_api import Page

from tests.conftest import start_server
from tests.test_ui import ARTIFACTS, api, browser_page
from tests.test_ui_first_run import signed_up


def send_metrics(otlp_http_url: str, headers: dict[str, str] | None = None) -> None:
    """Two exports of cumulative points from one app, as its periodic reader would send them."""
    exporter = OTLPMetricExporter(endpoint=otlp_http_url + "/v1/metrics", headers=headers)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "metrics-app"}))
    meter = provider.get_meter("tests")
    tokens = meter.create_counter("app.tokens", unit="{token}", description="Tokens used, by model")
    duration = meter.create_histogram("app.request.duration", unit="s", description="Request time")
    active = meter.create_up_down_counter("app.active_requests", unit="{request}")

    def depth(options: CallbackOptions) -> list[Observation]:
        # Ten queues: more than a chart draws (eight), the smallest two left out.
        small = [Observation(0.1 * i, {"queue": f"q{i}"}) for i in range(3, 11)]
        return [Observation(7, {"queue": "q1"}), Observation(3, {"queue": "q2"}), *small]

    meter.create_observable_gauge("app.queue.depth", callbacks=[depth], unit="{item}")
    tokens.add(10, {"model": "model-a"})
    tokens.add(5, {"model": "model-b"})
    duration.record(0.2, {"route": "/chat"})
    active.add(3)
    assert reader.force_flush()
    tokens.add(32, {"model": "model-a"})
    for value in (0.3, 1.5, 4.0):
        duration.record(value, {"route": "/chat"})
    active.add(-1)
    provider.shutdown()  # the second export


def send_summary(otlp_http_url: str) -> None:
    """A summary (no SDK instrument makes one; a collector's Prometheus receiver does), by region."""
    import json
    import time
    import urllib.request

    from tests.test_otlp_metrics import request

    def point(region: str, p50: float) -> dict[str, object]:
        return {"timeUnixNano": str(time.time_ns() - 10**9), "count": "3", "sum": 1.5,
                "quantileValues": [{"quantile": 0.5, "value": p50}, {"quantile": 0.99, "value": 0.9}],
                "attributes": [{"key": "region", "value": {"stringValue": region}}]}  # fmt: skip

    body = request([{"name": "rpc.time", "unit": "s", "summary": {"dataPoints": [point("eu", 0.4), point("us", 0.3)]}}])
    req = urllib.request.Request(otlp_http_url + "/v1/metrics", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200 and json.loads(r.read()) == {}


def bar_totals(page: Page) -> dict[str, float]:
    """Each series' sum over the bars of the first chart, from the bars' titles ("<time> · key: 42 token")."""
    totals: dict[str, float] = {}
    for title in page.locator("svg.chart").first.locator("rect title").all_text_contents():
        key, _, value = title.split(" · ", 1)[1].rpartition(": ")
        totals[key] = totals.get(key, 0.0) + float(re.sub(r"[^0-9.]", "", value.split(" ")[0]))
    return totals


def test_metrics_page_charts_each_type_for_its_project(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        send_metrics(srv.otlp_http_url)
        send_summary(srv.otlp_http_url)
        errors: list[str] = []
        with browser_page(errors) as page:
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            signed_up(page, srv.api_url)  # an account, to make a second project later
            page.get_by_role("link", name="Metrics").click()
            page.get_by_role("heading", name="Every metric in this range").wait_for()
            rows = page.locator("table.traces tbody tr")
            names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
            assert names == [
                "app_active_requests",
                "app_queue_depth",
                "app_request_duration_seconds",
                "app_tokens_total",
                "rpc_time_seconds",
            ]
            assert "Counter" in rows.nth(3).inner_text() and "metrics-app" in rows.nth(3).inner_text()

            # A counter: its increase per step, stacked by a label.
            page.get_by_role("link", name="app_tokens_total").click()
            page.get_by_role("heading", name="app_tokens_total").wait_for()
            page.locator("svg.chart rect").first.wait_for()
            assert "Tokens used, by model" in page.locator(".metric-head").inner_text()
            assert "increase(app_tokens_total[60s])" in page.locator(".promql").first.inner_text()
            assert bar_totals(page) == {"all": 47.0}
            page.get_by_label("Group by").select_option("model")
            page.wait_for_function("document.querySelectorAll('.legend span').length === 2")
            assert "group=model" in page.url
            assert bar_totals(page) == {"model-a": 42.0, "model-b": 5.0}
            assert "sum by (model) (increase(app_tokens_total[60s]))" in page.locator(".promql").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "metrics-counter.png"))

            # A histogram: its count, its quantiles and its mean.
            page.get_by_role("link", name="app_request_duration_seconds").click()
            page.get_by_role("heading", name="Quantiles per 1 min").wait_for()
            page.locator(".card .legend").first.wait_for()
            page.locator(".grid .card").first.locator("svg.chart rect").first.wait_for()  # each chart draws apart
            assert bar_totals(page) == {"all": 4.0}
            legend = page.locator(".grid .card").nth(1).locator(".legend").inner_text()
            assert all(q in legend for q in ("p50", "p95", "p99"))
            assert page.locator(".grid .card").nth(1).locator("svg circle").count() >= 3
            promql = page.locator(".promql").all_inner_texts()
            assert any("histogram_quantile(0.95, sum by (le) (increase(app_request_duration_seconds_bucket" in q
                       for q in promql)  # fmt: skip
            page.get_by_role("heading", name="Mean per 1 min").wait_for()

            # A gauge: one line per label value, aggregated as chosen.
            page.get_by_role("link", name="app_queue_depth").click()
            page.get_by_label("Aggregate").select_option("max")
            page.get_by_role("heading", name="Value (max of its series)").wait_for()
            page.get_by_label("Group by").select_option("queue")
            page.get_by_text("2 more series not shown: group by another label.").wait_for()
            legend = [s.strip() for s in page.locator(".legend span").all_inner_texts()]
            assert len(legend) == 8 and "q3" not in legend and "q4" not in legend and "q10" in legend
            assert "max by (queue) (app_queue_depth)" in page.locator(".promql").first.inner_text()
            dots = page.locator("svg.chart circle title").all_text_contents()
            assert any(d.endswith("q1: 7 item") for d in dots) and any(d.endswith("q2: 3 item") for d in dots)
            page.screenshot(path=str(ARTIFACTS / "metrics-gauge.png"))

            # An up-down counter reads as a gauge: its latest value.
            page.get_by_role("link", name="app_active_requests").click()
            page.get_by_role("heading", name="Value (sum of its series)").wait_for()
            page.locator("svg.chart circle").first.wait_for()
            dots = page.locator("svg.chart circle title").all_text_contents()
            assert dots and dots[-1].endswith("all: 2 request")

            # A summary: its quantiles as sent, named by quantile and by the label when grouped.
            page.get_by_role("link", name="rpc_time_seconds").click()
            page.get_by_role("heading", name="Quantiles, as the exporter computed them").wait_for()
            page.get_by_label("Group by").select_option("region")
            page.wait_for_function(
                "document.querySelectorAll('.grid .card')[1]?.querySelectorAll('.legend span').length === 4"
            )
            legend = page.locator(".grid .card").nth(1).locator(".legend").inner_text()
            assert all(f"{r} · quantile {q}" in legend for r in ("eu", "us") for q in ("0.5", "0.99")), legend
            dots = page.locator(".grid .card").nth(1).locator("svg.chart circle title").all_text_contents()
            assert any(d.endswith("eu · quantile 0.5: 0.4 s") for d in dots), dots

            # Another project has none of them.
            status, shop = api(page, "POST", "/api/v1/organizations/default/projects", {"name": "shop"})
            assert status == 201, shop
            page.goto(f"{srv.api_url}/project/{shop['id']}/metrics")
            page.get_by_text("No metrics in this range.").wait_for()
            assert page.locator("table.traces").count() == 0

            page.goto(srv.api_url + "/project/default/metrics?metric=app_tokens_total&group=model&lang=zh-CN")
            page.get_by_role("heading", name="此范围内的全部指标").wait_for()
            page.locator("svg.chart rect").first.wait_for()
            (ARTIFACTS / "i18n" / "zh-CN").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "i18n" / "zh-CN" / "metrics.png"), full_page=True)
        assert errors == []
    finally:
        srv.stop()
