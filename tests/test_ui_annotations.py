"""An annotation queue worked through in a real browser with the keyboard: traces added from the
trace view, a category chosen with a digit, Ctrl+Enter to complete and move on, and the scores
stored with source ANNOTATION."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.test_ui import ARTIFACTS, asked, browser_page
from tests.test_ui_first_run import PASSWORD, api, server, sign_out, sign_up  # noqa: F401 (fixture)
from tests.test_ui_prompts import _ingest

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "annotations"


def _signed_up(page: Page, server: Server, note: str) -> tuple[dict[str, str], str]:  # noqa: F811
    """A new account's key pair (named ``note``) and the time now, as Langfuse's events carry it."""
    sign_up(page, server.api_url)
    page.get_by_role("button", name="Sign out").wait_for()
    _, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": note})
    return pair, datetime.now(UTC).isoformat().replace("+00:00", "Z")


def test_work_through_a_queue_with_the_keyboard(server: Server, tmp_path: Path) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        pair, stamp = _signed_up(page, server, "annotate")
        traces = [uuid.uuid4().hex for _ in range(2)]
        # The second trace has no input or output of its own: its generation's are the trace's,
        # chat messages shown as a chat.
        _ingest(server, pair, [
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
             "body": {"id": traces[0], "name": "chat-0", "timestamp": stamp, "input": "question 0",
                      "output": "answer 0", "sessionId": "s-review"}},
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
             "body": {"id": traces[1], "name": "chat-1", "timestamp": stamp, "sessionId": "s-review"}},
            {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
             "body": {"id": str(uuid.uuid4()), "traceId": traces[1], "name": "llm", "startTime": stamp,
                      "input": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "question 1"}],
                      "output": "answer 1"}},
        ])  # fmt: skip
        # A score config and a queue, from the UI.
        page.goto(server.api_url + "/project/default/annotation-queues")
        page.get_by_label("Score name").fill("helpful")
        page.get_by_label("Score type").select_option("BOOLEAN")
        page.get_by_role("button", name="Add score config").click()
        page.locator("tr", has_text="helpful").wait_for()
        page.get_by_label("Queue name").fill("review")
        page.get_by_label("helpful", exact=True).check()
        page.get_by_role("button", name="Create queue").click()
        page.get_by_role("link", name="review").click()
        # Empty: how to fill it, and the way back (the page said only "The queue is empty.").
        page.get_by_text('Add traces, observations or sessions to it with "Add to queue" on their pages.').wait_for()
        page.get_by_role("link", name="← Annotation queues").click()
        page.get_by_role("link", name="review").wait_for()
        # Both traces into the queue from the trace view.
        for t in traces:
            page.goto(server.api_url + f"/project/default/traces/{t}")
            page.get_by_role("button", name="Add to queue").click()
            page.locator("dialog").get_by_role("button", name="Add to queue").click()
            page.get_by_role("heading", name="review").wait_for()
        expect(page.get_by_text("0 of 2 done")).to_be_visible()
        expect(page.locator(".annotation-object pre").first).to_have_text("question 0")
        page.screenshot(path=str(SHOTS / "queue.png"))
        # Keyboard only: "1" picks True, Ctrl+Enter completes and moves on; "2" picks False.
        page.keyboard.press("1")
        expect(page.get_by_role("button", name="1 True")).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Control+Enter")
        expect(page.locator(".annotation-object .chat .msg.role-user")).to_contain_text("question 1")
        expect(page.locator(".annotation-object .chat .msg.role-system")).to_contain_text("Be brief.")
        expect(page.get_by_text("1 of 2 done")).to_be_visible()
        page.keyboard.press("2")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_text("2 of 2 done")).to_be_visible()
        # The whole conversation next, from its session page: every turn shown in the queue.
        page.goto(server.api_url + "/project/default/sessions/s-review")
        page.get_by_role("button", name="Add to queue").click()
        page.locator("dialog").get_by_role("button", name="Add to queue").click()
        expect(page.get_by_text("2 of 3 done")).to_be_visible()
        expect(page.locator(".annotation-object")).to_contain_text("question 0\n→ answer 0")
        expect(page.locator(".annotation-object")).to_contain_text('"content": "question 1"')
        expect(page.locator(".annotation-object")).to_contain_text("→ answer 1")
        page.keyboard.press("1")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_text("3 of 3 done")).to_be_visible()
        # Changed from the list: renamed, described, given a second score; its items stay.
        page.goto(server.api_url + "/project/default/annotation-queues")
        page.get_by_label("Score name").fill("clarity")
        page.get_by_label("Score type").select_option("NUMERIC")
        page.get_by_label("Score description").fill("How easy the answer is to follow")
        page.get_by_role("button", name="Add score config").click()
        expect(page.locator("tr", has_text="clarity")).to_contain_text("How easy the answer is to follow")
        # A config changed in place: its range given, its type kept; a category kept keeps its
        # value (scores given with it keep their meaning), a new one counts on.
        page.get_by_role("button", name="Change the score config clarity").click()
        expect(page.get_by_label("Score name")).to_have_value("clarity")
        expect(page.get_by_text("Changing the score config clarity:")).to_be_visible()
        expect(page.get_by_label("Score type")).to_be_disabled()
        page.get_by_label("Minimum").fill("1")
        page.get_by_label("Maximum").fill("5")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("tr", has_text="clarity")).to_contain_text("1 to 5")
        expect(page.get_by_text("Changing the score config clarity:")).to_be_hidden()
        expect(page.get_by_role("button", name="Add score config")).to_be_visible()
        page.get_by_label("Score name").fill("tone")
        page.get_by_label("Score type").select_option("CATEGORICAL")
        page.get_by_label("Categories").fill("calm, rude")
        page.get_by_role("button", name="Add score config").click()
        page.get_by_role("button", name="Change the score config tone").click()
        expect(page.get_by_label("Categories")).to_have_value("calm, rude")
        page.get_by_label("Categories").fill("rude, kind")
        page.get_by_label("Score description").fill("How the answer sounds")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("tr", has_text="tone")).to_contain_text("How the answer sounds")
        _, listed = api(page, "GET", "/api/public/score-configs?project=default")
        tone = next(c for c in listed["data"] if c["name"] == "tone")
        assert tone["categories"] == [{"label": "rude", "value": 1}, {"label": "kind", "value": 2}], tone
        clarity = next(c for c in listed["data"] if c["name"] == "clarity")
        assert (clarity["dataType"], clarity["minValue"], clarity["maxValue"]) == ("NUMERIC", 1, 5), clarity
        page.get_by_role("button", name="Change the queue review").click()
        expect(page.get_by_label("Queue name")).to_have_value("review")
        expect(page.get_by_text("Changing the queue review:")).to_be_visible()
        expect(page.get_by_label("helpful", exact=True)).to_be_checked()
        expect(page.get_by_label("clarity", exact=True)).not_to_be_checked()
        page.get_by_label("Queue name").fill("review again")
        page.get_by_label("Queue description").fill("Is the answer right for the question?")
        page.get_by_label("clarity", exact=True).check()
        page.get_by_label("Assign to Ada").check()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("tr", has_text="review again")).to_contain_text("Ada")
        # Assigned to me: the queues of others can be left out of the list.
        _, listed = api(page, "GET", "/api/public/score-configs?project=default")
        helpful = next(c["id"] for c in listed["data"] if c["name"] == "helpful")
        status, _ = api(page, "POST", "/api/public/annotation-queues?project=default",
                        {"name": "someone else's", "scoreConfigIds": [helpful]})  # fmt: skip
        assert status == 200
        page.reload()
        page.get_by_label("Only queues assigned to me").check()
        expect(page.get_by_role("link", name="someone else's")).to_have_count(0)
        page.get_by_role("button", name="Change the queue review again").click()
        expect(page.get_by_label("Assign to Ada")).to_be_checked()
        page.get_by_role("button", name="Cancel").click()
        page.get_by_label("Only queues assigned to me").uncheck()
        remove = page.locator("tr", has_text="someone else's").get_by_role("button", name="Delete").click
        asked(page, remove, accept=True)
        expect(page.get_by_role("link", name="someone else's")).to_have_count(0)
        page.locator("tr", has_text="helpful, clarity").get_by_role("link", name="review again").click()
        page.get_by_text("Is the answer right for the question?").wait_for()
        expect(page.get_by_text("3 of 3 done")).to_be_visible()
        expect(page.get_by_role("spinbutton", name="clarity")).to_have_value("")
        expect(page.locator(".score-control", has_text="clarity")).to_contain_text("How easy the answer is to follow")
        # A completed item shows what was given (it showed nothing chosen); changed, it stays one score.
        expect(page.get_by_role("button", name="1 True")).to_have_attribute("aria-pressed", "true")
        page.get_by_role("spinbutton", name="clarity").fill("4")
        page.get_by_label("Comment").fill("clear enough")
        page.get_by_role("button", name="Complete and next").click()
        page.get_by_role("button", name="Skip").click()
        page.get_by_role("button", name="Previous").click()
        expect(page.get_by_role("spinbutton", name="clarity")).to_have_value("4")
        expect(page.get_by_label("Comment")).to_have_value("clear enough")
        expect(page.get_by_role("button", name="1 True")).to_have_attribute("aria-pressed", "true")
        # Every item listed on demand, who completed it; the session taken out of the queue.
        page.get_by_text("All items (3)").click()
        items = page.locator(".queue-items tbody tr")
        expect(items).to_have_count(3)
        # Each object by its name (its id was all the list said), its id on hover.
        expect(items.nth(0).get_by_role("link", name="chat-0")).to_have_attribute("title", traces[0])
        expect(items.nth(1).get_by_role("link", name="chat-1")).to_be_visible()
        expect(items.nth(2).get_by_role("link", name="s-review")).to_be_visible()
        expect(items.nth(2)).to_contain_text("session")
        expect(items.nth(2)).to_contain_text("Ada")
        page.screenshot(path=str(SHOTS / "queue-changed.png"), full_page=True)
        remove = page.get_by_role("button", name="Remove item 3 from the queue").click
        assert asked(page, remove, accept=True) == "Remove this session from the queue? Scores given on it stay."
        expect(page.get_by_text("2 of 2 done")).to_be_visible()
        page.get_by_text("All items (2)").click()
        expect(items).to_have_count(2)
        # A queue of 102 items lists them a hundred at a time, opening at the current item's page,
        # each page's objects by name.
        _, queues = api(page, "GET", "/api/public/annotation-queues?project=default")
        _, big = api(page, "POST", "/api/public/annotation-queues?project=default",
                     {"name": "big", "scoreConfigIds": queues["data"][0]["scoreConfigIds"]})  # fmt: skip
        other = big["id"]
        added = [api(page, "POST", f"/api/public/annotation-queues/{other}/items?project=default", body)[1]
                 for body in [*({"objectId": f"s-{n}", "objectType": "SESSION"} for n in range(100)),
                              {"objectId": traces[0]}, {"objectId": traces[1]}]]  # fmt: skip
        page.goto(server.api_url + f"/project/default/annotation-queues/{other}?item={added[100]['id']}")
        page.get_by_text("All items (102)").click()
        expect(items).to_have_count(2)
        expect(page.locator(".queue-items .pager")).to_contain_text("Page 2 of 2")
        expect(items.nth(0)).to_contain_text("101")
        expect(items.nth(1).get_by_role("link", name="chat-1")).to_have_attribute("title", traces[1])
        page.locator(".queue-items").get_by_role("button", name="Previous page").click()
        expect(items).to_have_count(100)
        expect(items.nth(99).get_by_role("link", name="s-99")).to_be_visible()
        page.locator(".queue-items").get_by_role("button", name="Next page").click()
        expect(items.nth(0).get_by_role("link", name="chat-0")).to_be_visible()
        assert api(page, "DELETE", f"/api/v1/annotation-queues?project=default&id={other}")[0] == 200
        # The queue deleted from the list, after a question; the scores given in it stay (below).
        page.goto(server.api_url + "/project/default/annotation-queues")
        remove = page.locator("tr", has_text="review again").get_by_role("button", name="Delete").click
        question = "Delete the queue review again? Its items go with it; the scores given in it stay."
        assert asked(page, remove, accept=True) == question
        page.get_by_text("No queue yet.", exact=False).wait_for()
    assert not errors, errors
    token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
    values = {}
    for t in traces:
        request = urllib.request.Request(
            server.api_url + f"/api/public/scores?traceId={t}", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            data = json.loads(r.read())["data"]
        assert all(s["source"] == "ANNOTATION" for s in data)
        values[t] = sorted((s["name"], s["value"], s["comment"]) for s in data)
    # The first item completed again with clarity: one score each, the comment on both.
    assert values[traces[0]] == [("clarity", 4.0, "clear enough"), ("helpful", 1.0, "clear enough")]
    assert values[traces[1]] == [("helpful", 0.0, None)]
    request = urllib.request.Request(
        server.api_url + "/api/public/scores?name=helpful&limit=50", headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        data = json.loads(r.read())["data"]
    assert [(s["sessionId"], s["value"]) for s in data if s.get("sessionId")] == [("s-review", 1.0)]


def _signed_up_with_traces_and_queue(
    page: Page,
    srv: Server,
    traces: dict[str, str],
    queue_name: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Signed up, a key pair, ``traces`` (id -> name) sent through Langfuse's ingestion API, and an
    empty queue scored with a boolean config: the key pair and the queue."""
    sign_up(page, srv.api_url)
    page.get_by_role("button", name="Sign out").wait_for()
    _, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": queue_name})
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    events = [{"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
               "body": {"id": t, "name": name, "timestamp": stamp}} for t, name in traces.items()]  # fmt: skip
    _ingest(srv, pair, events)
    _, config = api(page, "POST", "/api/public/score-configs?project=default", {"name": "ok", "dataType": "BOOLEAN"})
    _, queue = api(page, "POST", "/api/public/annotation-queues?project=default",
                   {"name": queue_name, "scoreConfigIds": [config["id"]]})  # fmt: skip
    return pair, queue


