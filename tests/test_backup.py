"""Backing up the embedded store while it serves, and serving the restored copy: everything
acknowledged before the backup began is in it exactly once (spans still waiting in the write-ahead
log included), with its summaries; bad requests cost nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from storage import Store
from storage.backup import MANIFEST, back_up, restore
from storage.media import MediaFiles
from tests.conftest import Running, run_cli, serving, start_server, until
from tests.otel import exporter, provider
from tests.test_otlp_errors import PB, GatedBackend, post
from tests.test_wal import INPUT_TOKENS, SPANS_PER_REQUEST, body, stored
from tracehouse.errors import InvalidInput
from tracehouse.runtime import read_runtime

SERVICE = "backup-test"


async def test_a_backup_holds_what_waited_in_the_log_once_and_serves_again(tmp_path: Path) -> None:
    data, dest, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    async with serving(data) as live:
        assert live.ingest is not None and live.ingest.wal is not None
        batcher, wal = live.ingest.batcher, live.ingest.wal
        assert all(s == 200 for s, _, _ in await asyncio.gather(*(post(live, body(), PB) for _ in range(10))))
        await batcher.settled()
        # An insert hangs before the store's writer: the next requests are acknowledged from the log.
        gated = GatedBackend(live.store.writer._backend)
        live.store.writer._backend = gated
        first = asyncio.create_task(post(live, body(), PB))
        await until(lambda: gated.held_spans > 0)
        assert all(s == 200 for s, _, _ in await asyncio.gather(*(post(live, body(), PB) for _ in range(10))))
        assert wal.unreleased == 10
        done = await back_up(live.store, dest)
        assert done["path"] == str(dest) and done["schema_version"] == await live.store.schema_version()
        assert (dest / MANIFEST).is_file() and list((dest / "wal").glob("*.wal"))
        # Afterwards the hung insert and new requests commit: not in the backup (not acknowledged
        # when it began).
        gated.gate.set()
        assert (await first)[0] == 200
        assert (await post(live, body(), PB))[0] == 200
        await batcher.settled()
        assert (await stored(live.store))[0] == 22 * SPANS_PER_REQUEST

    await restore(dest, restored)
    server = start_server(restored)
    try:
        assert f"replayed {10 * SPANS_PER_REQUEST} spans" in server.log()
        status, page = server.get("/api/v1/traces?limit=100&start=2000-01-01T00:00:00Z")
        assert status == 200 and len(page["items"]) == 20
    finally:
        server.stop()
    async with await Store.open(data_dir=restored) as store:
        spans = 20 * SPANS_PER_REQUEST
        assert await stored(store) == (spans, spans, spans * INPUT_TOKENS)  # once each, summaries too


class Acks(SpanExporter):
    """The SDK's exporter, noting when each span it sent was acknowledged."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.acked: list[tuple[int, float]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            now = time.monotonic()
            self.acked.extend((s.context.trace_id, now) for s in spans if s.context is not None)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


