"""Datasets and experiments driven by the real langfuse SDKs from PyPI: 2.x ``item.link`` with a
repeated item, and 4.x/5.x ``run_experiment`` with an item evaluator and a run evaluator, its task
calling a local fake OpenAI-compatible server. Asserts the stored runs, run items, traces, scores."""

from __future__ import annotations

import asyncio

import pytest

from tests.fake_openai import fake_openai
from tests.langfuse_helpers import make_key, run_sdk
from tracehouse.server import Running


async def test_sdk2_item_link_with_a_repetition(live: Running) -> None:
    out = await asyncio.to_thread(run_sdk, "2", "v2_datasets.py", live.api_url, await make_key(live))
    assert out["items"] == ["fr", "jp"]
    # The run as the SDK read it back: three run items, "fr" twice, each on its generation.
    assert sorted((r["item"], r["observation"]) for r in out["run_items"]) == sorted(
        (link["item"], link["observation"]) for link in out["links"]
    )
    dataset = (await live.store.datasets.datasets("default", name="capitals"))[0]
    runs = await live.store.datasets.runs("default", dataset.id)
    assert [(r.name, r.description, r.id) for r in runs] == [("v2-run", "first try", out["run_id"])]
    stored = await live.store.datasets.run_items("default", [out["run_id"]])
    assert sorted(i.dataset_item_id for i in stored) == ["fr", "fr", "jp"]
    assert {i.trace_id for i in stored} == {link["trace"] for link in out["links"]}
    # The comparison shows the repetition with its mean and spread.
    from experiments import DatasetService
    from experiments.compare import compare_runs

    service = DatasetService(live.store)
    run_items = await service.run_items("default", dataset, runs)
    items = await live.store.datasets.items("default", [dataset.id])
    doc = await compare_runs(live.store, "default", dataset, items, runs, run_items)
    fr = next(row for row in doc["items"] if row["itemId"] == "fr")["runs"][out["run_id"]]
    assert len(fr["results"]) == 2 and fr["summary"]["scores"]["exact"] == {"n": 2, "mean": 1.0, "stdev": 0.0}
    assert all(r["output"] == "Paris" and r["tokens"] == 12 for r in fr["results"])
    assert doc["aggregates"][out["run_id"]]["scores"]["exact"]["mean"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("sdk", ["4", "5"])
async def test_run_experiment_with_item_and_run_evaluators(live: Running, sdk: str) -> None:
    async with fake_openai() as openai_url:
        out = await asyncio.to_thread(run_sdk, sdk, "v4_experiment.py", live.api_url, await make_key(live), openai_url)
    assert {i["item"]: i["scores"]["mentions_expected"] for i in out["items"]} == {"w1": 1.0, "w2": 0.0}
    assert out["run_scores"] == {"avg_mentions": 0.5}
    dataset = (await live.store.datasets.datasets("default", name="weather-qa"))[0]
    from experiments import DatasetService

    service = DatasetService(live.store)
    runs = await service.runs("default", dataset)
    assert [r.name for r in runs] == ["weather-run-1"]
    if out["run_id"]:  # 4.x posts run items and names the run id; 5.x's run lives in its spans
        assert runs[0].id == out["run_id"]
    items = await service.run_items("default", dataset, runs)
    assert sorted(i.dataset_item_id for i in items) == ["w1", "w2"]
    # The run evaluator's score is the run's.
    run_scores = await live.store.datasets.run_scores("default", [runs[0].id])
    assert [(s["r_name"], s["r_value"]) for s in run_scores] == [("avg_mentions", 0.5)]
    assert {i.trace_id for i in items} == {i["trace"] for i in out["items"]}
    if sdk == "4":  # its API client lists the run's items, a page of one at a time
        assert sorted(tuple(x) for x in out["run_items"]) == sorted((i.dataset_item_id, i.trace_id, 2) for i in items)
    # The comparison of runs gives each item its score, and the tokens and cost of its task's model
    # call (the generation inside the item's observation).
    from experiments.compare import compare_runs

    doc = await compare_runs(
        live.store, "default", dataset, await live.store.datasets.items("default", [dataset.id]), runs, items
    )
    cells = {row["itemId"]: row["runs"][runs[0].id]["results"] for row in doc["items"]}
    assert {k: [r["scores"] for r in v] for k, v in cells.items()} == {
        "w1": [{"mentions_expected": 1.0}],
        "w2": [{"mentions_expected": 0.0}],
    }
    assert {r["tokens"] for v in cells.values() for r in v} == {17}
    assert all(r["cost"] and r["cost"] > 0 for v in cells.values() for r in v)
    aggregate = doc["aggregates"][runs[0].id]
    assert aggregate["scores"]["mentions_expected"]["mean"] == 0.5 and aggregate["tokens"]["mean"] == 17
    # Each item's score landed on its trace; the traces hold the experiment spans.
    for result in out["items"]:
        scores, _ = await live.store.langfuse.scores("default", [result["trace"]])
        assert [(s["name"], s["value"]) for s in scores] == [
            ("mentions_expected", result["scores"]["mentions_expected"])
        ]
        spans = await live.store.reader.trace("default", result["trace"])
        assert {"experiment-item-run"} <= {s["name"] for s in spans}
    if sdk == "5":  # read back through SDK 5's own client: /experiments and /experiment-items, two pages
        listed = out["listed"]
        assert listed["experiments"] == [
            {"name": "weather-run-1", "items": 2, "dataset": dataset.id, "scores": ["avg_mentions"]}
        ]
        by_item = {i["item"]: i for i in listed["items"]}
        assert set(by_item) == {"w1", "w2"} and listed["last_cursor"] is None
        assert {i["trace"] for i in listed["items"]} == {i["trace"] for i in out["items"]}
        assert by_item["w1"]["expected"] == "sunny" and by_item["w1"]["dataset"] == dataset.id
        assert by_item["w1"]["output"] == "Paris is sunny, 21°C." and by_item["w1"]["scores"] == ["mentions_expected"]
