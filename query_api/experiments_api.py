"""Langfuse's experiments read API, as langfuse 5.x's client calls it: ``GET /api/public/experiments``
and ``GET /api/public/experiment-items``. SDK 5's ``run_experiment`` posts no dataset run: an
experiment is the ``langfuse.experiment.*`` attributes of its items' spans, and its scores. Both
lists page by cursor, newest first, and need a lower time bound (``fromStartTime``)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from query_api.langfuse_api import (
    DAY_NS,
    PREFIX,
    LangfuseError,
    LangfuseReadApi,
    _io,
    _metadata,
    _time_param,
    iso,
    langfuse_json,
)
from query_api.langfuse_v2 import _score_v3
from storage import Store
from storage.cursors import decode_cursor, encode_cursor
from tracehouse.errors import InvalidInput

__all__ = ["experiments_routes"]

EXPERIMENT_GROUPS = {"core", "metadata", "scores"}
ITEM_GROUPS = {"core", "dataset", "io", "metadata", "itemMetadata", "experimentMetadata", "scores"}
# The structured filter's columns, per list, and the query parameters they stand for.
EXPERIMENT_COLUMNS = {"id": "experiment_id", "name": "experiment_name", "datasetId": "dataset_id"}
ITEM_COLUMNS = {
    "experimentId": "experiment_id",
    "experimentName": "experiment_name",
    "experimentItemId": "item_id",
    "datasetId": "dataset_id",
}


def _bad(message: str) -> LangfuseError:
    return LangfuseError(400, "InvalidRequestError", message)


def _limit(request: web.Request, name: str = "limit", default: int = 50, most: int = 100) -> int:
    try:
        value = int(request.query.get(name, str(default)))
    except ValueError:
        raise _bad(f"{name} must be an integer") from None
    if not 1 <= value <= most:
        raise _bad(f"{name} must be between 1 and {most}")
    return value


def _groups(request: web.Request, allowed: set[str], default: str) -> set[str]:
    asked = {g.strip() for g in request.query.get("fields", default).split(",") if g.strip()}
    if unknown := asked - allowed:
        raise _bad(f"unknown field group(s) {sorted(unknown)}: {', '.join(sorted(allowed))}")
    return asked | {"core"}


def _filters(request: web.Request, params: dict[str, str], columns: dict[str, str]) -> dict[str, list[str]]:
    """Comma-separated query parameters and the structured ``filter`` JSON, as lists of values."""
    out: dict[str, list[str]] = {}
    for param, key in params.items():
        if value := request.query.get(param):
            out[key] = [v for v in value.split(",") if v]
    raw = request.query.get("filter")
    if raw:
        try:
            conditions = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad("filter must be a JSON array of conditions") from None
        if not isinstance(conditions, list):
            raise _bad("filter must be a JSON array of conditions")
        for c in conditions:
            if not isinstance(c, dict) or c.get("column") not in columns:
                raise _bad(f"filter: each condition needs a column of {', '.join(columns)}")
            operator, value = str(c.get("operator", "=")).lower(), c.get("value")
            values = value if isinstance(value, list) else [value]
            if operator not in ("=", "any of", "in") or not all(isinstance(v, str) for v in values):
                raise _bad("filter: supported are '=' with a string and 'any of' with a list of strings")
            out.setdefault(columns[c["column"]], []).extend(values)
    return out


def _window(request: web.Request) -> tuple[int, int]:
    if not request.query.get("fromStartTime"):
        raise _bad("fromStartTime is required (an ISO-8601 time): it keeps the query fast on large projects")
    return _time_param(request, "fromStartTime", 0), _time_param(request, "toStartTime", time.time_ns() + DAY_NS)


def _cursor(request: web.Request) -> tuple[int, str] | None:
    if not request.query.get("cursor"):
        return None
    try:
        ns, key = decode_cursor(request.query["cursor"], (int, str))
    except InvalidInput as exc:
        raise _bad(exc.message) from None
    return ns, key


def _json_attribute(text: str) -> Any:
    """An attribute the SDK wrote as JSON (metadata, expected output), given back as a value."""
    return _io(text) if text else None


async def _scores_by_trace(store: Store, project: str, traces: list[str], most: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {t: [] for t in traces}
    if traces:
        rows, _ = await store.langfuse.scores(project, traces, 1, 1000)
        for row in rows:
            if len(out[row["trace_id"]]) < most:
                out[row["trace_id"]].append(_score_v3(row, project))
    return out


async def list_experiments(request: web.Request, store: Store, project: str) -> web.Response:
    start, end = _window(request)
    limit = _limit(request)
    score_limit = _limit(request, "scoreLimit", 50, 50)
    groups = _groups(request, EXPERIMENT_GROUPS, "core")
    filters = _filters(request, {"id": "experiment_id", "name": "experiment_name", "datasetId": "dataset_id"},
                       EXPERIMENT_COLUMNS)  # fmt: skip
    rows = await store.datasets.experiments(project, start, end, filters, limit + 1, _cursor(request))
    more, rows = len(rows) > limit, rows[:limit]
    run_scores: dict[str, list[Any]] = {}
    if "scores" in groups and rows:
        found, _ = await store.langfuse.scores(project, None, 1, 1000, {"run_ids": [r["x_id"] for r in rows]})
        for s in found:
            score = _score_v3(s, project)
            run_scores.setdefault(score.get("datasetRunId") or "", []).append(score)
    data = []
    for r in rows:
        experiment: dict[str, Any] = {
            "id": r["x_id"],
            "name": r["x_name"] or r["x_id"],
            "description": r["x_description"] or None,
            "startTime": iso(max(int(r["x_start"]), start)),
            "endTime": iso(int(r["x_end"])),
            "itemCount": int(r["x_items"]),
            "datasetId": r["x_dataset"] or None,
        }
        if "metadata" in groups:
            experiment["metadata"] = _json_attribute(r["x_metadata"]) or {}
        if "scores" in groups:
            experiment["scores"] = run_scores.get(r["x_id"], [])[:score_limit]
        data.append(experiment)
    cursor = encode_cursor([int(rows[-1]["x_end"]), rows[-1]["x_id"]]) if more and rows else None
    return langfuse_json({"data": data, "meta": {"cursor": cursor}})


async def list_experiment_items(request: web.Request, store: Store, project: str) -> web.Response:
    start, end = _window(request)
    limit = _limit(request)
    score_limit = _limit(request, "scoreLimit", 50, 50)
    groups = _groups(request, ITEM_GROUPS, "core,dataset")
    params = {"experimentId": "experiment_id", "experimentName": "experiment_name",
              "experimentItemId": "item_id", "datasetId": "dataset_id"}  # fmt: skip
    filters = _filters(request, params, ITEM_COLUMNS)
    rows = await store.datasets.experiment_items(project, start, end, filters, limit + 1, _cursor(request))
    more, rows = len(rows) > limit, rows[:limit]
    scores = (
        await _scores_by_trace(store, project, [r["i_trace"] for r in rows], score_limit) if "scores" in groups else {}
    )
    data = []
    for r in rows:
        item: dict[str, Any] = {
            "id": r["i_span"],
            "traceId": r["i_trace"],
            "startTime": iso(int(r["i_start"])),
            "endTime": iso(int(r["i_end"])),
            "level": r["i_level"] or "DEFAULT",
            "environment": r["i_environment"] or "default",
            "experimentId": r["e_id"],
            "experimentName": r["e_name"] or r["e_id"],
            "experimentItemId": r["i_item"] or r["i_span"],
        }
        if "dataset" in groups:
            item["experimentDatasetId"] = r["e_dataset"] or None
            item["experimentItemVersion"] = r["i_version"] or None
        if "io" in groups:
            item["input"] = _io(r["i_input"])
            item["output"] = _io(r["i_output"])
            item["expectedOutput"] = _json_attribute(r["i_expected"])
        if "metadata" in groups:
            item["metadata"] = _metadata(r["i_metadata"])
        if "itemMetadata" in groups:
            item["experimentItemMetadata"] = _json_attribute(r["i_item_metadata"])
        if "experimentMetadata" in groups:
            item["experimentMetadata"] = _json_attribute(r["e_metadata"])
            item["experimentDescription"] = r["e_description"] or None
        if "scores" in groups:
            item["scores"] = scores.get(r["i_trace"], [])
        data.append(item)
    cursor = encode_cursor([int(rows[-1]["i_start"]), rows[-1]["i_trace"]]) if more and rows else None
    return langfuse_json({"data": data, "meta": {"cursor": cursor}})


def experiments_routes() -> list[web.RouteDef]:
    h = LangfuseReadApi().handler
    return [
        web.get(PREFIX + "/experiments", h(list_experiments)),
        web.get(PREFIX + "/experiment-items", h(list_experiment_items)),
    ]
