"""Backups on a schedule (``backup_dir``): whole ones and chains on the newest, the newest ``keep``
kept restorable with their bases and nothing else deleted, a failure tried again later; a real
server backing itself up at start and saying so at /metrics; bad settings refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from storage import Store
from storage.backup import MANIFEST, read_manifest, restore
from storage.backup_schedule import BackupSchedule, Schedule, held
from tests.conftest import run_cli, serving, start_server
from tests.test_otlp_errors import PB, post
from tests.test_ui import browser_page
from tests.test_ui_first_run import api, sign_up
from tests.test_wal import SPANS_PER_REQUEST, body, stored
from tracehouse.errors import ConfigError
from tracehouse.settings import load_settings


async def test_scheduled_backups_chain_keep_and_restore(tmp_path: Path) -> None:
    data, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    (backups / "notes").mkdir()  # not a backup: never deleted
    (backups / "notes" / "README").write_text("ours")
    # What a backup cut short by a kill -9 leaves: named as the schedule names, no manifest. Deleted
    # at the next backup; a folder only like it (another name, or with a manifest) never is.
    for left in ("20261201T030000Z", "20261201T030000Z-000042"):
        (backups / left / "store").mkdir(parents=True)
        (backups / left / "store" / "part").write_bytes(b"x" * 1000)
    (backups / "20261201T030000Z.old").mkdir()
    # The schedule's clock is the test's: an hour and a minute further on for each backup (the
    # backups' own times are the real ones, a few seconds apart).
    now = [dt.datetime.now(dt.UTC)]
    reported: list[dt.datetime | None] = []
    async with serving(data) as live:
        assert live.ingest is not None
        schedule = BackupSchedule(
            live.store,
            Schedule(backups, dt.timedelta(hours=1), keep=3, whole_every=2),
            clock=lambda: now[0],
            on_done=reported.append,
        )
        made = []
        for _ in range(6):
            assert (await post(live, body(), PB))[0] == 200
            await live.ingest.batcher.settled()
            done = await schedule.run_once()
            assert done is not None
            made.append(Path(done["path"]))
            assert not (backups / "20261201T030000Z").exists() and not (backups / "20261201T030000Z-000042").exists()
            assert await schedule.run_once() is None  # not due again until an hour has passed
            now[0] += dt.timedelta(hours=1, minutes=1)
        # Whole, on it, whole, on it, ...: each chain two long.
        bases = [read_manifest(p).get("base") for p in made[2:]]
        assert bases == [None, str(made[2]), None, str(made[4])]
        # The newest three (3, 4, 5) kept with the base the third needs (2); 0 and 1 deleted.
        assert [b.path for b in held(backups)] == made[2:]
        assert not made[0].exists() and not made[1].exists()
        assert (backups / "notes" / "README").read_text() == "ours"
        assert (backups / "20261201T030000Z.old").is_dir()
        assert [at is not None for at in reported] == [True] * 6

        # A backup that fails (its directory cannot be made) is reported, and tried again after
        # 15 minutes, not at once; the ones held stay.
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        failing = BackupSchedule(
            live.store, Schedule(blocked / "backups", dt.timedelta(hours=1), 3, 2), clock=lambda: now[0],
            on_done=reported.append,
        )  # fmt: skip
        assert await failing.run_once() is None and reported[-1] is None and failing.last_error
        assert failing.due() == now[0] + dt.timedelta(minutes=15)
        now[0] += dt.timedelta(minutes=1)
        assert await failing.run_once() is None and len(reported) == 7  # not tried again yet
        assert len(held(backups)) == 4

    # The newest restores every span sent before it; one from the middle of a chain, those before it.
    for backup, requests in ((made[5], 6), (made[3], 4)):
        target = tmp_path / f"restored-{requests}"
        await restore(backup, target)
        async with await Store.open(data_dir=target) as store:
            assert (await stored(store))[:2] == (requests * SPANS_PER_REQUEST,) * 2


def test_a_server_backs_itself_up_at_start_and_says_so(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    server = start_server(tmp_path / "data", env={"TRACEHOUSE_BACKUP_DIR": str(backups)})
    try:
        deadline = time.monotonic() + 120
        while not list(backups.glob(f"*/{MANIFEST}")):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        [first] = held(backups)
        assert read_manifest(first.path)["format"] == 1  # whole
        with urllib.request.urlopen(server.api_url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()
        [line] = [x for x in metrics.splitlines() if x.startswith("tracehouse_backup_last_success_timestamp_seconds ")]
        assert float(line.split()[1]) == pytest.approx(first.created_at.timestamp())
        assert "backups every 24 h into" in server.log()
        # The doctor says they keep coming, or that they are late.
        data = str(tmp_path / "data")
        doctor = run_cli("doctor", "--data-dir", data, TRACEHOUSE_BACKUP_DIR=str(backups))
        assert f"ok   backups: 1 in {backups}, the newest 0.0 h old" in doctor.stdout, doctor.stdout
        late = run_cli("doctor", "--data-dir", data, TRACEHOUSE_BACKUP_DIR=str(backups),
                       TRACEHOUSE_BACKUP_EVERY_HOURS="0.00001")  # fmt: skip
        assert late.returncode == 1 and "late, the server's log says why" in late.stdout, late.stdout
        # The server's admin sees them in the organization's settings, in English and Chinese; no one
        # else may read them.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.api_url + "/api/v1/server/backups", timeout=10)
        assert refused.value.code == 401
        errors: list[str] = []
        with browser_page(errors) as page:
            sign_up(page, server.api_url)
            page.get_by_role("button", name="Sign out").wait_for()
            status, doc = api(page, "GET", "/api/v1/server/backups")
            assert status == 200 and doc["scheduled"] and doc["directory"] == str(backups), doc
            assert [(b["name"], b["base"]) for b in doc["backups"]] == [(first.path.name, None)]
            assert doc["backups"][0]["bytes"] > 0 and doc["nextDue"] and doc["lastError"] is None
            page.goto(server.api_url + "/organization/default/settings")
            page.get_by_role("heading", name="Backups of this server").wait_for()
            expect(page.get_by_text(f"Every 24 h into {backups}; the newest 7 kept")).to_be_visible()
            row = page.locator("tr", has_text=first.path.name)
            expect(row).to_contain_text("whole")
            expect(row).to_contain_text(re.compile(r"\d+(\.\d)? (KB|MB)"))
            # The newest's restore command, to copy.
            restore_with = f"tracehouse restore --from {backups}/{first.path.name} --data-dir NEW-DIR"
            expect(page.locator(".snippet pre")).to_have_text(restore_with)
            page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            page.get_by_role("button", name="Copy Restore the newest").click()
            assert page.evaluate("navigator.clipboard.readText()") == restore_with
            api(page, "PUT", "/api/v1/auth/preferences", {"locale": "zh-CN"})
            page.reload()
            page.get_by_role("heading", name="本服务器的备份").wait_for()
            expect(page.locator("tr", has_text=first.path.name)).to_contain_text("完整")
            expect(page.get_by_text(f"每 24 小时备份到 {backups}", exact=False)).to_be_visible()
        assert errors == [], errors
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"backup_dir": "{data}/backups"}, "outside the data directory"),
        ({"backup_dir": "{tmp}"}, "outside the data directory"),
        ({"backup_dir": "{tmp}/b", "clickhouse_url": "clickhouse://localhost:9000/db"}, "BACKUP DATABASE"),
        ({"backup_dir": "{tmp}/b", "backup_every_hours": 0}, "backup_every_hours"),
        ({"backup_dir": "{tmp}/b", "backup_keep": 0}, "backup_keep"),
        ({"backup_dir": "{tmp}/b", "backup_whole_every": "weekly"}, "backup_whole_every"),
    ],
)
def test_bad_backup_settings_are_refused(tmp_path: Path, overrides: dict[str, object], says: str) -> None:
    values = {
        k: v.format(data=tmp_path / "data", tmp=tmp_path) if isinstance(v, str) else v for k, v in overrides.items()
    }
    with pytest.raises(ConfigError, match=says):
        load_settings(data_dir=tmp_path / "data", **values)


async def test_a_schedule_due_now_with_no_backup_and_after_the_newest(tmp_path: Path) -> None:
    """Before any backup, one is due at once; after one, ``every`` after it (a restarted server does
    not back up again at start when a recent backup is there)."""
    now = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
    async with serving(tmp_path / "data") as live:
        schedule = BackupSchedule(live.store, Schedule(tmp_path / "b", dt.timedelta(hours=24), 7, 7), clock=lambda: now)
        assert schedule.due() <= now  # at once (the clock moves on: it must not chase it)
        made = await asyncio.wait_for(schedule.run_once(), 120)
        assert made is not None
        again = BackupSchedule(live.store, schedule.schedule, clock=lambda: now)
        assert again.due() == dt.datetime.fromisoformat(made["created_at"]) + dt.timedelta(hours=24)