@pytest.mark.slow
def test_backup_and_restore_with_the_cli_while_an_exporter_sends(tmp_path: Path) -> None:
    data, dest, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    server = start_server(data)
    stop = threading.Event()
    acks = Acks(exporter("http", server))  # type: ignore[arg-type]
    tracer = provider(acks, service=SERVICE).get_tracer("backup")

    def send() -> None:
        while not stop.is_set():
            with tracer.start_as_current_span("call") as span:
                span.set_attribute("gen_ai.usage.input_tokens", INPUT_TOKENS)

    sender = threading.Thread(target=send)
    try:
        sender.start()
        while len(acks.acked) < 50:
            time.sleep(0.01)
        began = time.monotonic()
        out = run_cli("backup", "--data-dir", str(data), "--to", str(dest))
        assert out.returncode == 0, out.stderr
        assert f"to {dest}" in out.stdout and "restore it with: tracehouse restore" in out.stdout
        count_at_end = len(acks.acked)
        while len(acks.acked) < count_at_end + 20:  # the server takes spans on after it
            time.sleep(0.01)
        # A second backup into the same directory is refused, and costs nothing.
        again = run_cli("backup", "--data-dir", str(data), "--to", str(dest))
        assert again.returncode == 1 and "already exists and is not an empty directory" in again.stderr
    finally:
        stop.set()
        sender.join()
        server.stop()
    before = {trace for trace, at in acks.acked if at < began}
    assert len(before) >= 50

    out = run_cli("restore", "--from", str(dest), "--data-dir", str(restored))
    assert out.returncode == 0, out.stderr
    assert f"into {restored}" in out.stdout
    # Into a directory that holds something: refused, and the directory is left as it was.
    out = run_cli("restore", "--from", str(dest), "--data-dir", str(data))
    assert out.returncode == 1 and "is not empty: restore into a new directory" in out.stderr
    out = run_cli("restore", "--from", str(tmp_path), "--data-dir", str(tmp_path / "nowhere"))
    assert out.returncode == 1 and "is not a whole tracehouse backup" in out.stderr
    assert not (tmp_path / "nowhere").exists()

    second = start_server(restored)
    second.stop()
    # With no server running, the command opens the store itself: the same backup.
    out = run_cli("backup", "--data-dir", str(data), "--to", str(tmp_path / "stopped"))
    assert out.returncode == 0, out.stderr
    out = run_cli("restore", "--from", str(tmp_path / "stopped"), "--data-dir", str(tmp_path / "from-stopped"))
    assert out.returncode == 0, out.stderr
    # On a base: the live backup, which lacks what came after it; the chain restores all of it.
    out = run_cli("backup", "--data-dir", str(data), "--to", str(tmp_path / "since"), "--base", str(dest))
    assert out.returncode == 0 and f"since the backup in {dest}" in out.stdout, out.stderr
    out = run_cli("restore", "--from", str(tmp_path / "since"), "--data-dir", str(tmp_path / "from-since"))
    assert out.returncode == 0, out.stderr

    async def spans_of(data_dir: Path) -> int:
        async with await Store.open(data_dir=data_dir) as store:
            rows = await store.backend.query(
                "SELECT count() AS n FROM spans WHERE service_name = {s:String}", {"s": SERVICE}
            )
            return int(rows[0]["n"])

    async def check() -> None:
        whole = await spans_of(data)  # an export may be stored and not acknowledged (its retry is)
        assert await spans_of(tmp_path / "from-stopped") == whole >= len(acks.acked)
        assert await spans_of(tmp_path / "from-since") == whole
        async with await Store.open(data_dir=restored) as store:
            rows = await store.backend.query(
                "SELECT trace_id AS t FROM spans WHERE service_name = {s:String}", {"s": SERVICE}
            )
            ids = [r["t"] for r in rows]
            assert len(ids) == len(set(ids)), "a span stored twice"
            assert {f"{t:032x}" for t in before} <= set(ids)
            tokens = await store.backend.query(
                "SELECT sum(input_tokens) AS n FROM traces WHERE has(services, {s:String})", {"s": SERVICE}
            )
            assert int(tokens[0]["n"]) == len(ids) * INPUT_TOKENS

    asyncio.run(check())


async def _media(live: Running, data: bytes) -> Path:
    """A file uploaded as the SDKs upload one; where the store keeps it."""
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    record, _ = await live.store.media.register(
        "default", trace_id="t" * 32, observation_id="", field="input", content_type="image/png",
        content_length=len(data), sha256_base64=digest, max_bytes=10**9, retention_days=0,
    )  # fmt: skip

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await live.store.media.upload("default", record.id, "image/png", chunks())
    assert isinstance(live.store.media.files, MediaFiles)
    return live.store.media.files.path("default", record.id)


async def test_backups_on_a_base_hold_what_changed_and_restore_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"
    full, since, later = tmp_path / "full", tmp_path / "since", tmp_path / "later"
    big, small, newest = os.urandom(2**20), os.urandom(1000), os.urandom(500)
    async with serving(data) as live:
        for _ in range(3):
            assert (await post(live, body(), PB))[0] == 200
        first = await _media(live, big)
        whole = await back_up(live.store, full)
        assert whole["format"] == 1 and "base" not in whole
        for _ in range(2):
            assert (await post(live, body(), PB))[0] == 200
        second = await _media(live, small)
        on_full = await back_up(live.store, since, full)
        assert on_full["format"] == 2 and on_full["base"] == str(full) and "files" not in on_full
        # The file the base holds as it is stays there; the new one is copied.
        rel_first, rel_second = first.relative_to(data), second.relative_to(data)
        assert (full / rel_first).read_bytes() == big and not (since / rel_first).exists()
        assert (since / rel_second).read_bytes() == small
        assert on_full["bytes"] < whole["bytes"] - len(big) // 2
        manifest = json.loads((since / MANIFEST).read_text())
        assert {rel_first.as_posix(), rel_second.as_posix()} <= set(manifest["files"])
        # A chain: the first file erased since, a third one new.
        first.unlink()
        third = await _media(live, newest)
        assert (await post(live, body(), PB))[0] == 200
        done = await back_up(live.store, later, since)
        assert done["base"] == str(since)
        assert not (later / rel_second).exists() and (later / third.relative_to(data)).read_bytes() == newest

        # Bases that are not whole backups, and destinations inside the base: refused, nothing made.
        held = sorted(p.relative_to(since) for p in since.rglob("*"))
        for dest, base, says in [
            (tmp_path / "x1", tmp_path / "nothing", "is not a whole tracehouse backup"),
            (tmp_path / "x2", data, "is not a whole tracehouse backup"),
            (since / "inside", since, "outside the base backup"),
        ]:
            with pytest.raises(InvalidInput, match=says):
                await back_up(live.store, dest, base)
            assert not dest.exists()
        assert sorted(p.relative_to(since) for p in since.rglob("*")) == held

    async def read(data_dir: Path) -> int:
        async with await Store.open(data_dir=data_dir) as store:
            return (await stored(store))[0]

    await restore(later, tmp_path / "r-later")
    assert await read(tmp_path / "r-later") == 6 * SPANS_PER_REQUEST
    assert not (tmp_path / "r-later" / rel_first).exists()  # erased before that backup
    assert (tmp_path / "r-later" / rel_second).read_bytes() == small  # from its base
    assert (tmp_path / "r-later" / third.relative_to(data)).read_bytes() == newest
    await restore(since, tmp_path / "r-since")
    assert await read(tmp_path / "r-since") == 5 * SPANS_PER_REQUEST
    assert (tmp_path / "r-since" / rel_first).read_bytes() == big  # from the whole backup
    assert (tmp_path / "r-since" / "encryption.key").read_bytes() == (data / "encryption.key").read_bytes()

    # A base moved away: the restore says which and where, and makes nothing.
    full.rename(tmp_path / "moved")
    with pytest.raises(InvalidInput, match=f"what changed since the backup in {full}, which is not there"):
        await restore(later, tmp_path / "r-broken")
    assert not (tmp_path / "r-broken").exists()


