"""A nearly full disk: new data refused with a retry hint, everything else working, and the real
OpenTelemetry SDK's retries delivering every span once space is freed."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.sdk.trace.export import SpanExportResult
from playwright.sync_api import expect

from tests.conftest import run_cli, serving, start_server, until
from tests.langfuse_helpers import basic, event, ingest, make_key
from tests.otel import exporter
from tests.otlp_data import one_span
from tests.test_media import PNG, call, media_files, sha
from tests.test_otlp_errors import PB, count, post
from tests.test_outage import Recording, emit
from tests.test_ui import ARTIFACTS, browser_page
from tests.test_ui_first_run import PASSWORD, api, signed_up
from tracehouse.disk_reserve import DiskReserve
from tracehouse.errors import LowDisk
from tracehouse.server import Running

MB = 2**20
# More than any disk has (4 PiB, exact in the UI's JavaScript numbers): every check finds the disk "nearly full".
EVERYTHING = 2**52
SPANS_PER_SENDER = 15  # as tests.test_outage's emit() sends


class Disk:
    """shutil.disk_usage's answer, as a test sets it (the operating system's part, not ours)."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.asked = 0

    def __call__(self, path: Path) -> shutil._ntuple_diskusage:
        self.asked += 1
        return shutil._ntuple_diskusage(100_000 * MB, 100_000 * MB - self.free, self.free)


def test_the_reserve_refuses_below_it_checks_once_a_second_and_logs_each_change(caplog) -> None:
    disk, now = Disk(free=100 * MB), [0.0]
    reserve = DiskReserve(Path("/data"), 512 * MB, usage=disk, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tracehouse.disk_reserve"):
        with pytest.raises(LowDisk) as info:
            reserve.check()
        assert info.value.message == (
            "the server's disk has 100 MB free, less than the 512 MB it keeps for the store's own work: "
            "new data is refused until its admin frees space"
        )
        assert (info.value.http_status, info.value.grpc_code, info.value.retry_after()) == (503, "UNAVAILABLE", 5)
        disk.free = 4_000 * MB  # freed, but not looked at again within the second
        with pytest.raises(LowDisk):
            reserve.check()
        assert disk.asked == 1 and reserve.refused == 2
        now[0] = 1.0
        reserve.check()  # taken again
        assert reserve.state().free == 4_000 * MB and not reserve.state().low
        now[0] = 2.0
        disk.free = 512 * MB  # exactly the reserve is enough
        reserve.check()
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        ("ERROR", "/data has 100 MB free, less than the 512 MB reserve: new data is refused until space is freed "
                  "(TRACEHOUSE_MIN_FREE_DISK_BYTES sets the reserve; 0 turns it off)"),
        ("WARNING", "/data has 4,000 MB free again: new data is taken"),
    ]  # fmt: skip


@pytest.fixture
async def full(tmp_path: Path):
    async with serving(tmp_path / "data", min_free_disk_bytes=EVERYTHING) as r:
        yield r


def reserve_of(live: Running) -> DiskReserve:
    assert live.ingest is not None and live.ingest.batcher.disk is not None
    return live.ingest.batcher.disk