def test_bulk_add_from_the_traces_list(server: Server) -> None:  # noqa: F811
    errors: list[str] = []
    with browser_page(errors) as page:
        traces = [uuid.uuid4().hex for _ in range(3)]
        _, queue = _signed_up_with_traces_and_queue(
            page, server, {t: f"bulk-{i}" for i, t in enumerate(traces)}, "bulk-q"
        )
        page.goto(server.api_url + "/project/default/traces")
        page.get_by_role("checkbox", name="Select trace bulk-2").wait_for()
        page.get_by_role("checkbox", name="Select all traces").check()
        expect(page.locator(".bulk .count")).to_have_text("3 selected")
        page.get_by_role("checkbox", name="Select trace bulk-0").uncheck()
        expect(page.locator(".bulk .count")).to_have_text("2 selected")
        page.locator(".bulk").get_by_role("button", name="Add to queue").click()
        expect(page.locator(".bulk [role=status]")).to_have_text("Added 2 to bulk-q.")
        _, items = api(page, "GET", f"/api/public/annotation-queues/{queue['id']}/items?project=default")
        assert sorted(i["objectId"] for i in items["data"]) == sorted(traces[1:])
    assert not errors, errors


def test_a_queue_longer_than_a_page(server: Server) -> None:  # noqa: F811
    """A queue of 101 traces (more than the API's page of 100): counted, reached and worked whole."""
    import httpx

    errors: list[str] = []
    with browser_page(errors) as page:
        traces = [f"long-{i:03d}" for i in range(101)]
        pair, queue = _signed_up_with_traces_and_queue(page, server, {t: t for t in traces}, "long-q")
        auth = (pair["public_key"], pair["secret_key"])
        with httpx.Client(base_url=server.api_url, auth=auth) as client:
            for t in traces:
                r = client.post(f"/api/public/annotation-queues/{queue['id']}/items", json={"objectId": t})
                assert r.status_code == 200, r.text
        page.goto(server.api_url + "/project/default/annotation-queues")
        expect(page.locator("tr", has_text="long-q")).to_contain_text("0 of 101 done")
        page.get_by_role("link", name="long-q").click()
        expect(page.locator(".page-head")).to_contain_text("0 of 101 done")
        expect(page.get_by_text("Item 1 of 101")).to_be_visible()
        # The last item, past the API's first page: reached (j from the 100th), and completed.
        with httpx.Client(base_url=server.api_url, auth=auth) as client:
            items = client.get(f"/api/public/annotation-queues/{queue['id']}/items", params={"limit": 100}).json()
        page.goto(f"{server.api_url}/project/default/annotation-queues/{queue['id']}?item={items['data'][-1]['id']}")
        expect(page.get_by_text("Item 100 of 101")).to_be_visible()
        page.keyboard.press("j")
        expect(page.get_by_text("Item 101 of 101")).to_be_visible()
        expect(page.get_by_role("link", name="long-100")).to_be_visible()
        page.keyboard.press("1")
        page.keyboard.press("Control+Enter")
        expect(page.locator(".page-head")).to_contain_text("1 of 101 done")
    assert not errors, errors