async def test_the_admin_endpoint_refuses_bad_backups_and_costs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    async with serving(data) as live:
        info = read_runtime(data)
        assert info is not None
        url = info.api_url + "/api/admin/backup"
        auth = {"Authorization": f"Bearer {info.admin_token}"}
        async with aiohttp.ClientSession() as session:
            for headers, payload, status, says in [
                ({}, {"to": str(tmp_path / "b")}, 401, "admin token"),
                (auth, b"not json", 400, ""),
                (auth, {}, 400, "to"),
                (auth, {"to": 5}, 400, "to"),
                (auth, {"to": ""}, 400, "to"),
                (auth, {"to": str(taken)}, 400, "already exists and is not an empty directory"),
                (auth, {"to": str(data / "inside")}, 400, "outside the data directory"),
                (auth, {"to": str(tmp_path)}, 400, "outside the data directory"),  # holds it
                (auth, {"to": "/proc/no/such"}, 400, "cannot make the backup's directory"),
                (auth, {"to": str(tmp_path / "b"), "base": 5}, 400, "base"),
                (auth, {"to": str(tmp_path / "b"), "base": ""}, 400, "base"),
                (auth, {"to": str(tmp_path / "b"), "base": str(taken)}, 400, "not a whole tracehouse backup"),
            ]:
                kwargs = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
                async with session.post(url, headers=headers, **kwargs) as r:  # type: ignore[arg-type]
                    text = await r.text()
                    assert r.status == status, (payload, r.status, text)
                    assert says in text, text
            assert (taken / "file").read_text() == "x" and sorted(p.name for p in taken.iterdir()) == ["file"]
            assert not (data / "inside").exists()
            # The server goes on: spans stored, and a good backup after the bad ones.
            assert (await post(live, body(), PB))[0] == 200
            async with session.post(url, headers=auth, json={"to": str(tmp_path / "good")}) as r:
                assert r.status == 201, await r.text()
                assert (await r.json())["path"] == str(tmp_path / "good")

            # Two backups into one directory at once: one is taken, the other refused without
            # touching it.
            async def one() -> tuple[int, str]:
                async with session.post(url, headers=auth, json={"to": str(tmp_path / "twice")}) as r:
                    return r.status, await r.text()

            answers = sorted(await asyncio.gather(one(), one()))
            assert [a[0] for a in answers] == [201, 400], answers
            assert "not an empty directory" in answers[1][1]
    for taken_once in ("good", "twice"):
        assert (tmp_path / taken_once / MANIFEST).is_file()
        assert not (tmp_path / taken_once / ".tracehouse-backup-in-progress").exists()
    await restore(tmp_path / "twice", tmp_path / "from-twice")
    async with await Store.open(data_dir=tmp_path / "from-twice") as store:
        assert (await stored(store))[0] == SPANS_PER_REQUEST

    # A disk without room for the copy (the operating system's answer is what is faked): refused
    # before anything is written, with what it needs.
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10 * 2**20))
    async with serving(data) as live:
        with pytest.raises(InvalidInput, match=r"disk with 10 MB free: the copy needs about \d+ MB"):
            await back_up(live.store, tmp_path / "full")
        assert (await post(live, body(), PB))[0] == 200
    with pytest.raises(InvalidInput, match=r"disk with 10 MB free"):
        await restore(tmp_path / "good", tmp_path / "full")
    assert not (tmp_path / "full").exists()
