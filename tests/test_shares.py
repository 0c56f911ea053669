"""Traces shared by a public link: made public by the langfuse 5.x SDK (``set_trace_as_public``)
or from the UI's Share, read by anyone with the link and nothing else; then the whole flow in
chromium, signed in and signed out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from playwright.sync_api import expect

from tests.conftest import start_server
from tests.helpers import span, span_table
from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_ui import api, browser_page, new_key
from tests.test_ui_first_run import signed_up
from tracehouse.server import Running


async def call(live: Running, method: str, path: str, headers: dict[str, str] | None = None,
               body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:  # fmt: skip
    async with aiohttp.ClientSession() as s:
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with s.request(method, live.api_url + path, **kwargs) as r:
            return r.status, await r.json(content_type=None)


async def until_trace(live: Running, project: str, trace_id: str) -> None:
    for _ in range(100):
        if await live.store.reader.trace(project, trace_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"trace {trace_id} not stored")


async def langfuse_says_public(live: Running, key: dict[str, str], trace_id: str) -> set[bool]:
    """What Langfuse's read API answers for the trace's ``public``: by id (whole, and core
    fields only, which read no span), in the list, and on each of its observations in v2's list
    (SDK 5's ``api.observations.get_many()``, by default and with input and output)."""
    said = set()
    for fields in ("", "&fields=core,basic,io"):
        status, doc = await call(live, "GET", f"/api/public/v2/observations?traceId={trace_id}{fields}", key)
        assert status == 200, doc
        said.update(o["public"] for o in doc["data"])
    for fields in ("", "?fields=core"):
        status, doc = await call(live, "GET", f"/api/public/traces/{trace_id}{fields}", key)
        assert status == 200, doc
        said.add(doc["public"])
    for fields in ("", "&fields=core"):
        status, doc = await call(live, "GET", f"/api/public/traces?limit=50{fields}", key)
        said.update(t["public"] for t in doc["data"] if t["id"] == trace_id)
    return said


async def test_public_traces_by_sdk_and_by_choice(live: Running) -> None:
    pair = await make_key(live)
    key = basic(pair)
    ids = await asyncio.to_thread(run_sdk, "5", "v5_public_trace.py", live.api_url, pair)
    for trace_id in ids.values():
        await until_trace(live, "default", trace_id)
    for _ in range(100):  # the SDK sends its score apart from the spans
        if (await live.store.langfuse.scores("default", [ids["public"]], with_total=False))[0]:
            break
        await asyncio.sleep(0.1)

    # The SDK's public trace: read without credentials, spans and scores, no bookkeeping.
    status, doc = await call(live, "GET", f"/api/v1/public/traces/default/{ids['public']}")
    assert status == 200, doc
    assert sorted(s["name"] for s in doc["spans"]) == ["llm", "shared-answer"]
    assert [(s["name"], s["value"]) for s in doc["scores"]] == [("helpful", 1.0)]
    assert not any("langfuse.state" in s["span_attributes"] for s in doc["spans"])
    assert doc["media"] == {}  # no file in this one
    # Not public, unknown, or named under another project: the same 404, with nothing in it.
    for path in (f"default/{ids['private']}", "default/" + "f" * 32, f"nope/{ids['public']}",
                 f"default/{ids['private']}%2F..", "%20/x"):  # fmt: skip
        status, doc = await call(live, "GET", f"/api/v1/public/traces/{path}")
        assert status == 404 and "secret plan" not in str(doc), (path, doc)
    # Langfuse's read API answers ``public`` as the client said, in every shape.
    assert await langfuse_says_public(live, key, ids["public"]) == {True}
    assert await langfuse_says_public(live, key, ids["private"]) == {False}

    # The UI's choice, with the project's key (or a person's session): on, then off.
    status, doc = await call(live, "GET", f"/api/v1/traces/{ids['private']}/share?project=default", key)
    assert (status, doc) == (200, {"public": False, "by_client": False})
    status, doc = await call(
        live, "PUT", f"/api/v1/traces/{ids['private']}/share?project=default", key, {"public": True}
    )
    assert (status, doc) == (200, {"public": True, "by_client": False})
    status, doc = await call(live, "GET", f"/api/v1/public/traces/default/{ids['private']}")
    assert status == 200 and doc["spans"][0]["input"] == "secret plan"
    # Made private here, a trace its client sent as public is private: this choice wins.
    status, doc = await call(
        live, "PUT", f"/api/v1/traces/{ids['public']}/share?project=default", key, {"public": False}
    )
    assert (status, doc) == (200, {"public": False, "by_client": True})
    assert (await call(live, "GET", f"/api/v1/public/traces/default/{ids['public']}"))[0] == 404
    # Langfuse's read API follows the choice made here, both ways.
    assert await langfuse_says_public(live, key, ids["public"]) == {False}
    assert await langfuse_says_public(live, key, ids["private"]) == {True}
    # A trace the Langfuse ingestion API (SDK 2.x, Dify) sent as public, and one it did not.
    # Each with an observation, which has no user, session, tags or release of its own: v2's list
    # gives it its trace's, as Langfuse does.
    batch = [
        {"id": f"e{n}", "type": "trace-create", "timestamp": "2026-12-01T10:00:00.000Z",
         "body": {"id": trace_id, "name": "ingested", "public": public, "userId": "ann", "sessionId": "s-1",
                  "tags": ["b", "a"], "release": "r-7"}}
        for n, (trace_id, public) in enumerate((("c" * 32, True), ("d" * 32, False)))
    ] + [
        {"id": f"o{n}", "type": "span-create", "timestamp": "2026-12-01T10:00:01.000Z",
         "body": {"id": f"obs-{n}", "traceId": trace_id, "name": "step", "startTime": "2026-12-01T10:00:01.000Z"}}
        for n, trace_id in enumerate(("c" * 32, "d" * 32))
    ]  # fmt: skip
    status, doc = await call(live, "POST", "/api/public/ingestion", key, {"batch": batch})
    assert status == 207 and not doc["errors"], doc
    assert await langfuse_says_public(live, key, "c" * 32) == {True}
    assert await langfuse_says_public(live, key, "d" * 32) == {False}
    status, doc = await call(
        live, "GET", f"/api/public/v2/observations?traceId={'c' * 32}&fields=core,basic,trace_context", key
    )
    assert status == 200, doc
    assert [(o["name"], o["userId"], o["sessionId"], o["traceName"], o["tags"], o["release"]) for o in doc["data"]] == [
        ("step", "ann", "s-1", "ingested", ["a", "b"], "r-7")
    ]
    assert (await call(live, "GET", f"/api/v1/public/traces/default/{'c' * 32}"))[0] == 200

    # Another project's public trace is public under its own project only.
    other = await live.store.projects.create_project("other")
    await live.store.writer.write(span_table([span("a" * 32, "b" * 16, project=other.id, name="theirs")]))
    await live.store.shares.set(other.id, "a" * 32, True, "test")
    assert (await call(live, "GET", f"/api/v1/public/traces/{other.id}/{'a' * 32}"))[0] == 200
    assert (await call(live, "GET", f"/api/v1/public/traces/default/{'a' * 32}"))[0] == 404
    status, doc = await call(live, "GET", f"/api/v1/traces/{'a' * 32}/share?project=default", key)
    assert status == 404

    # Garbage: a 400 with why, or a 404; never a change.
    share = f"/api/v1/traces/{ids['private']}/share?project=default"
    for body in ({"public": "yes"}, {"public": None}, {}, {"public": True, "x": 1}, [True]):
        status, doc = await call(live, "PUT", share, key, body)
        assert status == 400 and "invalid request body" in doc["error"]["message"], (body, doc)
    assert (await call(live, "PUT", share, key, raw=b"\xff{"))[0] == 400
    assert (await call(live, "PUT", share, None, {"public": False}))[0] in (401, 403)
    assert (await call(live, "GET", f"/api/v1/public/traces/default/{ids['private']}"))[0] == 200  # unchanged


def test_share_from_the_trace_view_and_read_signed_out(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        errors: list[str] = []
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            pair = new_key(page, "share")
            ids = run_sdk("5", "v5_public_trace.py", srv.api_url, pair)
            link = f"{srv.api_url}/project/default/traces/{ids['private']}"
            page.goto(link)
            page.get_by_role("heading", name="private-answer", exact=True).wait_for()
            page.get_by_role("button", name="Share").click()
            dialog = page.get_by_role("dialog")
            box = dialog.get_by_label("Public: anyone with the link can see this trace")
            expect(box).not_to_be_checked()
            box.check()
            expect(dialog.locator("pre")).to_have_text(link)
            dialog.get_by_role("button", name="Close").click()

            # Someone signed out, with the link: the trace, read-only.
            context = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
            guest = context.new_page()
            guest_errors: list[str] = []
            guest.on("console", lambda m: guest_errors.append(m.text) if m.type == "error" else None)
            guest.goto(link)
            guest.get_by_role("heading", name="private-answer", exact=True).wait_for()
            expect(guest.locator(".shared-banner")).to_contain_text("A shared trace")
            panel = guest.locator(".panel")
            expect(panel).to_contain_text("secret plan")
            for absent in ("Share", "Add to queue", "Add to dataset", "Comment", "Open in playground"):
                assert guest.get_by_role("button", name=absent).count() == 0, absent
            assert guest.get_by_text("Comments", exact=True).count() == 0
            # The SDK's public trace too, with its generation and score.
            guest.goto(f"{srv.api_url}/project/default/traces/{ids['public']}")
            guest.locator(".row", has_text="llm").click()
            expect(panel).to_contain_text("Rayleigh scattering.")
            assert guest_errors == [], guest_errors

            # A multimodal trace (the SDK uploaded its image and PDF): shown from signed links.
            media = run_sdk("5", "media.py", srv.api_url, pair)
            assert (
                api(page, "PUT", f"/api/v1/traces/{media['trace_id']}/share?project=default", {"public": True})[0]
                == 200
            )
            guest.goto(f"{srv.api_url}/project/default/traces/{media['trace_id']}")
            guest.locator(".row", has_text="vision").click()
            expect(guest.locator(".axis-row .label")).to_have_text("1 span")  # one, not "1 spans"
            image = panel.locator("img.media-image")
            expect(image).to_have_count(1)
            guest.wait_for_function("document.querySelector('img.media-image').naturalWidth > 0")
            assert "/api/public/media/" in image.get_attribute("src") and "sig=" in image.get_attribute("src")
            assert guest_errors == [], guest_errors

            # Unshared: the link asks to sign in.
            page.get_by_role("button", name="Share").click()
            page.get_by_role("dialog").get_by_label("Public: anyone with the link can see this trace").uncheck()
            expect(page.get_by_role("dialog").locator("pre")).to_be_hidden()
            guest.goto(link)
            guest.get_by_role("heading", name="Sign in").wait_for()
            context.close()
        assert errors == [], errors
    finally:
        srv.stop()