def test_a_viewer_reads_a_queue_without_scoring_it(server: Server) -> None:  # noqa: F811
    """A VIEWER may read a queue but not score (the API refuses): no score buttons, no Complete,
    and the keys that would complete an item do nothing; j and k still move through it."""
    errors: list[str] = []
    with browser_page(errors) as page:
        traces = {uuid.uuid4().hex: "first", uuid.uuid4().hex: "second"}
        _, queue = _signed_up_with_traces_and_queue(page, server, traces, "review")
        for t in traces:
            status, _ = api(page, "POST", f"/api/public/annotation-queues/{queue['id']}/items?project=default",
                            {"objectId": t, "objectType": "TRACE"})  # fmt: skip
            assert status == 200
        status, invitation = api(
            page, "POST", "/api/v1/organizations/default/invitations", {"email": "vic@example.com", "role": "VIEWER"}
        )
        assert status == 201, invitation
        sign_out(page)
        page.goto(invitation["url"])
        page.get_by_label("Choose a password (8+ characters)").fill(PASSWORD)
        page.get_by_role("button", name="Join").click()
        page.get_by_role("button", name="Sign out").wait_for()
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(server.api_url + f"/project/default/annotation-queues/{queue['id']}")
        expect(page.get_by_text("Item 1 of 2")).to_be_visible()
        expect(page.get_by_text("You can read this queue; scoring its items needs the Member role")).to_be_visible()
        expect(page.get_by_role("button", name="Complete and next")).to_have_count(0)
        expect(page.get_by_role("button", name="1 True")).to_have_count(0)
        expect(page.get_by_label("Comment")).to_have_count(0)
        page.keyboard.press("1")
        page.keyboard.press("Control+Enter")
        page.keyboard.press("j")
        expect(page.get_by_text("Item 2 of 2")).to_be_visible()
        expect(page.locator(".page-head")).to_contain_text("0 of 2 done")
        assert posts == []  # nothing tried that the API would refuse
    assert not errors, errors


