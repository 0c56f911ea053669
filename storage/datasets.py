"""Datasets, their items, runs and run items in ClickHouse.

- A dataset is a versioned row per (project, name): upsert by name keeps its id.
- Items are append-only versions (``dataset_item_versions``): the current item is the newest
  version of its id, and the items "as of" a time are the newest versions written before it,
  which is Langfuse's ``version`` parameter. Deletion writes a version that says so.
- A run's id is derived from (project, dataset id, run name), so every client that names the
  same run gets the same id (SDK 4.x uses it as the experiment id).
- Run items are append-only: a run may hold several per dataset item (repetitions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from storage.api import Backend, Row
from storage.projects import Versions
from storage.tables import DATASET_ITEM_VERSIONS, DATASET_RUN_ITEMS, DATASET_RUNS, DATASETS, SCORE_TEXT
from storage.timestamps import as_utc

__all__ = ["Dataset", "DatasetItem", "DatasetRun", "DatasetStore", "RunItem", "run_id_for"]

_ATTR = "span_attributes['langfuse.experiment.{}']".format
# One row per experiment item sent as spans (langfuse SDK 5.x): per experiment and trace, the
# experiment's attributes and the item's root span (its earliest) with its input and output.
_EXPERIMENT_ITEMS = (
    f"SELECT {_ATTR('id')} AS e_id, any({_ATTR('name')}) AS e_name, "
    f"any({_ATTR('description')}) AS e_description, any({_ATTR('metadata')}) AS e_metadata, "
    f"any({_ATTR('dataset.id')}) AS e_dataset, argMin({_ATTR('item.id')}, start_time) AS i_item, "
    f"argMin({_ATTR('item.version')}, start_time) AS i_version, "
    f"argMin({_ATTR('item.expected_output')}, start_time) AS i_expected, "
    f"argMin({_ATTR('item.metadata')}, start_time) AS i_item_metadata, "
    "trace_id AS i_trace, argMin(span_id, start_time) AS i_span, "
    "toUnixTimestamp64Nano(min(start_time)) AS i_start, toUnixTimestamp64Nano(max(end_time)) AS i_end, "
    "argMin(input, start_time) AS i_input, argMin(output, start_time) AS i_output, "
    "argMin(metadata, start_time) AS i_metadata, argMin(level, start_time) AS i_level, "
    "argMin(environment, start_time) AS i_environment "
    "FROM spans WHERE project_id = {project:String} AND sign = 1 "
    "AND start_time >= fromUnixTimestamp64Nano({start:Int64}) AND start_time < fromUnixTimestamp64Nano({end:Int64}) "
    "AND mapContains(span_attributes, 'langfuse.experiment.id') "
    "GROUP BY e_id, i_trace "
)


def _experiment_filters(
    project: str, start_ns: int, end_ns: int, filters: dict[str, list[str]], limit: int
) -> tuple[list[str], dict[str, object]]:
    having = []
    params: dict[str, object] = {"project": project, "start": start_ns, "end": end_ns, "limit": limit}
    for key, expr in (("experiment_id", "e_id"), ("experiment_name", "e_name"), ("item_id", "i_item"),
                      ("dataset_id", "e_dataset")):  # fmt: skip
        if filters.get(key):
            having.append(f"{expr} IN {{{key}:Array(String)}}")
            params[key] = filters[key]
    return having, params


def _subtree_totals(tree: Sequence[Row], wanted: set[str]) -> dict[str, tuple[int, Decimal]]:
    """Tokens and cost of each wanted span and all its descendants, from (span_id, parent,
    tokens, cost) rows."""
    children: dict[str, list[str]] = {}
    own: dict[str, tuple[int, Decimal]] = {}
    for r in tree:
        own[r["span_id"]] = (int(r["tokens"]), Decimal(r["cost"]))
        if r["parent"] and r["parent"] != r["span_id"]:
            children.setdefault(r["parent"], []).append(r["span_id"])
    totals: dict[str, tuple[int, Decimal]] = {}
    for top in wanted:
        tokens, cost, seen, stack = 0, Decimal(0), {top}, [top]
        while stack:
            span = stack.pop()
            t, c = own.get(span, (0, Decimal(0)))
            tokens, cost = tokens + t, cost + c
            for child in children.get(span, ()):
                if child not in seen:  # a parent cycle in client-chosen ids ends here
                    seen.add(child)
                    stack.append(child)
        totals[top] = (tokens, cost)
    return totals


@dataclass(frozen=True)
class Dataset:
    project_id: str
    id: str
    name: str
    description: str
    metadata: str  # JSON
    input_schema: str  # JSON Schema, or "" for none
    expected_output_schema: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class DatasetItem:
    project_id: str
    dataset_id: str
    id: str
    status: str  # ACTIVE | ARCHIVED
    input: str  # JSON
    expected_output: str  # JSON
    metadata: str  # JSON
    source_trace_id: str
    source_observation_id: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class DatasetRun:
    project_id: str
    dataset_id: str
    id: str
    name: str
    description: str
    metadata: str  # JSON
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class RunItem:
    project_id: str
    run_id: str
    id: str
    dataset_item_id: str
    trace_id: str
    observation_id: str
    created_at: dt.datetime


def run_id_for(project_id: str, dataset_id: str, run_name: str) -> str:
    """The id of a dataset run: the same for the same (project, dataset, name), everywhere."""
    digest = hashlib.sha256(f"{project_id}\x00{dataset_id}\x00{run_name}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _dataset(r: Row) -> Dataset:
    return Dataset(
        r["project_id"], r["id"], r["name"], r["description"], r["metadata"], r["input_schema"],
        r["expected_output_schema"], as_utc(r["created_at"]), as_utc(r["updated_at"]),
    )  # fmt: skip


def _item(r: Row) -> DatasetItem:
    return DatasetItem(
        r["project_id"], r["dataset_id"], r["id"], r["i_status"], r["i_input"], r["i_expected_output"],
        r["i_metadata"], r["i_source_trace_id"], r["i_source_observation_id"], as_utc(r["i_created_at"]),
        as_utc(r["i_updated_at"]),
    )  # fmt: skip


def _run(r: Row) -> DatasetRun:
    return DatasetRun(
        r["project_id"], r["dataset_id"], r["id"], r["name"], r["description"], r["metadata"],
        as_utc(r["created_at"]), as_utc(r["updated_at"]),
    )  # fmt: skip


_ITEM_COLUMNS = (
    "status, input, expected_output, metadata, source_trace_id, source_observation_id, created_at, updated_at"
)

# The newest version of each item written before {at}; deleted ones are dropped after. Aliases are
# prefixed: chDB would read a same-named alias in WHERE as the aggregate.
_ITEMS_SQL = f"""
SELECT project_id, dataset_id, id,
    {", ".join(f"argMax({c}, updated_at) AS i_{c}" for c in _ITEM_COLUMNS.split(", ") if c != "updated_at")},
    max(updated_at) AS i_updated_at, argMax(is_deleted, updated_at) AS i_deleted
