"""Runs of a dataset side by side: per dataset item, every run item of every run (several when a
run repeats an item) with its output, scores, latency, tokens and cost; per item and run the mean
and spread of each number; and per run the aggregate row and its difference to the baseline (the
first run asked for)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import orjson

from storage import Store
from storage.datasets import Dataset, DatasetItem, DatasetRun, RunItem

__all__ = ["compare_runs", "spread"]


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean and standard deviation (None for fewer than two values)."""
    clean = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not clean:
        return {"n": 0, "mean": None, "stdev": None}
    return {
        "n": len(clean),
        "mean": statistics.fmean(clean),
        "stdev": statistics.stdev(clean) if len(clean) > 1 else None,
    }


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return text


async def compare_runs(
    store: Store,
    project: str,
    dataset: Dataset,
    items: Sequence[DatasetItem],
    runs: Sequence[DatasetRun],
    run_items: Sequence[RunItem],
) -> dict[str, Any]:
    trace_ids = sorted({i.trace_id for i in run_items if i.trace_id})
    observation_ids = sorted({i.observation_id for i in run_items if i.observation_id})
    traces, observations, scores = await store.datasets.run_facts(project, trace_ids, observation_ids)
    by_trace = {t["t_id"]: t for t in traces}
    by_obs = {o["o_id"]: o for o in observations}
    score_by: dict[tuple[str, str], dict[str, float]] = {}
    for s in scores:
        value = float(s["s_value"]) if s["s_type"] in ("NUMERIC", "BOOLEAN") else None
        if value is None:
            continue
        # A score on the run item's observation or on its whole trace counts for the run item.
        score_by.setdefault((s["s_trace"], s["s_observation"]), {})[s["s_name"]] = value

    def facts(ri: RunItem) -> dict[str, Any]:
        t = by_trace.get(ri.trace_id, {})
        o = by_obs.get(ri.observation_id) if ri.observation_id else None
        source = o if o is not None else t
        prefix = "o_" if o is not None else "t_"
        item_scores = {**score_by.get((ri.trace_id, ""), {}), **score_by.get((ri.trace_id, ri.observation_id), {})}
        return {
            "id": ri.id,
            "traceId": ri.trace_id,
            "observationId": ri.observation_id or None,
            "output": _loads(source.get(f"{prefix}output", "")) if source else None,
            "latencyMs": (int(source[f"{prefix}latency_ns"]) / 1e6) if source else None,
            "tokens": int(source[f"{prefix}tokens"]) if source else None,
            "cost": float(source[f"{prefix}cost"]) if source else None,
            "scores": item_scores,
        }

    by_item_run: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ri in run_items:
        by_item_run.setdefault((ri.dataset_item_id, ri.run_id), []).append(facts(ri))
    score_names = sorted({n for v in score_by.values() for n in v})
    metrics = ["latencyMs", "tokens", "cost"]

    def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {m: spread([r[m] for r in results if r[m] is not None]) for m in metrics}
        out["scores"] = {n: spread([r["scores"][n] for r in results if n in r["scores"]]) for n in score_names}
        return out

    rows = []
    for item in items:
        cells = {}
        for run in runs:
            results = by_item_run.get((item.id, run.id), [])
            cells[run.id] = {"results": results, "summary": summary(results)}
        if any(c["results"] for c in cells.values()) or item.status == "ACTIVE":
            rows.append(
                {
                    "itemId": item.id,
                    "status": item.status,
                    "input": _loads(item.input),
                    "expectedOutput": _loads(item.expected_output),
                    "runs": cells,
                }
            )
    aggregates = {}
    for run in runs:
        results = [r for (item_id, run_id), rs in by_item_run.items() if run_id == run.id for r in rs]
        aggregates[run.id] = {"runItems": len(results), **summary(results)}
    run_scores: dict[str, dict[str, float]] = {r.id: {} for r in runs}
    for row in await store.datasets.run_scores(project, [r.id for r in runs]):
        run_scores[row["r_run"]][row["r_name"]] = float(row["r_value"])
    baseline = runs[0].id if runs else None
    deltas: dict[str, Any] = {}
    if baseline:
        base = aggregates[baseline]
        for run in runs[1:]:
            agg = aggregates[run.id]
            deltas[run.id] = {m: _delta(agg[m]["mean"], base[m]["mean"]) for m in metrics}
            deltas[run.id]["scores"] = {
                n: _delta(agg["scores"][n]["mean"], base["scores"][n]["mean"]) for n in score_names
            }
    return {
        "dataset": {"id": dataset.id, "name": dataset.name},
        "runs": [{"id": r.id, "name": r.name, "createdAt": r.created_at.isoformat()} for r in runs],
        "baseline": baseline,
        "scoreNames": score_names,
        "items": rows,
        "aggregates": aggregates,
        "runScores": run_scores,
        "deltas": deltas,
    }


def _delta(value: float | int | None, base: float | int | None) -> float | None:
    if value is None or base is None:
        return None
    return float(value) - float(base)