def test_comment_on_a_trace_in_the_browser(server: Server) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        pair, stamp = _signed_up(page, server, "comments")
        trace = uuid.uuid4().hex
        _ingest(server, pair, [{"id": "c1", "type": "trace-create", "timestamp": stamp,
                                "body": {"id": trace, "name": "commented", "timestamp": stamp}}])  # fmt: skip
        page.goto(server.api_url + f"/project/default/traces/{trace}")
        page.get_by_text("No comments yet.").wait_for()
        page.get_by_label("Comment", exact=True).fill("The answer cites the wrong year.")
        page.get_by_role("button", name="Comment", exact=True).click()
        expect(page.locator(".comment-text")).to_have_text("The answer cites the wrong year.")
        expect(page.locator(".comment .muted").first).to_contain_text("You")
        page.screenshot(path=str(SHOTS / "comment.png"))
        # Deleting a comment asks first (declined: it stays).
        delete = page.locator(".comment").get_by_role("button", name="Delete").click
        assert asked(page, delete, accept=False) == "Delete this comment? It cannot be brought back."
        expect(page.locator(".comment-text")).to_have_count(1)
        asked(page, delete, accept=True)
        page.get_by_text("No comments yet.").wait_for()
    assert not errors, errors


def test_annotate_a_trace_without_a_queue(server: Server) -> None:  # noqa: F811
    """Annotate on the trace view: scores by the project's configs on the trace or one observation,
    the person's own values filled in to change them, and a score taken back."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        pair, stamp = _signed_up(page, server, "annotate")
        trace, generation = uuid.uuid4().hex, f"gen-{uuid.uuid4().hex[:8]}"
        _ingest(server, pair, [
            {"id": "a1", "type": "trace-create", "timestamp": stamp,
             "body": {"id": trace, "name": "support-chat", "timestamp": stamp, "input": "hi", "output": "hello",
                      "sessionId": "s-annotated"}},
            {"id": "a2", "type": "generation-create", "timestamp": stamp,
             "body": {"id": generation, "traceId": trace, "name": "llm", "startTime": stamp, "output": "hello"}},
        ])  # fmt: skip
        for config in (
            {"name": "helpful", "dataType": "BOOLEAN"},
            {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        ):
            assert api(page, "POST", "/api/public/score-configs?project=default", config)[0] == 200
        page.goto(server.api_url + f"/project/default/traces/{trace}")
        page.get_by_role("button", name="Annotate").click()
        dialog = page.locator("dialog.annotate")
        expect(dialog.get_by_role("heading")).to_have_text("Annotate support-chat")
        dialog.get_by_role("button", name="1 True").click()
        dialog.get_by_label("quality").fill("4")
        dialog.get_by_label("Comment").fill("polite")
        dialog.get_by_role("button", name="Save scores").click()
        scores = page.locator(".detail ul.scores li")
        expect(scores).to_have_count(2)
        expect(scores.filter(has_text="quality")).to_contain_text("quality: 4 · a person — polite")
        page.screenshot(path=str(SHOTS / "annotate.png"), full_page=True)

        # Again: the person's values are there to change; still one score per config.
        page.get_by_role("button", name="Annotate").click()
        expect(dialog.get_by_label("quality")).to_have_value("4")
        expect(dialog.get_by_role("button", name="1 True")).to_have_attribute("aria-pressed", "true")
        dialog.get_by_label("quality").fill("5")
        dialog.get_by_role("button", name="Save scores").click()
        expect(scores.filter(has_text="quality")).to_contain_text("quality: 5")
        expect(scores).to_have_count(2)
        trace_page = page.url
        # The traces list filtered by the score (More filters → Score): in, then out.
        page.goto(server.api_url + "/project/default/traces")
        page.locator("details.more-filters summary").click()
        page.get_by_label("Score, e.g. correctness<0.5").focus()  # suggests filters of the window's scores
        options = page.locator("#suggest-score option")
        expect(options).to_have_count(3)
        assert sorted(options.evaluate_all("os => os.map((o) => o.value)")) == [
            "helpful=True",
            "quality<5",
            "quality>=5",
        ]
        page.get_by_label("Score, e.g. correctness<0.5").fill("quality>=5")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("main table tbody tr")).to_have_count(1)
        expect(page).to_have_url(re.compile(r"score=quality%3E%3D5"))
        page.get_by_label("Score, e.g. correctness<0.5").fill("quality<5")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text("No traces match in this range.").wait_for()
        # The dashboard's scores open the traces that have them.
        page.goto(server.api_url + "/project/default/dashboard")
        scores_card = page.locator(".card", has=page.get_by_role("heading", name="Scores"))
        scores_card.get_by_role("link", name="quality").click()
        expect(page).to_have_url(re.compile(r"/traces\?.*score=quality%3E%3D5"))
        expect(page.locator("main table tbody tr")).to_have_count(1)
        page.goto(trace_page)
        # Out of the config's range: the form does not send it (the server refuses it too).
        page.get_by_role("button", name="Annotate").click()
        dialog.get_by_label("quality").fill("9")
        dialog.get_by_role("button", name="Save scores").click()
        assert dialog.get_by_label("quality").evaluate("e => e.checkValidity()") is False
        dialog.get_by_role("button", name="Cancel").click()
        expect(scores.filter(has_text="quality")).to_contain_text("quality: 5")

        # Taken back, after a question.
        remove = scores.filter(has_text="quality").get_by_role("button", name="Delete the score quality").click
        assert asked(page, remove, accept=True) == "Delete the score quality a person gave?"
        expect(scores).to_have_count(1)
        expect(scores).to_contain_text("helpful")

        # On one observation: its panel shows it, the trace's does not.
        page.goto(server.api_url + f"/project/default/traces/{trace}?observation={generation}")
        page.get_by_role("heading", name="llm").wait_for()
        page.get_by_role("button", name="Annotate").click()
        expect(dialog.get_by_label("The whole trace")).not_to_be_checked()
        dialog.get_by_role("button", name="2 False").click()
        dialog.get_by_role("button", name="Save scores").click()
        expect(scores).to_have_count(1)
        expect(scores).to_contain_text("helpful: False · a person")
        status, given = api(page, "GET", f"/api/v1/traces/{trace}?project=default")
        assert status == 200
        assert sorted((s["name"], s["observation_id"], s["source"]) for s in given["scores"]) == [
            ("helpful", "", "ANNOTATION"), ("helpful", generation, "ANNOTATION"),
        ]  # fmt: skip

        # The session's own scores, on its page (its traces' are theirs).
        page.goto(server.api_url + "/project/default/sessions/s-annotated")
        page.get_by_role("heading", name="Session s-annotated").wait_for()
        expect(page.locator("ul.scores")).to_have_count(0)
        page.get_by_role("button", name="Annotate").click()
        expect(dialog.get_by_role("heading")).to_have_text("Annotate session s-annotated")
        dialog.get_by_label("quality").fill("3")
        dialog.get_by_role("button", name="Save scores").click()
        expect(page.locator("ul.scores li")).to_have_text("quality: 3 · a person×")
        remove = page.get_by_role("button", name="Delete the score quality").click
        assert asked(page, remove, accept=True) == "Delete the score quality a person gave?"
        expect(page.locator("ul.scores")).to_have_count(0)
    assert not errors, errors
