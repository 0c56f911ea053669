"""Datasets in a real browser: add a trace's generation to a new dataset from the trace view (input
and output prefilled, the expected output edited), add and archive items, export, then compare two
runs of the dataset side by side, with a repeated item's spread and the difference to the baseline."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.fake_judge import in_thread, threaded_fake_judge
from tests.fake_openai import fake_openai
from tests.test_ui import ARTIFACTS, browser_page
from tests.test_ui_first_run import api, server, sign_up  # noqa: F401 (fixture)
from tests.test_ui_prompts import _ingest

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "datasets"


def _run(srv: Server, pair: dict[str, str], item_id: str, run: str, answer: str, score: float) -> None:
    trace_id = uuid.uuid4().hex
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    _ingest(
        srv,
        pair,
        [
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
             "body": {"id": trace_id, "name": "app", "timestamp": stamp, "output": answer}},
            {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
             "body": {"id": f"g-{trace_id}", "traceId": trace_id, "name": "llm", "model": "gpt-4o-mini",
                      "startTime": stamp, "endTime": stamp, "output": answer, "usage": {"input": 10, "output": 3}}},
            {"id": str(uuid.uuid4()), "type": "score-create", "timestamp": stamp,
             "body": {"id": str(uuid.uuid4()), "traceId": trace_id, "name": "correct", "value": score}},
        ],
    )  # fmt: skip
    import base64
    import json
    import urllib.request

    token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
    body = {"runName": run, "datasetItemId": item_id, "traceId": trace_id}
    request = urllib.request.Request(
        srv.api_url + "/api/public/dataset-run-items",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200


def test_datasets_in_the_browser(server: Server, tmp_path: Path) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        status, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "datasets"})
        assert status == 201
        # A production trace whose answer was wrong: add it to a new dataset from the trace view.
        trace_id = uuid.uuid4().hex
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        _ingest(
            server,
            pair,
            [
                {"id": "t1", "type": "trace-create", "timestamp": stamp,
                 "body": {"id": trace_id, "name": "capital-bot", "timestamp": stamp}},
                {"id": "g1", "type": "generation-create", "timestamp": stamp,
                 "body": {"id": "gen-capital", "traceId": trace_id, "name": "answer", "model": "gpt-4o-mini",
                          "startTime": stamp, "endTime": stamp, "input": {"country": "Australia"}, "output": "Sydney"}},
            ],
        )  # fmt: skip
        page.goto(server.api_url + f"/project/default/traces/{trace_id}?observation=gen-capital")
        page.get_by_role("heading", name="answer").wait_for()
        page.get_by_role("button", name="Add to dataset").click()
        dialog = page.locator("dialog.add-to-dataset")
        expect(dialog.get_by_label("Input")).to_have_value('{"country":"Australia"}')
        expect(dialog.get_by_label("Expected output", exact=True)).to_have_value("Sydney")
        dialog.get_by_label("New dataset name").fill("capitals")
        dialog.get_by_label("Expected output", exact=True).fill("Canberra")
        page.screenshot(path=str(SHOTS / "add-to-dataset.png"))
        dialog.get_by_role("button", name="Add to dataset").click()
        page.get_by_role("heading", name="capitals").wait_for()
        row = page.locator("tr", has_text="Australia")
        expect(row).to_contain_text("Canberra")
        expect(row.get_by_role("link", name="trace")).to_have_attribute(
            "href", f"/project/default/traces/{trace_id}?observation=gen-capital"
        )

        # Another item by hand, then archive it.
        page.get_by_role("button", name="Add item").click()
        page.get_by_label("Input", exact=True).fill('{"country": "Canada"}')
        page.get_by_label("Expected output", exact=True).fill("Ottawa")
        page.get_by_role("button", name="Add item").last.click()
        canada = page.locator("tr", has_text="Canada")
        expect(canada).to_contain_text("ACTIVE")
        canada.get_by_role("button", name="Archive").click()
        expect(page.locator("tr", has_text="Canada")).to_contain_text("ARCHIVED")
        expect(page.get_by_role("link", name="JSONL", exact=True)).to_be_visible()

        # Two runs: the baseline gets Australia right once; the new one twice out of three.
        status, ds = api(page, "GET", "/api/v1/dataset?project=default&name=capitals")
        australia = next(i["id"] for i in ds["items"] if i["input"] == {"country": "Australia"})
        _run(server, pair, australia, "baseline", "Sydney", 0.0)
        for answer, value in (("Canberra", 1.0), ("Canberra", 1.0), ("Sydney", 0.0)):
            _run(server, pair, australia, "better-prompt", answer, value)
        page.goto(server.api_url + "/project/default/datasets/capitals?tab=compare&run=baseline&run=better-prompt")
        table = page.locator("table.traces")
        expect(table.locator("th").nth(2)).to_have_text("baseline (baseline)")
        australia_row = table.locator("tr", has_text="Australia")
        expect(australia_row.locator("td").nth(3)).to_contain_text("#3")
        expect(australia_row.locator("td").nth(3)).to_contain_text("correct: 0.67 ± 0.58 (n=3)")
        expect(table.locator("tr.aggregate", has_text="correct (mean)")).to_contain_text("0.67 ± 0.58 (n=3) (+0.67)")
        page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)
        # Click through to a run's trace.
        australia_row.locator("td").nth(2).get_by_role("link", name="Sydney").click()
        page.get_by_role("heading", name="app", exact=True).wait_for()
        run_trace = page.url

        # The dataset deleted from its page: gone from the list; its runs' traces stay.
        page.goto(server.api_url + "/project/default/datasets/capitals")
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Delete dataset").click()
        page.get_by_role("heading", name="Datasets", exact=True).wait_for()
        expect(page.get_by_role("link", name="capitals")).to_have_count(0)
        assert dialogs == ["Delete dataset capitals and its 2 items? Traces of its runs stay."]
        page.goto(run_trace)
        page.get_by_role("heading", name="app", exact=True).wait_for()
    assert not errors, errors


def threaded_fake_openai() -> contextlib.AbstractContextManager[str]:
    """The fake OpenAI server (tests.fake_openai) on a thread of its own, for sync browser tests."""
    return in_thread(fake_openai)


def test_experiment_from_the_ui_without_code(server: Server) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with threaded_fake_openai() as openai_url, browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        # A model connection from Settings, tested for real against the fake model server.
        page.goto(server.api_url + "/project/default/settings")
        page.get_by_role("heading", name="Model connections").wait_for()
        page.get_by_label("Connection name").fill("local-llm")
        page.get_by_label("Base URL").fill(openai_url)
        page.get_by_label("API key").fill("sk-local-123456789")
        page.get_by_label("Models (comma-separated)").fill("gpt-4o-mini")
        page.get_by_role("button", name="Save connection").click()
        row = page.locator("tr", has_text="local-llm").filter(has_not_text="provider:")  # not the audit log's row
        expect(row).to_contain_text("...6789")
        row.get_by_role("button", name="Test").click()
        expect(page.locator("p.ok")).to_contain_text('local-llm answered "Paris is sunny, 21°C."')
        page.screenshot(path=str(SHOTS / "connection.png"))
        # A dataset, made through the API as a teammate's script would (a prompt comes later).
        assert api(page, "POST", "/api/v1/datasets?project=default", {"name": "cities"})[0] == 200
        # No run to compare: no Compare button over nothing, but where runs come from.
        page.goto(server.api_url + "/project/default/datasets/cities?tab=compare")
        page.get_by_text("No runs to compare yet").wait_for()
        expect(page.get_by_role("button", name="Compare")).to_have_count(0)
        page.get_by_role("link", name="Go to Runs").click()
        page.wait_for_url("**tab=runs**")
        # Before it has an item, the Runs tab offers no run that could only fail, and says why.
        page.goto(server.api_url + "/project/default/datasets/cities?tab=runs")
        page.get_by_text("An experiment runs over the dataset's active items, and it has none yet.").wait_for()
        expect(page.get_by_role("button", name="Run", exact=True)).to_have_count(0)
        expect(page.get_by_text("No runs yet.", exact=True)).to_be_visible()  # not "Run one above"
        page.get_by_role("link", name="Add items").click()
        page.get_by_role("button", name="Add item").wait_for()
        assert "tab=items" in page.url
        for city in ("Paris", "Oslo", "Lima"):
            status, _ = api(
                page, "PUT", "/api/v1/dataset/items?project=default", {"datasetName": "cities", "input": {"city": city}}
            )
            assert status == 200
        # Items, but no prompt yet: the tab says what is missing, and no "Run one above" under it.
        page.goto(server.api_url + "/project/default/datasets/cities?tab=runs")
        page.get_by_text("To run an experiment from here, create a prompt (Prompts)", exact=False).wait_for()
        expect(page.get_by_role("button", name="Run", exact=True)).to_have_count(0)
        expect(page.get_by_text("No runs yet.", exact=True)).to_be_visible()
        # A link to what is missing: the prompts (the connection exists, so none to Settings).
        missing = page.locator("p.muted", has_text="To run an experiment from here")
        expect(missing.get_by_role("link", name="Settings")).to_have_count(0)
        missing.get_by_role("link", name="Prompts").click()
        page.wait_for_url("**/project/default/prompts")
        assert (
            api(page, "POST", "/api/v1/prompts?project=default", {"name": "weather", "prompt": "Weather in {{city}}?"})[
                0
            ]
            == 201
        )
        # Run it from the dataset's Runs tab and watch it finish.
        page.goto(server.api_url + "/project/default/datasets/cities?tab=runs")
        page.get_by_role("heading", name="Run an experiment").wait_for()
        runs_tab = page.locator('nav.tabs a[data-tab="runs"]')
        expect(runs_tab).to_have_text("Runs (0)")
        page.get_by_label("Run name").fill("first-ui-run")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator(".experiment-status")).to_contain_text("3 of 3 items · 0 failed · finished", timeout=30_000)
        expect(runs_tab).to_have_text("Runs (1)")  # the tab counts the run the experiment made
        page.screenshot(path=str(SHOTS / "experiment.png"))
        expect(page.locator("table.traces").get_by_role("link", name="first-ui-run")).to_be_visible()
        # The run's row says what the experiment did.
        state = page.locator("table.traces tr", has_text="first-ui-run").locator(".experiment-state")
        expect(state).to_have_text("Done: 3 of 3 · 0 failed")
        page.get_by_role("link", name="Compare this run").click()
        table = page.locator("table.traces")
        expect(table.locator("th").nth(2)).to_have_text("first-ui-run (baseline)")
        expect(table.locator("a.output")).to_have_count(3)
        expect(table.locator("a.output").first).to_have_text("Paris is sunny, 21°C.")
        # Opened again later, the runs tab still says it, from the store.
        page.goto(server.api_url + "/project/default/datasets/cities?tab=runs")
        expect(state).to_have_text("Done: 3 of 3 · 0 failed")
        page.goto(server.api_url + "/project/default/datasets/cities?tab=runs&lang=zh-CN")
        expect(state).to_have_text("已完成：3 / 3 · 0 个失败")
        page.screenshot(path=str(SHOTS / "experiment-runs-zh.png"))
    assert not errors, errors


def _bot_answers(srv: Server, pair: dict[str, str], n: int) -> None:
    """``n`` traces of a bot, each with a generation named "answer", through Langfuse's ingestion API."""
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    _ingest(srv, pair, [e for t in (uuid.uuid4().hex for _ in range(n)) for e in (
        {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": stamp,
         "body": {"id": t, "name": "bot", "timestamp": stamp}},
        {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": stamp,
         "body": {"id": f"g-{t}", "traceId": t, "name": "answer", "startTime": stamp, "endTime": stamp,
                  "input": "Where is Paris?", "output": "In France."}},
    )])  # fmt: skip


