"""/metrics on both HTTP ports: the counters exist and move when traffic flows."""

import aiohttp

from tests.otlp_data import one_span, request
from tracehouse.server import Running


def value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the exposition sorts labels
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}}" if labels else f"{name} ") and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def get(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        return await r.text()


async def test_metrics_move_with_traffic(live: Running) -> None:
    before = await get(live.otlp_http_url + "/metrics")
    assert value(before, "tracehouse_receiver_spans_accepted_total", transport="http") == 0
    good_and_bad = request([{"trace_id": b"\x07" * 16}, {"trace_id": b"\x00" * 16}])
    async with aiohttp.ClientSession() as s:
        for body in (good_and_bad.SerializeToString(), one_span().SerializeToString(), b"\xff garbage"):
            async with s.post(
                live.otlp_http_url + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
            ) as r:
                await r.read()
        async with s.get(live.api_url + "/api/v1/traces") as r:
            assert r.status == 200
    after = await get(live.otlp_http_url + "/metrics")
    assert value(after, "tracehouse_receiver_spans_accepted_total", transport="http") == 2
    assert value(after, "tracehouse_receiver_spans_rejected_total", transport="http") == 1
    assert value(after, "tracehouse_receiver_requests_total", transport="http", outcome="ok") == 2
    assert value(after, "tracehouse_receiver_requests_total", transport="http", outcome="invalid_input") == 1
    assert value(after, "tracehouse_store_insert_rows_count") >= 1
    assert value(after, "tracehouse_receiver_inflight_bytes") == 0
    api = await get(live.api_url + "/metrics")  # the same registry on the API port
    assert value(api, "tracehouse_query_seconds_count", route="/api/v1/traces") == 1
    assert value(api, "tracehouse_receiver_spans_accepted_total", transport="http") == 2
