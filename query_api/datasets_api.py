"""Datasets over HTTP: Langfuse's dataset API (v1 and v2 paths, key pairs, as the SDKs call it) and
the UI's routes (signed-in people with roles: VIEWER reads, MEMBER and above write), both on
``datasets.DatasetService``. Langfuse's routes answer in Langfuse's error shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

import orjson
from aiohttp import web

from experiments import DatasetRuleError, DatasetService
from experiments.compare import compare_runs
from experiments.io import export_items, parse_import
from experiments.runner import ExperimentRunner
from query_api.access import Caller, caller_for
from query_api.admin import STORE_KEY
from query_api.langfuse_api import PREFIX, langfuse_json, langfuse_route
from query_api.requests import read_json
from query_api.responses import json_response
from storage import Store
from storage.datasets import Dataset, DatasetItem, DatasetRun, RunItem
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.roles import Permission

__all__ = ["DATASETS_KEY", "RUNNER_KEY", "DatasetService", "dataset_routes"]

DATASETS_KEY = web.AppKey("datasets", DatasetService)
RUNNER_KEY = web.AppKey("experiment_runner", ExperimentRunner)
MAX_LIMIT = 100


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _loads(text: str) -> Any:
    return orjson.loads(text) if text else None


def dataset_json(d: Dataset) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description or None,
        "metadata": _loads(d.metadata),
        "inputSchema": _loads(d.input_schema),
        "expectedOutputSchema": _loads(d.expected_output_schema),
        "projectId": d.project_id,
        "createdAt": _iso(d.created_at),
        "updatedAt": _iso(d.updated_at),
    }


def item_json(d: Dataset, i: DatasetItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "status": i.status,
        "input": _loads(i.input),
        "expectedOutput": _loads(i.expected_output),
        "metadata": _loads(i.metadata),
        "sourceTraceId": i.source_trace_id or None,
        "sourceObservationId": i.source_observation_id or None,
        "datasetId": d.id,
        "datasetName": d.name,
        "createdAt": _iso(i.created_at),
        "updatedAt": _iso(i.updated_at),
        "mediaReferences": [],
    }


def run_json(d: Dataset, r: DatasetRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description or None,
        "metadata": _loads(r.metadata),
        "datasetId": d.id,
        "datasetName": d.name,
        "createdAt": _iso(r.created_at),
        "updatedAt": _iso(r.updated_at),
    }


def run_item_json(r: DatasetRun, i: RunItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "datasetRunId": r.id,
        "datasetRunName": r.name,
        "datasetItemId": i.dataset_item_id,
        "traceId": i.trace_id,
        "observationId": i.observation_id or None,
        "createdAt": _iso(i.created_at),
        "updatedAt": _iso(i.created_at),
    }


def _service(request: web.Request) -> DatasetService:
    return request.app[DATASETS_KEY]


def _page(request: web.Request) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "1"))
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise DatasetRuleError("page", "page and limit are integers") from None
    if page < 1 or not 1 <= limit <= MAX_LIMIT:
        raise DatasetRuleError("limit", f"page from 1, limit from 1 to {MAX_LIMIT}")
    return page, limit


def _paged(data: list[Any], page: int, limit: int) -> dict[str, Any]:
    total = len(data)
    meta = {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)}
    return {"data": data[(page - 1) * limit : page * limit], "meta": meta}


async def _body(request: web.Request) -> Any:
    return await read_json(request)


def _name(request: web.Request, key: str = "name") -> str:
    return unquote(request.match_info[key])


# -- Langfuse's API ------------------------------------------------------------------------------


def _langfuse(
    fn: Callable[[web.Request, str], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    return langfuse_route(fn, (DatasetRuleError,))


async def create_dataset(request: web.Request, project: str) -> web.Response:
    return langfuse_json(dataset_json(await _service(request).upsert_dataset(project, await _body(request))))


async def list_datasets(request: web.Request, project: str) -> web.Response:
    page, limit = _page(request)
    store: Store = request.app[STORE_KEY]
    data = [dataset_json(d) for d in await store.datasets.datasets(project)]
    return langfuse_json(_paged(data, page, limit))


async def get_dataset(request: web.Request, project: str) -> web.Response:
    return langfuse_json(dataset_json(await _service(request).dataset(project, _name(request))))


async def get_dataset_v1(request: web.Request, project: str) -> web.Response:
    """v1: the dataset with its items and the names of its runs."""
    service = _service(request)
    d = await service.dataset(project, _name(request))
    store: Store = request.app[STORE_KEY]
    items = await store.datasets.items(project, [d.id])
    runs = await service.runs(project, d)
    return langfuse_json({**dataset_json(d), "items": [item_json(d, i) for i in items], "runs": [r.name for r in runs]})


async def create_item(request: web.Request, project: str) -> web.Response:
    d, item = await _service(request).upsert_item(project, await _body(request))
    return langfuse_json(item_json(d, item))


async def list_items(request: web.Request, project: str) -> web.Response:
    q = request.query
    page, limit = _page(request)
    store: Store = request.app[STORE_KEY]
    service = _service(request)
    as_of = None
    if q.get("version"):
        if not q.get("datasetName"):
            raise DatasetRuleError("version", "needs datasetName")
        try:
            as_of = dt.datetime.fromisoformat(q["version"].replace("Z", "+00:00"))
        except ValueError:
            raise DatasetRuleError("version", "an ISO-8601 time") from None
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=dt.UTC)
    datasets = (
        [await service.dataset(project, q["datasetName"])]
        if q.get("datasetName")
        else await store.datasets.datasets(project)
    )
    by_id = {d.id: d for d in datasets}
    items = await store.datasets.items(
        project, list(by_id), source_trace_id=q.get("sourceTraceId"),
        source_observation_id=q.get("sourceObservationId"), as_of=as_of,
    )  # fmt: skip
    return langfuse_json(_paged([item_json(by_id[i.dataset_id], i) for i in items], page, limit))


async def get_item(request: web.Request, project: str) -> web.Response:
    d, item = await _service(request).item(project, _name(request, "id"))
    return langfuse_json(item_json(d, item))


async def delete_item(request: web.Request, project: str) -> web.Response:
    item_id = _name(request, "id")
    await _service(request).delete_item(project, item_id)
    return langfuse_json({"message": f"Dataset item {item_id} deleted"})


async def create_run_item(request: web.Request, project: str) -> web.Response:
    run, item = await _service(request).add_run_item(project, await _body(request))
    return langfuse_json(run_item_json(run, item))


async def list_run_items(request: web.Request, project: str) -> web.Response:
    """Langfuse's GET /dataset-run-items?datasetId=&runName= (SDK 4's ``api.dataset_run_items.list``)."""
    page, limit = _page(request)
    dataset_id, run_name = request.query.get("datasetId", ""), request.query.get("runName", "")
    if not dataset_id or not run_name:
        raise DatasetRuleError("datasetId", "datasetId and runName are required")
    service = _service(request)
    d = await service.dataset_by_id(project, dataset_id)
    run = await service.run(project, d, run_name)
    items = [run_item_json(run, i) for i in await service.run_items(project, d, [run])]
    return langfuse_json(_paged(items, page, limit))


async def list_runs(request: web.Request, project: str) -> web.Response:
    page, limit = _page(request)
    service = _service(request)
    d = await service.dataset(project, _name(request))
    return langfuse_json(_paged([run_json(d, r) for r in await service.runs(project, d)], page, limit))


async def get_run(request: web.Request, project: str) -> web.Response:
    service = _service(request)
    d = await service.dataset(project, _name(request))
    run = await service.run(project, d, _name(request, "run"))
    items = await service.run_items(project, d, [run])
    return langfuse_json({**run_json(d, run), "datasetRunItems": [run_item_json(run, i) for i in items]})


async def _stop_experiment(request: web.Request, project: str, run: DatasetRun) -> None:
    """A deleted run's experiment stops, or its next item would make the run again."""
    runner = request.app.get(RUNNER_KEY)
    if runner is not None:
        await runner.stop(project, run.id)