async def test_a_full_disk_refuses_new_data_on_every_path_and_keeps_reads_and_settings(full: Running) -> None:
    live = full
    # OTLP/HTTP: 503 with the hint and the reason; nothing stored.
    status, body, headers = await post(live, one_span().SerializeToString(), PB)
    assert status == 503 and headers["Retry-After"] == "5"
    assert b"less than the 4,294,967,296 MB it keeps" in body
    # OTLP/gRPC: UNAVAILABLE with a RetryInfo, which the SDK's exporter honours.
    async with grpc.aio.insecure_channel(live.otlp_grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(one_span().SerializeToString())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "disk" in (info.value.details() or "")
    status_proto = rpc_status.from_call(info.value)
    assert status_proto is not None
    retry = error_details_pb2.RetryInfo()
    assert status_proto.details[0].Unpack(retry) and retry.retry_delay.seconds == 5
    # Logs, and Langfuse's ingestion API on the API port.
    assert (await post(live, b"{}", {"Content-Type": "application/json"}, path="/v1/logs"))[0] == 503
    pair = await make_key(live)  # settings are still written: a key made on a full disk
    status, doc = await ingest(live, basic(pair), [event("trace-create", {"id": "t-full", "name": "refused"})])
    assert status == 503 and "disk" in doc["message"], doc
    # Media kept beside the store: registered (a row), the bytes refused.
    status, media = await call("POST", live.api_url + "/api/public/media", basic(pair), {
        "traceId": "t-full", "field": "input", "contentType": "image/png", "contentLength": len(PNG),
        "sha256Hash": sha(PNG)})  # fmt: skip
    assert status == 200, media
    status, refused = await call("PUT", media["uploadUrl"], {"Content-Type": "image/png"}, data=PNG)
    assert status == 503 and "disk" in refused["message"] and media_files(live) == []
    # Reads go on.
    assert (await call("GET", live.api_url + "/api/public/traces", basic(pair)))[0] == 200
    assert await count(live) == 0
    # What it says: to a key pair, that data is refused (no figures: those are the server admin's);
    # unauthenticated asks are refused; /metrics has the disk and the refusals by reason.
    assert await call("GET", live.api_url + "/api/v1/server/disk", basic(pair)) == (200, {"watched": True, "low": True})
    status, doc = await call("GET", live.api_url + "/api/v1/server/disk")
    assert (status, doc["error"]["code"]) == (401, "unauthenticated")
    metrics = (await call("GET", live.otlp_http_url + "/metrics"))[1].decode()
    gauges = dict(line.split(" ") for line in metrics.splitlines() if line.startswith("tracehouse_disk_"))
    assert float(gauges["tracehouse_disk_reserve_bytes"]) == EVERYTHING
    assert 0 < float(gauges["tracehouse_disk_free_bytes"]) < EVERYTHING
    # HTTP, gRPC, logs and Langfuse's batch (the API port's requests are counted in the same registry)
    assert 'tracehouse_receiver_unavailable_total{reason="low_disk"} 4.0' in metrics
    assert reserve_of(live).refused == 5  # ... and Langfuse's batch and the media's bytes


@pytest.mark.parametrize("kind", ["http", "grpc"])
async def test_the_sdk_retries_deliver_every_span_once_space_is_freed(full: Running, kind: str) -> None:
    live = full
    reserve = reserve_of(live)
    recordings = {f"disk-{kind}-{n}": Recording(exporter(kind, live, timeout=60)) for n in range(2)}
    senders = [threading.Thread(target=emit, args=(r, tag), daemon=True) for tag, r in recordings.items()]
    for t in senders:
        t.start()
    await until(lambda: reserve.refused >= len(senders))  # each sender has been refused
    reserve.reserve_bytes = 0  # space freed: the next check (within a second) takes data again
    await asyncio.to_thread(lambda: [t.join(120) for t in senders])
    assert not any(t.is_alive() for t in senders)
    assert live.ingest is not None
    await live.ingest.batcher.settled()
    expected = SPANS_PER_SENDER * len(senders)
    outcomes = [result for r in recordings.values() for result in r.results]
    assert outcomes.count(SpanExportResult.SUCCESS) == expected, outcomes
    assert await count(live, "service_name LIKE 'outage-disk-%'") == expected
    dupes = await live.store.backend.query("SELECT count() - uniqExact(trace_id, span_id) AS d FROM spans")
    assert dupes[0]["d"] == 0


async def test_no_reserve_when_turned_off(tmp_path: Path) -> None:
    async with serving(tmp_path / "data", min_free_disk_bytes=0) as live:
        assert live.ingest is not None and live.ingest.batcher.disk is None
        assert (await post(live, one_span().SerializeToString(), PB))[0] == 200
        assert "tracehouse_disk_free_bytes" not in (await call("GET", live.otlp_http_url + "/metrics"))[1].decode()


def test_the_ui_says_new_data_is_refused_and_shows_the_admin_the_disk(tmp_path: Path) -> None:
    """A new user on a server whose disk is nearly full: the traces page says why nothing arrives,
    and its link leads the admin to the disk's figures; in English and Chinese."""
    server = start_server(tmp_path / "data", env={"TRACEHOUSE_MIN_FREE_DISK_BYTES": str(EVERYTHING)})
    try:
        # Said at the start, before anything is sent.
        assert "less than the 4,294,967,296 MB reserve: new data is refused until space is freed" in server.log()
        errors: list[str] = []
        with browser_page(errors) as page:
            signed_up(page, server.api_url)  # an account is made on a full disk
            alert = page.locator("section p.error[role=alert]")
            expect(alert).to_contain_text("This server's disk is nearly full: it refuses new traces")
            page.screenshot(path=str(ARTIFACTS / "disk" / "traces-refusing.png"))
            status, doc = api(page, "GET", "/api/v1/server/disk")
            assert status == 200 and doc["low"] and doc["reserve"] == EVERYTHING and 0 < doc["free"] <= doc["total"]
            alert.get_by_role("link", name="See the server's disk").click()
            page.get_by_role("heading", name="Disk of this server").wait_for()
            expect(page.locator("#server-disk + p")).to_contain_text(f"{server.data_dir}: ")
            expect(page.locator("#server-disk + p")).to_contain_text(" free of ")
            expect(page.locator("#server-disk + p + p")).to_have_text(
                "New data is refused (senders are told to retry) until more than 4,194,304 GB is free: "
                "delete old data (a project's retention, a project) or free space on the disk."
            )
            page.screenshot(path=str(ARTIFACTS / "disk" / "organization-disk.png"), full_page=True)
        with browser_page(errors, locale="zh-CN") as page:
            page.goto(server.api_url + "/")
            page.get_by_label("邮箱", exact=True).fill("ada@example.com")
            page.get_by_label("密码", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("navigation", name="页面").get_by_role("link", name="追踪").click()
            alert = page.locator("section p.error[role=alert]")
            expect(alert).to_contain_text("本服务器的磁盘快满了")
            alert.get_by_role("link", name="查看服务器磁盘").click()
            page.get_by_role("heading", name="本服务器的磁盘").wait_for()
            refusing = page.locator("#server-disk + p + p")
            expect(refusing).to_contain_text("在可用空间超过 4,194,304 GB 之前，新数据将被拒绝")
            page.screenshot(path=str(ARTIFACTS / "disk" / "organization-disk-zh.png"), full_page=True)
        assert errors == []
    finally:
        server.stop()


def test_the_doctor_names_the_reserve_and_fails_below_it(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    ports = ("--api-port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0")
    healthy = run_cli("doctor", "--data-dir", data, *ports)
    assert healthy.returncode == 0, healthy.stdout
    assert f"GiB free for {data}, new data refused below 512 MiB\n" in healthy.stdout, healthy.stdout
    full = run_cli("doctor", "--data-dir", data, *ports, TRACEHOUSE_MIN_FREE_DISK_BYTES=str(EVERYTHING))
    assert full.returncode == 1
    assert "new data refused below 4,294,967,296 MiB: it is refused now, free some space" in full.stdout, full.stdout