FROM dataset_item_versions
WHERE project_id = {{project:String}} AND {{where}}
  AND updated_at <= fromUnixTimestamp64Micro({{at:Int64}}, 'UTC')
GROUP BY project_id, dataset_id, id
HAVING i_deleted = 0
ORDER BY i_created_at DESC, id
"""


class DatasetStore:
    """Datasets of every project."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()

    # -- datasets ---------------------------------------------------------------------------

    async def datasets(self, project_id: str, name: str | None = None, dataset_id: str | None = None) -> list[Dataset]:
        """Current datasets of a project (one by name or id), by name."""
        where = ["project_id = {project:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id}
        if name is not None:
            where.append("name = {name:String}")
            params["name"] = name
        if dataset_id is not None:
            where.append("id = {id:String}")
            params["id"] = dataset_id
        rows = await self._backend.query(
            "SELECT project_id, id, name, description, metadata, input_schema, expected_output_schema, created_at, "
            f"updated_at FROM datasets FINAL WHERE {' AND '.join(where)} ORDER BY name",
            params,
        )
        return [_dataset(r) for r in rows]

    async def put_dataset(self, d: Dataset, deleted: bool = False) -> Dataset:
        """Write a dataset version (create, update or delete)."""
        stamp = self._versions.next()
        row = {**d.__dict__, "updated_at": stamp, "is_deleted": 1 if deleted else 0}
        await self._backend.insert(DATASETS.name, pa.Table.from_pylist([row], schema=DATASETS.arrow_schema()))
        return Dataset(**{**d.__dict__, "updated_at": stamp})

    async def item_counts(self, project_id: str) -> dict[str, tuple[int, int]]:
        """Per dataset id: (active, archived) current items."""
        rows = await self._backend.query(
            "SELECT dataset_id, countIf(status = 'ACTIVE') AS active, countIf(status != 'ACTIVE') AS archived FROM ("
            "SELECT dataset_id, id, argMax(status, updated_at) AS status, argMax(is_deleted, updated_at) AS i_deleted "
            "FROM dataset_item_versions WHERE project_id = {project:String} "
            "GROUP BY dataset_id, id HAVING i_deleted = 0"
            ") GROUP BY dataset_id",
            {"project": project_id},
        )
        return {r["dataset_id"]: (int(r["active"]), int(r["archived"])) for r in rows}

    # -- items ------------------------------------------------------------------------------

    async def items(
        self,
        project_id: str,
        dataset_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        source_trace_id: str | None = None,
        source_observation_id: str | None = None,
        as_of: dt.datetime | None = None,
    ) -> list[DatasetItem]:
        """Current items (or those as of ``as_of``), newest first."""
        where = ["1"]
        params: dict[str, Any] = {"project": project_id}
        if dataset_ids is not None:
            where.append("dataset_id IN {datasets:Array(String)}")
            params["datasets"] = list(dataset_ids)
        if item_ids is not None:
            where.append("id IN {ids:Array(String)}")
            params["ids"] = list(item_ids)
        at = as_of or dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        params["at"] = int(at.timestamp() * 1_000_000)
        sql = _ITEMS_SQL.replace("{where}", " AND ".join(where))
        having = []
        if source_trace_id is not None:
            having.append("i_source_trace_id = {trace:String}")
            params["trace"] = source_trace_id
        if source_observation_id is not None:
            having.append("i_source_observation_id = {observation:String}")
            params["observation"] = source_observation_id
        if having:
            sql = sql.replace("HAVING i_deleted = 0", "HAVING i_deleted = 0 AND " + " AND ".join(having))
        return [_item(r) for r in await self._backend.query(sql, params)]

    async def put_items(self, items: Sequence[DatasetItem], deleted: bool = False) -> list[DatasetItem]:
        """Write item versions (new, changed, archived, or deleted) in one insert."""
        if not items:
            return []
        stamp = self._versions.next()
        rows = [{**i.__dict__, "updated_at": stamp, "is_deleted": 1 if deleted else 0} for i in items]
        await self._backend.insert(
            DATASET_ITEM_VERSIONS.name, pa.Table.from_pylist(rows, schema=DATASET_ITEM_VERSIONS.arrow_schema())
        )
        return [DatasetItem(**{**i.__dict__, "updated_at": stamp}) for i in items]

    # -- runs -------------------------------------------------------------------------------

    async def runs(self, project_id: str, dataset_id: str, name: str | None = None) -> list[DatasetRun]:
        """Current runs of a dataset (one by name), newest first."""
        where = ["project_id = {project:String}", "dataset_id = {dataset:String}", "is_deleted = 0"]
        params: dict[str, Any] = {"project": project_id, "dataset": dataset_id}
        if name is not None:
            where.append("name = {name:String}")
            params["name"] = name
        rows = await self._backend.query(
            "SELECT project_id, dataset_id, id, name, description, metadata, created_at, updated_at "
            f"FROM dataset_runs FINAL WHERE {' AND '.join(where)} ORDER BY created_at DESC, name",
            params,
        )
        return [_run(r) for r in rows]

    async def put_run(self, run: DatasetRun, deleted: bool = False) -> DatasetRun:
        stamp = self._versions.next()
        row = {**run.__dict__, "updated_at": stamp, "is_deleted": 1 if deleted else 0}
        await self._backend.insert(DATASET_RUNS.name, pa.Table.from_pylist([row], schema=DATASET_RUNS.arrow_schema()))
        return DatasetRun(**{**run.__dict__, "updated_at": stamp})

    async def run_items(self, project_id: str, run_ids: Sequence[str]) -> list[RunItem]:
        """Run items of runs, oldest first (a run deleted and made again starts empty)."""
        if not run_ids:
            return []
        rows = await self._backend.query(
            "SELECT i.project_id AS project_id, i.run_id AS run_id, i.id AS id, i.dataset_item_id AS dataset_item_id, "
            "i.trace_id AS trace_id, i.observation_id AS observation_id, i.created_at AS created_at "
            "FROM dataset_run_items AS i INNER JOIN ("
            "SELECT id AS rid, created_at AS run_created FROM dataset_runs FINAL "
            "WHERE project_id = {project:String} AND id IN {runs:Array(String)} AND is_deleted = 0) AS r "
            "ON i.run_id = r.rid "
            "WHERE i.project_id = {project:String} AND i.run_id IN {runs:Array(String)} "
            "AND i.created_at >= r.run_created "
            "ORDER BY i.created_at, i.id",
            {"project": project_id, "runs": list(run_ids)},
        )
        return [
            RunItem(r["project_id"], r["run_id"], r["id"], r["dataset_item_id"], r["trace_id"], r["observation_id"],
                    as_utc(r["created_at"]))
            for r in rows
        ]  # fmt: skip

    async def add_run_items(self, items: Sequence[RunItem]) -> None:
        if items:
            await self._backend.insert(
                DATASET_RUN_ITEMS.name,
                pa.Table.from_pylist([i.__dict__ for i in items], schema=DATASET_RUN_ITEMS.arrow_schema()),
            )

    async def trace_of_observation(self, project_id: str, observation_id: str) -> str | None:
        """The trace an observation belongs to, or None if it is not stored (yet)."""
        rows = await self._backend.query(
            "SELECT trace_id FROM spans WHERE project_id = {project:String} AND span_id = {span:String} LIMIT 1",
            {"project": project_id, "span": observation_id},
        )
        return str(rows[0]["trace_id"]) if rows else None

    async def experiment_spans(self, project_id: str, dataset_id: str) -> list[Row]:
        """Experiment item runs sent as spans only (langfuse SDK 5.x): every span of each item run
        (the first to start is its root), with its experiment id and name, the dataset item it ran
        and the observation the SDK names the item's own (its task's span, which its scores name)."""
        return await self._backend.query(
            "SELECT span_attributes['langfuse.experiment.id'] AS experiment_id, "
            "any(span_attributes['langfuse.experiment.name']) AS experiment_name, "
            "span_attributes['langfuse.experiment.item.id'] AS item_id, trace_id, span_id, "
            "any(span_attributes['langfuse.experiment.item.root_observation_id']) AS root_observation_id, "
            "min(toUnixTimestamp64Nano(start_time)) AS start_ns "
            "FROM spans WHERE project_id = {project:String} AND sign = 1 "
            "AND span_attributes['langfuse.experiment.dataset.id'] = {dataset:String} "
            "AND mapContains(span_attributes, 'langfuse.experiment.item.id') "
            "GROUP BY experiment_id, item_id, trace_id, span_id ORDER BY start_ns",
            {"project": project_id, "dataset": dataset_id},
        )

    async def experiment_items(
        self,
        project_id: str,
        start_ns: int,
        end_ns: int,
        filters: dict[str, list[str]],
        limit: int,
        before: tuple[int, str] | None = None,
    ) -> list[Row]:
        """Experiment items sent as spans (langfuse SDK 5.x): per experiment and trace, its
        experiment's attributes, its root span's input, output, metadata and times, newest first.
        ``filters`` keys: experiment_id, experiment_name, item_id, dataset_id (any of the values);
        ``before`` is the (start ns, trace id) of the last item of the previous page."""
        having, params = _experiment_filters(project_id, start_ns, end_ns, filters, limit)
        if before is not None:
            having.append("(i_start, i_trace) < ({before_ns:Int64}, {before_trace:String})")
            params["before_ns"], params["before_trace"] = before
        where = f"HAVING {' AND '.join(having)} " if having else ""
        return await self._backend.query(
            _EXPERIMENT_ITEMS + where + "ORDER BY i_start DESC, i_trace DESC LIMIT {limit:UInt32}", params
        )

    async def experiments(
        self,
        project_id: str,
        start_ns: int,
        end_ns: int,
        filters: dict[str, list[str]],
        limit: int,
        before: tuple[int, str] | None = None,
    ) -> list[Row]:
        """Experiments sent as spans, latest activity first: id, name, description, metadata,
        dataset, first start and last end of their items in the window, and the item count.
        ``filters`` keys: experiment_id, experiment_name, dataset_id; ``before`` is the (end ns,
        experiment id) of the last experiment of the previous page."""
        having, params = _experiment_filters(project_id, start_ns, end_ns, filters, limit)
        outer = []
        if before is not None:
            outer.append("(x_end, x_id) < ({before_ns:Int64}, {before_id:String})")
            params["before_ns"], params["before_id"] = before
        return await self._backend.query(
            "SELECT e_id AS x_id, any(e_name) AS x_name, any(e_description) AS x_description, "
            "any(e_metadata) AS x_metadata, any(e_dataset) AS x_dataset, min(i_start) AS x_start, "
            "max(i_end) AS x_end, count() AS x_items FROM ("
            + _EXPERIMENT_ITEMS
            + (f"HAVING {' AND '.join(having)} " if having else "")
            + ") GROUP BY e_id "
            + (f"HAVING {' AND '.join(outer)} " if outer else "")
            + "ORDER BY x_end DESC, x_id DESC LIMIT {limit:UInt32}",
            params,
        )

    async def run_facts(
        self, project_id: str, trace_ids: Sequence[str], observation_ids: Sequence[str]
    ) -> tuple[list[Row], list[Row], list[Row]]:
        """What the comparison of runs shows of their traces: per trace its root output, latency,
        tokens and cost; per observation its output, latency, tokens and cost; and the current
        scores of those traces."""
        params = {"project": project_id, "traces": list(trace_ids), "observations": list(observation_ids)}
        traces = await self._backend.query(
            "SELECT trace_id AS t_id, argMinIf(output, start_time, parent_span_id = '' AND sign = 1) AS t_output, "
            "toUnixTimestamp64Nano(max(end_time)) - toUnixTimestamp64Nano(min(start_time)) AS t_latency_ns, "
            "sum(sign * total_tokens) AS t_tokens, sum(sign * total_cost) AS t_cost "
            "FROM spans WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} GROUP BY trace_id",
            params,
        ) if trace_ids else []  # fmt: skip
        observations = await self._backend.query(
            "SELECT span_id AS o_id, argMax(output, ingested_at) AS o_output, "
            "argMax(duration_ns, ingested_at) AS o_latency_ns "
            "FROM spans WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
            "AND span_id IN {observations:Array(String)} AND sign = 1 GROUP BY span_id",
            params,
        ) if observation_ids else []  # fmt: skip
        if observations:
            # An observation's tokens and cost are its own and its descendants' (the LLM calls
            # inside an experiment's task span): summed over the light columns of the traces.
            tree = await self._backend.query(
                "SELECT span_id, argMax(parent_span_id, ingested_at) AS parent, "
                "argMax(total_tokens, ingested_at) AS tokens, argMax(total_cost, ingested_at) AS cost "
                "FROM spans WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
                "AND sign = 1 GROUP BY trace_id, span_id",
                params,
            )
            totals = _subtree_totals(tree, {o["o_id"] for o in observations})
            for o in observations:
                o["o_tokens"], o["o_cost"] = totals.get(o["o_id"], (0, Decimal(0)))
        scores = await self._backend.query(
            "SELECT s_trace, s_observation, s_name, s_value, s_text, s_type FROM ("
            "SELECT id, argMax(trace_id, ingested_at) AS s_trace, "
            "argMax(observation_id, ingested_at) AS s_observation, "
            "argMax(name, ingested_at) AS s_name, argMax(value, ingested_at) AS s_value, "
            f"argMax({SCORE_TEXT}, ingested_at) AS s_text, argMax(data_type, ingested_at) AS s_type, "
            "argMax(is_deleted, ingested_at) AS s_deleted FROM scores "
            "WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} GROUP BY id) "
            "WHERE s_deleted = 0",
            params,
        ) if trace_ids else []  # fmt: skip
        return traces, observations, scores

    async def run_scores(self, project_id: str, run_ids: Sequence[str]) -> list[Row]:
        """Run-level scores (an experiment's run evaluators): run id, name, value."""
        if not run_ids:
            return []
        return await self._backend.query(
            "SELECT r_run, r_name, r_value FROM ("
            "SELECT id, argMax(metadata['$datasetRunId'], ingested_at) AS r_run, argMax(name, ingested_at) AS r_name, "
            "argMax(value, ingested_at) AS r_value, argMax(is_deleted, ingested_at) AS r_deleted FROM scores "
            "WHERE project_id = {project:String} AND metadata['$datasetRunId'] IN {runs:Array(String)} GROUP BY id) "
            "WHERE r_deleted = 0 ORDER BY r_run, r_name",
            {"project": project_id, "runs": list(run_ids)},
        )
