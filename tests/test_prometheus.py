"""Grafana's Prometheus data source API over the virtual LLM metrics."""

import time
from decimal import Decimal

import aiohttp
import pytest

from tests.helpers import span, span_table
from tracehouse.server import Running

NOW = (int(time.time()) // 60) * 60  # a whole minute, so that windows line up
SEC = 1_000_000_000


async def seed(live: Running) -> None:
    rows = []
    for i in range(12):  # one call a minute for the last 12 minutes
        model = "gpt-4o" if i % 3 else "claude-sonnet-4"
        start = (NOW - (i + 1) * 60 + 5) * SEC
        rows.append(
            span(
                f"t{i}",
                f"s{i}",
                start=start,
                duration_ms=(i + 1) * 500,
                observation_type="GENERATION",
                model=model,
                provider="openai" if model == "gpt-4o" else "anthropic",
                service_name="bot",
                input_tokens=100,
                output_tokens=10,
                total_tokens=110,
                total_cost=Decimal("0.001"),
                status_code="ERROR" if i == 0 else "UNSET",
            )
        )
        rows.append(span(f"t{i}", f"r{i}", start=start, duration_ms=10, observation_type="AGENT", service_name="bot"))
    await live.store.writer.write(span_table(rows))


async def prom(live: Running, path: str, method: str = "GET", **params: str) -> tuple[int, dict]:
    url = live.api_url + "/prometheus/api/v1/" + path
    async with aiohttp.ClientSession() as session:
        if method == "POST":
            async with session.post(url, data=params) as r:
                return r.status, await r.json()
        async with session.get(url, params=params) as r:
            return r.status, await r.json()


async def test_grafana_save_and_test_and_metadata(live: Running) -> None:
    status, doc = await prom(live, "query", query="1+1", time=str(NOW))
    assert status == 200 and doc == {"status": "success", "data": {"resultType": "scalar", "result": [NOW, "2"]}}
    status, doc = await prom(live, "query", method="POST", query="1+1")
    assert status == 200 and doc["data"]["result"][1] == "2"
    assert (await prom(live, "status/buildinfo"))[1]["data"]["version"].startswith("2.")
    names = (await prom(live, "label/__name__/values"))[1]["data"]
    assert "tracehouse_llm_tokens_total" in names and "tracehouse_spans_total" in names
    assert {"model", "provider", "type", "le"} <= set((await prom(live, "labels"))[1]["data"])
    meta = (await prom(live, "metadata"))[1]["data"]
    assert meta["tracehouse_llm_request_duration_seconds_bucket"][0]["type"] == "histogram"


async def test_instant_and_range_queries(live: Running) -> None:
    await seed(live)
    status, doc = await prom(
        live, "query", query='sum by (model) (tracehouse_llm_tokens_total{type="input"})', time=str(NOW)
    )
    assert status == 200 and doc["data"]["resultType"] == "vector"
    totals = {r["metric"]["model"]: r["value"][1] for r in doc["data"]["result"]}
    assert totals == {"gpt-4o": "800", "claude-sonnet-4": "400"}

    status, doc = await prom(live, "query", query="sum(increase(tracehouse_llm_cost_usd_total[10m]))", time=str(NOW))
    assert float(doc["data"]["result"][0]["value"][1]) == pytest.approx(0.010)

    status, doc = await prom(
        live,
        "query_range",
        query='sum by (provider) (rate(tracehouse_llm_requests_total{model=~"gpt.*"}[5m]))',
        start=str(NOW - 600),
        end=str(NOW),
        step="60",
    )
    assert status == 200 and doc["data"]["resultType"] == "matrix"
    [series] = doc["data"]["result"]
    assert series["metric"] == {"provider": "openai"}
    assert len(series["values"]) == 11 and series["values"][-1][0] == NOW
    # in the 5 minutes before NOW: calls 2, 3 and 5 minutes ago are gpt-4o (1 and 4 ago are claude)
    assert float(series["values"][-1][1]) == pytest.approx(3 / 300)

    status, doc = await prom(
        live,
        "query",
        query="histogram_quantile(0.5, sum by (le) (increase(tracehouse_llm_request_duration_seconds_bucket[15m])))",
        time=str(NOW),
    )
    median = float(doc["data"]["result"][0]["value"][1])
    assert 2.5 <= median <= 5.0  # durations 0.5 s ... 6 s

    status, doc = await prom(
        live, "query", query="topk(1, sum by (model) (increase(tracehouse_llm_tokens_total[1h])))", time=str(NOW)
    )
    assert [r["metric"]["model"] for r in doc["data"]["result"]] == ["gpt-4o"]
    status, doc = await prom(
        live,
        "query",
        query="sum(increase(tracehouse_span_errors_total[1h])) / sum(increase(tracehouse_spans_total[1h])) * 100",
        time=str(NOW),
    )
    assert float(doc["data"]["result"][0]["value"][1]) == pytest.approx(100 / 24)
    status, doc = await prom(live, "series", **{"match[]": 'tracehouse_llm_requests_total{model="gpt-4o"}'})
    assert status == 200 and doc["data"][0]["model"] == "gpt-4o"
    assert (await prom(live, "label/model/values"))[1]["data"] == ["claude-sonnet-4", "gpt-4o"]


@pytest.mark.parametrize(
    "query",
    [
        "up",
        "rate(tracehouse_llm_requests_total)",
        "tracehouse_llm_requests_total[5m]",
        'label_replace(tracehouse_spans_total, "a", "b", "c", "d")',
        "sum(",
        "tracehouse_spans_total offset 5m",
        "x; DROP TABLE spans",
        'tracehouse_spans_total{service="\\u0000\' OR 1=1 --"}',
    ],
)
async def test_unsupported_and_hostile_queries_are_bad_data(live: Running, query: str) -> None:
    status, doc = await prom(live, "query_range", query=query, start=str(NOW - 600), end=str(NOW), step="60")
    if query.startswith("tracehouse_spans_total{"):
        assert status == 200 and doc["data"]["result"] == []  # a valid selector that matches nothing
        return
    assert status == 400 and doc["status"] == "error" and doc["errorType"] == "bad_data"


async def test_parameter_errors(live: Running) -> None:
    assert (await prom(live, "query_range", query="1", start=str(NOW), end=str(NOW - 1), step="60"))[0] == 400
    assert (await prom(live, "query_range", query="1", start=str(NOW - 10**6), end=str(NOW), step="1"))[0] == 400
    assert (await prom(live, "query_range", query="1", start="soon", end=str(NOW), step="60"))[0] == 400
    assert (await prom(live, "query"))[0] == 400


async def test_dashboard_queries_all_run(live: Running) -> None:
    import json
    from pathlib import Path

    await seed(live)
    dashboard = json.loads(
        (Path(__file__).parent.parent / "deploy" / "grafana" / "tracehouse-dashboard.json").read_text()
    )
    assert len(dashboard["panels"]) == 4
    for panel in dashboard["panels"]:
        expr = panel["targets"][0]["expr"].replace("$__interval", "5m")
        status, doc = await prom(live, "query_range", query=expr, start=str(NOW - 3600), end=str(NOW), step="300")
        assert status == 200 and doc["data"]["result"], panel["title"]


async def test_service_graph_and_span_metrics_as_grafana_asks(live: Running) -> None:
    # gateway -> agent (its LLM call goes to openai) and gateway -> search (which fails), twice,
    # and another project's calls between the same services, which no answer may count.
    rows = []
    for n, project in ((0, "default"), (1, "default"), (2, "elsewhere")):
        t, start = f"sg{n}", (NOW - 120 + n) * SEC
        rows += [
            span(t, "gw", start=start, duration_ms=900, service_name="gateway", kind="SERVER", project=project),
            span(t, "ag", "gw", start=start + 1, duration_ms=600, service_name="agent", kind="SERVER", project=project),
            span(
                t,
                "ll",
                "ag",
                start=start + 2,
                duration_ms=500,
                service_name="agent",
                kind="CLIENT",
                observation_type="GENERATION",
                provider="openai",
                project=project,
            ),
            span(
                t,
                "se",
                "gw",
                start=start + 3,
                duration_ms=50,
                service_name="search",
                kind="SERVER",
                status_code="ERROR",
                project=project,
            ),
            span(t, "in", "ag", start=start + 4, duration_ms=5, service_name="agent", project=project),
        ]
    await live.store.writer.write(span_table(rows))

    async def instant(query: str) -> dict[tuple[tuple[str, str], ...], float]:
        status, doc = await prom(live, "query", query=query, time=str(NOW))
        assert status == 200, (query, doc)
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in doc["data"]["result"]}

    # The service map's queries (Grafana's Tempo data source, Service Graph tab)
    calls = await instant("sum by (client, server) (increase(traces_service_graph_request_total[5m]))")
    assert calls == {
        (("client", "gateway"), ("server", "agent")): 2,
        (("client", "gateway"), ("server", "search")): 2,
        (("client", "agent"), ("server", "openai")): 2,
    }
    failed = await instant("sum by (client, server) (increase(traces_service_graph_request_failed_total[5m]))")
    assert failed[(("client", "gateway"), ("server", "search"))] == 2
    assert failed[(("client", "gateway"), ("server", "agent"))] == 0
    seconds = await instant("sum by (client, server) (increase(traces_service_graph_request_server_seconds_sum[5m]))")
    assert seconds[(("client", "gateway"), ("server", "agent"))] == pytest.approx(1.2)
    client = await instant("sum by (server) (increase(traces_service_graph_request_client_seconds_sum[5m]))")
    assert client[(("server", "agent"),)] == pytest.approx(1.8)  # the gateway's span, twice
    p90 = await instant(
        "histogram_quantile(0.9, sum by (le, server) (rate(traces_service_graph_request_server_seconds_bucket[5m])))"
    )
    assert 0.4 <= p90[(("server", "agent"),)] <= 0.8
    # Its service table: span metrics by name, errors, latency
    spans = await instant(
        'sum by (service, span_name) (increase(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[5m]))'
    )
    assert spans[(("service", "search"), ("span_name", "span se"))] == 2 and len(spans) == 3
    errors = await instant(
        'sum by (service) (increase(traces_spanmetrics_calls_total{status_code="STATUS_CODE_ERROR"}[5m]))'
    )
    assert errors == {(("service", "search"),): 2}
    p50 = await instant("histogram_quantile(0.5, sum by (le) (rate(traces_spanmetrics_latency_bucket[5m])))")
    [median] = p50.values()
    assert 0.0 < median < 1.0
    names = (await prom(live, "label/__name__/values"))[1]["data"]
    assert {"traces_service_graph_request_total", "traces_spanmetrics_latency_bucket"} <= set(names)
    servers = (await prom(live, "label/server/values", start=str(NOW - 600), end=str(NOW)))[1]["data"]
    assert {"agent", "gateway", "openai", "search"} <= set(servers)