async def delete_run(request: web.Request, project: str) -> web.Response:
    service = _service(request)
    d = await service.dataset(project, _name(request))
    await _stop_experiment(request, project, await service.delete_run(project, d, _name(request, "run")))
    return langfuse_json({"message": "Dataset run deleted"})


# -- the UI's routes ------------------------------------------------------------------------------


async def _caller(request: web.Request, permission: Permission, what: str) -> tuple[Store, Caller]:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(permission, what)
    return store, caller


def _ui(fn: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await fn(request)
        except DatasetRuleError as exc:
            raise InvalidInput(f"{exc.path}: {exc.message}") from None

    return wrapped


async def ui_datasets(request: web.Request) -> web.Response:
    store, caller = await _caller(request, Permission.VIEW_DATA, "read datasets")
    counts = await store.datasets.item_counts(caller.project_id)
    service = _service(request)
    out = []
    for d in await store.datasets.datasets(caller.project_id):
        runs = await service.runs(caller.project_id, d)
        active, archived = counts.get(d.id, (0, 0))
        out.append({**dataset_json(d), "items": active, "archived": archived, "runs": len(runs),
                    "lastRunAt": _iso(runs[0].created_at) if runs else None})  # fmt: skip
    return json_response({"items": out, "permissions": sorted(p.name for p in caller.permissions)})


async def ui_create_dataset(request: web.Request) -> web.Response:
    _, caller = await _caller(request, Permission.WRITE_CONTENT, "create datasets")
    return json_response(dataset_json(await _service(request).upsert_dataset(caller.project_id, await _body(request))))


async def ui_dataset(request: web.Request) -> web.Response:
    """A dataset with its items (archived too) and runs."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read datasets")
    service = _service(request)
    d = await service.dataset(caller.project_id, request.query.get("name", ""))
    items = await store.datasets.items(caller.project_id, [d.id])
    runs = await service.runs(caller.project_id, d)
    return json_response(
        {
            "dataset": dataset_json(d),
            "items": [item_json(d, i) for i in items],
            "runs": [run_json(d, r) for r in runs],
            "permissions": sorted(p.name for p in caller.permissions),
        }
    )


async def ui_delete_dataset(request: web.Request) -> web.Response:
    _, caller = await _caller(request, Permission.WRITE_CONTENT, "delete datasets")
    await _service(request).delete_dataset(caller.project_id, request.query.get("name", ""))
    return json_response({"deleted": True})


async def ui_put_item(request: web.Request) -> web.Response:
    _, caller = await _caller(request, Permission.WRITE_CONTENT, "edit dataset items")
    d, item = await _service(request).upsert_item(caller.project_id, await _body(request))
    return json_response(item_json(d, item))


async def ui_import(request: web.Request) -> web.Response:
    """Items from a JSONL or CSV file's text; every line is checked before any is written."""
    _store, caller = await _caller(request, Permission.WRITE_CONTENT, "import dataset items")
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise DatasetRuleError("text", "the file's text is required")
    service = _service(request)
    d = await service.dataset(caller.project_id, str(body.get("datasetName", "")))
    rows = parse_import(body["text"], str(body.get("format", "jsonl")))
    created = []
    for row in rows:
        _, item = await service.upsert_item(caller.project_id, {**row, "datasetName": d.name})
        created.append(item.id)
    return json_response({"imported": len(created)})


async def ui_export(request: web.Request) -> web.Response:
    """Items as JSONL, CSV, or OpenAI fine-tuning JSONL (active items only)."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read datasets")
    d = await _service(request).dataset(caller.project_id, request.query.get("name", ""))
    fmt = request.query.get("format", "jsonl")
    items = [i for i in await store.datasets.items(caller.project_id, [d.id]) if i.status == "ACTIVE"]
    text, content_type, ext = export_items([item_json(d, i) for i in reversed(items)], fmt)
    # The name as the file's (RFC 6266: filename* in UTF-8, e.g. a name in Chinese), with an ASCII
    # filename for clients that know no filename*.
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in d.name) or "dataset"
    ascii_name = "".join(c if c.isascii() else "_" for c in safe)
    disposition = f"attachment; filename=\"{ascii_name}.{ext}\"; filename*=UTF-8''{quote(f'{safe}.{ext}')}"
    return web.Response(text=text, content_type=content_type, headers={"Content-Disposition": disposition})


async def ui_compare(request: web.Request) -> web.Response:
    """Runs of a dataset side by side: per item, each run's outputs, scores, latency, tokens, cost."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read datasets")
    service = _service(request)
    d = await service.dataset(caller.project_id, request.query.get("name", ""))
    names = [n for n in request.query.getall("run", []) if n]
    all_runs = await service.runs(caller.project_id, d)
    by_name = {r.name: r for r in all_runs}
    # The order asked for: the first run is the baseline. By default the two newest, older first.
    runs = [by_name[n] for n in dict.fromkeys(names) if n in by_name] if names else all_runs[:2][::-1]
    if names and len(runs) != len(set(names)):
        raise NotFound("a run named is not a run of this dataset")
    items = await store.datasets.items(caller.project_id, [d.id])
    run_items = await service.run_items(caller.project_id, d, runs)
    doc = await compare_runs(store, caller.project_id, d, items, runs, run_items)
    return json_response(doc)


async def ui_run_summaries(request: web.Request) -> web.Response:
    """Every run of a dataset, newest first, with its numbers: run items, the mean latency,
    tokens and cost of a run item, the total cost, each score's mean and the run's own scores."""
    store, caller = await _caller(request, Permission.VIEW_DATA, "read datasets")
    service = _service(request)
    d = await service.dataset(caller.project_id, request.query.get("name", ""))
    runs = await service.runs(caller.project_id, d)
    items = await store.datasets.items(caller.project_id, [d.id])
    doc = await compare_runs(
        store, caller.project_id, d, items, runs, await service.run_items(caller.project_id, d, runs)
    )
    summaries = []
    for run in runs:
        agg = doc["aggregates"][run.id]
        summaries.append(
            {
                **run_json(d, run),
                "runItems": agg["runItems"],
                "latencyMs": agg["latencyMs"]["mean"],
                "tokens": agg["tokens"]["mean"],
                "cost": agg["cost"]["mean"],
                "totalCost": (agg["cost"]["mean"] or 0) * agg["cost"]["n"],
                "scores": {n: s["mean"] for n, s in agg["scores"].items() if s["n"]},
                "runScores": doc["runScores"][run.id],
            }
        )
    return json_response({"scoreNames": doc["scoreNames"], "runs": summaries})


async def ui_delete_run(request: web.Request) -> web.Response:
    _, caller = await _caller(request, Permission.WRITE_CONTENT, "delete dataset runs")
    service = _service(request)
    d = await service.dataset(caller.project_id, request.query.get("name", ""))
    run = await service.delete_run(caller.project_id, d, request.query.get("run", ""))
    await _stop_experiment(request, caller.project_id, run)
    return json_response({"deleted": True})


def dataset_routes() -> list[web.RouteDef]:
    """Langfuse's dataset API (v1 and v2 paths) and the UI's dataset routes."""
    lf = _langfuse
    return [
        web.post(f"{PREFIX}/v2/datasets", lf(create_dataset)),
        web.get(f"{PREFIX}/v2/datasets", lf(list_datasets)),
        web.get(f"{PREFIX}/v2/datasets/{{name:.+}}", lf(get_dataset)),
        web.post(f"{PREFIX}/datasets", lf(create_dataset)),
        web.get(f"{PREFIX}/datasets", lf(list_datasets)),
        web.get(f"{PREFIX}/datasets/{{name:.+}}/runs", lf(list_runs)),
        web.get(f"{PREFIX}/datasets/{{name:.+}}/runs/{{run:[^/]+}}", lf(get_run)),
        web.delete(f"{PREFIX}/datasets/{{name:.+}}/runs/{{run:[^/]+}}", lf(delete_run)),
        web.get(f"{PREFIX}/datasets/{{name:.+}}", lf(get_dataset_v1)),
        web.post(f"{PREFIX}/dataset-items", lf(create_item)),
        web.get(f"{PREFIX}/dataset-items", lf(list_items)),
        web.get(f"{PREFIX}/dataset-items/{{id}}", lf(get_item)),
        web.delete(f"{PREFIX}/dataset-items/{{id}}", lf(delete_item)),
        web.post(f"{PREFIX}/dataset-run-items", lf(create_run_item)),
        web.get(f"{PREFIX}/dataset-run-items", lf(list_run_items)),
        web.get("/api/v1/datasets", ui_datasets),
        web.post("/api/v1/datasets", _ui(ui_create_dataset)),
        web.get("/api/v1/dataset", ui_dataset),
        web.delete("/api/v1/dataset", ui_delete_dataset),
        web.put("/api/v1/dataset/items", _ui(ui_put_item)),
        web.post("/api/v1/dataset/import", _ui(ui_import)),
        web.get("/api/v1/dataset/export", _ui(ui_export)),
        web.get("/api/v1/dataset/compare", ui_compare),
        web.get("/api/v1/dataset/runs", ui_run_summaries),
        web.delete("/api/v1/dataset/runs", ui_delete_run),
    ]