def _signed_up_with_a_judge(page: Page, srv: Server, judge_url: str) -> dict[str, str]:
    """Signed up, with a connection to the fake judge; the default project's new API key."""
    sign_up(page, srv.api_url)
    page.get_by_role("button", name="Sign out").wait_for()
    connection = {
        "provider": "judge",
        "secretKey": "sk-judge-123456",
        "baseURL": judge_url,
        "customModels": ["judge-1"],
    }
    status, _ = api(page, "PUT", "/api/v1/llm-connections?project=default", connection)
    assert status == 200
    status, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default", "note": "evals"})
    assert status == 201
    return pair


def test_evaluation_rule_from_a_template_in_the_browser(server: Server) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with threaded_fake_judge() as judge, browser_page(errors) as page:
        pair = _signed_up_with_a_judge(page, server, judge.url)
        _bot_answers(server, pair, 2)
        page.goto(server.api_url + "/project/default/evaluations")
        page.get_by_role("heading", name="No evaluation rules yet").wait_for()
        page.get_by_role("button", name="New rule").click()
        page.get_by_label("Template").select_option(label="Conciseness")
        page.get_by_label("Score name").fill("concise")
        page.get_by_label("Filter: name").fill("answer")
        page.get_by_label("Delay (seconds)").fill("0")
        page.get_by_label("Evaluate existing data too").check()
        page.get_by_role("button", name="Create rule").click()
        page.get_by_role("heading", name="Executions of concise").wait_for()
        # The executions table refreshes itself while the page is open: both finish with a score.
        expect(page.locator("table.traces").nth(1).locator("td .chip.state-done")).to_have_count(2, timeout=20_000)
        expect(page.locator("table.traces").nth(1)).to_contain_text("0.8")
        # The rule's count of executions keeps up with the table, without a reload.
        expect(page.locator("td.rule-jobs")).to_have_text("2 done")
        page.screenshot(path=str(SHOTS / "evaluations.png"), full_page=True)

        # Paused, changed (what the form shows is the rule's; the rest kept, paused too), resumed
        # and deleted, from its own buttons.
        rules = page.locator("table.traces").first.locator("tbody tr")
        page.get_by_role("button", name="Pause").click()
        expect(rules.locator("td").nth(6)).to_have_text("paused")
        page.get_by_role("button", name="Change", exact=True).click()
        page.get_by_role("heading", name="Change rule concise").wait_for()
        expect(page.get_by_label("Score name")).to_have_value("concise")
        expect(page.get_by_label("Filter: name")).to_have_value("answer")
        expect(page.get_by_label("Delay (seconds)")).to_have_value("0")
        expect(page.get_by_label("Evaluate existing data too")).to_be_checked()
        page.get_by_label("Sampling (%)").fill("50")
        page.screenshot(path=str(SHOTS / "evaluations-change.png"), full_page=True)
        page.get_by_role("button", name="Save rule").click()
        expect(rules.locator("td").nth(4)).to_have_text("50%")
        expect(rules).to_have_count(1)
        expect(rules.locator("td").nth(2)).to_have_text("observation named answer")
        expect(rules.locator("td").nth(6)).to_have_text("paused")
        page.get_by_role("button", name="Resume").click()
        expect(rules.locator("td").nth(6)).to_have_text("active")
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Delete rule").click()
        page.get_by_role("heading", name="No evaluation rules yet").wait_for()
        assert dialogs == ["Delete rule concise? It judges nothing more; the scores it gave stay."]
        # Its scores stay on the observations.
        token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
        request = urllib.request.Request(
            server.api_url + "/api/public/scores?name=concise", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            assert len(json.loads(r.read())["data"]) == 2
    assert not errors, errors


def test_a_busy_rules_executions_in_pages_and_by_state(server: Server) -> None:  # noqa: F811
    """A rule with more executions than a page: Load more reaches the rest, and the state filter
    (kept in the URL) shows the failed ones alone, in English and Chinese."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with threaded_fake_judge() as judge, browser_page(errors) as page:
        judge.behaviour = ["malformed"] * 7 + ["good"]
        pair = _signed_up_with_a_judge(page, server, judge.url)
        _bot_answers(server, pair, 130)
        rule = {"name": "concise", "templateId": "builtin-conciseness", "target": "observation",
                "filter": {"name": "answer"}, "sampling": 1.0, "delaySeconds": 0, "evaluateExisting": True,
                "provider": "judge", "model": "judge-1"}  # fmt: skip
        status, made = api(page, "PUT", "/api/v1/evaluations/rules?project=default", rule)
        assert status == 200, made
        page.goto(server.api_url + f"/project/default/evaluations?rule={made['id']}")
        executions = page.locator("table.traces").nth(1).locator("tbody tr")
        # The first page while the judge works, then every execution finished (the table refreshes).
        expect(page.locator("td.rule-jobs")).to_have_text("123 done7 error", timeout=60_000)
        expect(executions).to_have_count(100)
        page.get_by_role("button", name="Load more").click()
        expect(executions).to_have_count(130)
        expect(page.get_by_role("button", name="Load more")).to_be_hidden()
        page.get_by_label("State").select_option(label="error")
        expect(executions).to_have_count(7)
        expect(page).to_have_url(re.compile(r"state=error"))
        expect(executions.first).to_contain_text("not JSON")
        page.screenshot(path=str(SHOTS / "evaluations-errors.png"), full_page=True)
        page.goto(page.url + "&lang=zh-CN")
        expect(page.get_by_label("状态", exact=True)).to_have_value("error")
        expect(page.locator("table.traces").first.locator("tbody tr")).to_contain_text("简洁性")  # the template
        expect(executions).to_have_count(7)
        page.get_by_label("状态", exact=True).select_option(label="完成")
        expect(executions).to_have_count(100)
        page.get_by_label("状态", exact=True).select_option(label="全部状态")
        expect(page.get_by_role("button", name="加载更多")).to_be_visible()
        page.screenshot(path=str(SHOTS / "evaluations-zh.png"), full_page=True)
    assert not errors, errors


def test_an_sdk_experiments_scores_and_tokens_in_the_comparison(server: Server) -> None:  # noqa: F811
    """SDK 5's run_experiment, as a team runs it from a notebook: the comparison shows each item's
    evaluator score (on the item's task span) and the tokens of the model call inside the task."""
    from tests.langfuse_helpers import run_sdk
    from tests.test_ui import new_key

    errors: list[str] = []
    with in_thread(fake_openai) as openai_url, browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("button", name="Sign out").wait_for()
        run_sdk("5", "v4_experiment.py", server.api_url, new_key(page, "notebook"), openai_url)
        page.goto(server.api_url + "/project/default/datasets/weather-qa?tab=compare")
        results = page.locator("table.traces .run-result")
        expect(results).to_have_count(2)
        expect(results.filter(has_text="Paris?")).to_have_count(0)  # outputs, not inputs
        expect(page.locator("table.traces")).to_contain_text("mentions_expected 1.00")
        expect(page.locator("table.traces")).to_contain_text("mentions_expected 0.00")
        expect(results.first).to_contain_text("17 tokens")
        row = page.locator("tr.aggregate", has_text="mentions_expected (mean)")
        expect(row).to_contain_text("0.50 ± 0.71 (n=2)")
        expect(page.locator("tr.aggregate", has_text="Tokens (mean)")).to_contain_text("17")
        page.screenshot(path=str(SHOTS / "compare-sdk-experiment.png"), full_page=True)
        # The runs list gives each run's numbers, so the best run is seen without comparing.
        page.goto(server.api_url + "/project/default/datasets/weather-qa?tab=runs")
        runs = page.locator("table.traces")
        expect(runs.locator("thead")).to_contain_text("mentions_expected (mean)")
        expect(runs.locator("thead")).to_contain_text("avg_mentions (run)")
        row = runs.locator("tbody tr", has_text="weather-run-1")
        expect(row.locator("td.num")).to_have_text(
            ["2", "0.50", "0.50", re.compile(r"ms$"), "17", re.compile(r"^\$0\.0000")]
        )
        page.screenshot(path=str(SHOTS / "runs-sdk-experiment.png"), full_page=True)
        # The SDK names no service (OTel's unknown_service): the traces list shows none.
        page.goto(server.api_url + "/project/default/traces")
        rows = page.locator("table.traces tbody tr", has_text="experiment-item-run")
        expect(rows).to_have_count(2)
        service = rows.first.locator('td.clip[title^="unknown_service"]')
        expect(service).to_have_text("–")
    assert not errors, errors


def _public(srv: Server, pair: dict[str, str], method: str, path: str, body: object = None) -> dict:
    """Langfuse's public API with the key pair, as an SDK calls it: the answer's JSON."""
    token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
    request = urllib.request.Request(
        srv.api_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def test_a_rule_made_through_langfuses_api_changed_in_the_browser(server: Server) -> None:  # noqa: F811
    """A rule made through Langfuse's v2 API reads back through it as given (its conditions' order
    and operators) after the UI changes what its filter does not hold; once the UI changes its
    filter, it reads back as the UI's filter."""
    errors: list[str] = []
    with threaded_fake_judge() as judge, browser_page(errors) as page:
        pair = _signed_up_with_a_judge(page, server, judge.url)
        evaluator = _public(server, pair, "POST", "/api/public/v2/evaluators", {
            "type": "llm_as_judge", "name": "helpfulness", "prompt": "Is {{output}} helpful?",
            "modelConfig": {"provider": "judge", "model": "judge-1"},
            "variableMapping": [{"variable": "output", "source": "output"}],
            "outputDefinition": {"dataType": "NUMERIC", "minValue": 0, "maxValue": 1},
        })  # fmt: skip
        given = [
            {"type": "arrayOptions", "column": "tags", "operator": "any of", "value": ["prod"]},
            {"type": "stringOptions", "column": "name", "operator": "any of", "value": ["answer", "reply"]},
        ]
        rule = _public(server, pair, "POST", "/api/public/v2/evaluation-rules", {
            "name": "helpful", "enabled": True, "filter": given,
            "evaluatorAssignments": [{"evaluatorId": evaluator["id"], "variableMapping": [
                {"variable": "output", "source": "output"}]}],
        })  # fmt: skip
        assert rule["filter"] == given
        read = f"/api/public/v2/evaluation-rules/{rule['id']}"

        page.goto(server.api_url + "/project/default/evaluations")
        rules = page.locator("table.traces").first.locator("tbody tr")
        page.get_by_role("button", name="Change", exact=True).click()
        page.get_by_role("heading", name="Change rule helpful").wait_for()
        expect(page.get_by_label("Filter: name")).to_have_value("answer, reply")
        page.get_by_label("Sampling (%)").fill("50")
        page.get_by_role("button", name="Save rule").click()
        expect(rules.locator("td").nth(4)).to_have_text("50%")
        again = _public(server, pair, "GET", read)
        assert (again["sampling"], again["filter"]) == (0.5, given)

        # The filter's name changed here: the conditions read back are the UI's (tags kept).
        page.get_by_role("button", name="Change", exact=True).click()
        page.get_by_label("Filter: name").fill("answer")
        page.get_by_role("button", name="Save rule").click()
        expect(rules.locator("td").nth(2)).to_contain_text("answer")
        expect(rules.locator("td").nth(2)).not_to_contain_text("reply")
        assert _public(server, pair, "GET", read)["filter"] == [
            {"type": "stringOptions", "column": "name", "operator": "any of", "value": ["answer"]},
            {"type": "arrayOptions", "column": "tags", "operator": "all of", "value": ["prod"]},
        ]
    assert not errors, errors
