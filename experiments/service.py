"""Datasets and experiments: datasets upserted by name, items checked against the dataset's JSON
Schemas, runs created by their first item, run items (several per dataset item allowed), and
runs made only of experiment spans (langfuse SDK 5.x) folded in, so a run shows whichever client
made it.

The API layers turn these answers and errors into HTTP; ``DatasetRuleError`` is a 400 naming the
field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import jsonschema
import orjson

from storage import Store
from storage.datasets import Dataset, DatasetItem, DatasetRun, RunItem, run_id_for
from tracehouse.errors import NotFound

__all__ = ["STATUSES", "DatasetRuleError", "DatasetService"]

STATUSES = ("ACTIVE", "ARCHIVED")
MAX_NAME = 500


class DatasetRuleError(ValueError):
    """A broken rule: ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _json(value: Any) -> str:
    return orjson.dumps(value).decode() if value is not None else "null"


def _schema(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise DatasetRuleError(field, "a JSON Schema is an object")
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise DatasetRuleError(field, f"not a valid JSON Schema: {exc.message}") from None
    return _json(value)


def _validate(value: Any, schema_text: str, field: str) -> None:
    if not schema_text or value is None:
        return  # no schema, or no value given: an item may lack an expected output
    schema = orjson.loads(schema_text)
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(value), key=lambda e: e.path)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        raise DatasetRuleError(
            field, f"does not match the dataset's schema{f' at {where}' if where else ''}: {first.message}"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DatasetService:
    """Datasets of every project, on one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- datasets ---------------------------------------------------------------------------

    async def dataset(self, project: str, name: str) -> Dataset:
        """A dataset by name; NotFound otherwise."""
        found = await self._store.datasets.datasets(project, name=name)
        if not found:
            raise NotFound(f"Dataset not found: {name}")
        return found[0]

    async def dataset_by_id(self, project: str, dataset_id: str) -> Dataset:
        found = await self._store.datasets.datasets(project, dataset_id=dataset_id)
        if not found:
            raise NotFound(f"Dataset not found: {dataset_id}")
        return found[0]

    async def upsert_dataset(self, project: str, body: Any) -> Dataset:
        """Create a dataset, or update the one of that name (its id stays)."""
        if not isinstance(body, dict):
            raise DatasetRuleError("body", "expected a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise DatasetRuleError("name", f"a dataset needs a name of 1 to {MAX_NAME} characters")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise DatasetRuleError("description", "a string")
        input_schema = _schema(body.get("inputSchema"), "inputSchema")
        output_schema = _schema(body.get("expectedOutputSchema"), "expectedOutputSchema")
        existing = await self._store.datasets.datasets(project, name=name)
        now = _now()
        if existing:
            old = existing[0]
            new = replace(
                old,
                description=description if description is not None else old.description,
                metadata=_json(body["metadata"]) if "metadata" in body else old.metadata,
                input_schema=input_schema if "inputSchema" in body else old.input_schema,
                expected_output_schema=output_schema if "expectedOutputSchema" in body else old.expected_output_schema,
            )
            # Tightening a schema must not leave items that break it unnoticed.
            if new.input_schema != old.input_schema or new.expected_output_schema != old.expected_output_schema:
                for item in await self._store.datasets.items(project, [old.id]):
                    _validate(orjson.loads(item.input), new.input_schema, "inputSchema")
                    _validate(orjson.loads(item.expected_output), new.expected_output_schema, "expectedOutputSchema")
        else:
            new = Dataset(project, str(uuid.uuid4()), name, description or "", _json(body.get("metadata")),
                          input_schema, output_schema, now, now)  # fmt: skip
        return await self._store.datasets.put_dataset(new)

    async def delete_dataset(self, project: str, name: str) -> None:
        d = await self.dataset(project, name)
        await self._store.datasets.put_dataset(d, deleted=True)
        await self._store.media.release_items(project, d.id)
        await self._store.media.sweep(project)

    # -- items ------------------------------------------------------------------------------

    async def upsert_item(self, project: str, body: Any) -> tuple[Dataset, DatasetItem]:
        """Create an item, or a new version of the item with that id (fields given replace)."""
        if not isinstance(body, dict):
            raise DatasetRuleError("body", "expected a JSON object")
        name = body.get("datasetName")
        if not isinstance(name, str) or not name:
            raise DatasetRuleError("datasetName", "required")
        dataset = await self.dataset(project, name)
        item_id = body.get("id") or str(uuid.uuid4())
        if not isinstance(item_id, str) or len(item_id) > 500:
            raise DatasetRuleError("id", "a string of at most 500 characters")
        status = body.get("status") or None
        if status is not None and status not in STATUSES:
            raise DatasetRuleError("status", f"one of {', '.join(STATUSES)}")
        for field in ("sourceTraceId", "sourceObservationId"):
            if body.get(field) is not None and not isinstance(body[field], str):
                raise DatasetRuleError(field, "a string")
        existing = await self._store.datasets.items(project, item_ids=[item_id])
        if existing and existing[0].dataset_id != dataset.id:
            raise DatasetRuleError("id", f"item {item_id} belongs to another dataset")
        now = _now()
        if existing:
            old = existing[0]
            item = replace(
                old,
                status=status or old.status,
                input=_json(body["input"]) if "input" in body else old.input,
                expected_output=_json(body["expectedOutput"]) if "expectedOutput" in body else old.expected_output,
                metadata=_json(body["metadata"]) if "metadata" in body else old.metadata,
                source_trace_id=body.get("sourceTraceId") or old.source_trace_id,
                source_observation_id=body.get("sourceObservationId") or old.source_observation_id,
            )
        else:
            item = DatasetItem(
                project, dataset.id, item_id, status or "ACTIVE", _json(body.get("input")),
                _json(body.get("expectedOutput")), _json(body.get("metadata")), body.get("sourceTraceId") or "",
                body.get("sourceObservationId") or "", now, now,
            )  # fmt: skip
        _validate(orjson.loads(item.input), dataset.input_schema, "input")
        _validate(orjson.loads(item.expected_output), dataset.expected_output_schema, "expectedOutput")
        written = await self._store.datasets.put_items([item])
        return dataset, written[0]

    async def item(self, project: str, item_id: str) -> tuple[Dataset, DatasetItem]:
        found = await self._store.datasets.items(project, item_ids=[item_id])
        if not found:
            raise NotFound(f"Dataset item not found: {item_id}")
        return await self.dataset_by_id(project, found[0].dataset_id), found[0]

    async def delete_item(self, project: str, item_id: str) -> None:
        _, item = await self.item(project, item_id)
        await self._store.datasets.put_items([item], deleted=True)
        await self._store.media.release_items(project, item.dataset_id, [item.id])
        await self._store.media.sweep(project)

    # -- runs -------------------------------------------------------------------------------

    async def add_run_item(self, project: str, body: Any) -> tuple[DatasetRun, RunItem]:
        """Link a trace or observation to a dataset item in a run; the run is made by its first item.
        Every call adds a run item: repeating an item in a run is allowed (repetitions)."""
        if not isinstance(body, dict):
            raise DatasetRuleError("body", "expected a JSON object")
        run_name = body.get("runName")
        if not isinstance(run_name, str) or not run_name.strip():
            raise DatasetRuleError("runName", "required")
        item_id = body.get("datasetItemId")
        if not isinstance(item_id, str) or not item_id:
            raise DatasetRuleError("datasetItemId", "required")
        trace_id, observation_id = body.get("traceId"), body.get("observationId")
        if not trace_id and not observation_id:
            raise DatasetRuleError("traceId", "give traceId or observationId")
        for field, value in (("traceId", trace_id), ("observationId", observation_id)):
            if value is not None and not isinstance(value, str):
                raise DatasetRuleError(field, "a string")
        dataset, item = await self.item(project, item_id)
        if not trace_id:
            trace_id = await self._store.datasets.trace_of_observation(project, str(observation_id))
            if trace_id is None:
                # The SDK may post the run item before its spans are flushed: keep the link, the
                # trace id is the observation's once it arrives (read time), or unknown.
                trace_id = ""
        run = await self.ensure_run(project, dataset, run_name, body.get("runDescription"), body.get("metadata"))
        run_item = RunItem(
            project, run.id, str(uuid.uuid4()), item.id, str(trace_id), str(observation_id or ""), _now()
        )
        await self._store.datasets.add_run_items([run_item])
        return run, run_item

    async def ensure_run(
        self, project: str, dataset: Dataset, name: str, description: Any = None, metadata: Any = None
    ) -> DatasetRun:
        """The run of that name, made now if it does not exist (its description and metadata
        filled from the first call that gives them)."""
        found = await self._store.datasets.runs(project, dataset.id, name)
        if found:
            run = found[0]
            if (description and not run.description) or (metadata is not None and run.metadata == "null"):
                run = await self._store.datasets.put_run(
                    replace(
                        run,
                        description=run.description or str(description or ""),
                        metadata=run.metadata if run.metadata != "null" else _json(metadata),
                    )
                )
            return run
        now = _now()
        run = DatasetRun(project, dataset.id, run_id_for(project, dataset.id, name), name, str(description or ""),
                         _json(metadata), now, now)  # fmt: skip
        return await self._store.datasets.put_run(run)

    async def runs(self, project: str, dataset: Dataset) -> list[DatasetRun]:
        """Runs of a dataset, those made only of SDK 5 experiment spans included, newest first."""
        runs = await self._store.datasets.runs(project, dataset.id)
        known = {r.id for r in runs}
        for exp_id, name, first in self._span_runs(await self._store.datasets.experiment_spans(project, dataset.id)):
            if exp_id not in known:
                runs.append(DatasetRun(project, dataset.id, exp_id, name, "", "null", first, first))
                known.add(exp_id)
        runs.sort(key=lambda r: r.created_at, reverse=True)
        return runs

    @staticmethod
    def _span_runs(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, dt.datetime]]:
        seen: dict[str, tuple[str, dt.datetime]] = {}
        for r in rows:
            if r["experiment_id"] and r["experiment_id"] not in seen:
                seen[r["experiment_id"]] = (
                    r["experiment_name"] or r["experiment_id"],
                    dt.datetime.fromtimestamp(int(r["start_ns"]) / 1e9, dt.UTC),
                )
        return [(k, name, t) for k, (name, t) in seen.items()]

    async def run_items(self, project: str, dataset: Dataset, runs: Sequence[DatasetRun]) -> list[RunItem]:
        """Run items of runs: posted ones, and one per experiment item span no posted item covers."""
        items = await self._store.datasets.run_items(project, [r.id for r in runs])
        covered = {(i.run_id, i.observation_id or i.trace_id) for i in items}
        covered |= {(i.run_id, i.trace_id) for i in items}
        wanted = {r.id for r in runs}
        for row in await self._store.datasets.experiment_spans(project, dataset.id):
            run_id = row["experiment_id"]
            if run_id not in wanted or (run_id, row["trace_id"]) in covered or (run_id, row["span_id"]) in covered:
                continue
            covered.add((run_id, row["trace_id"]))
            items.append(
                RunItem(project, run_id, f"span-{row['span_id']}", row["item_id"], row["trace_id"],
                        row["root_observation_id"] or row["span_id"],
                        dt.datetime.fromtimestamp(int(row["start_ns"]) / 1e9, dt.UTC))
            )  # fmt: skip
        return items

    async def run(self, project: str, dataset: Dataset, name: str) -> DatasetRun:
        for r in await self.runs(project, dataset):
            if r.name == name:
                return r
        raise NotFound(f"Dataset run not found: {name}")

    async def delete_run(self, project: str, dataset: Dataset, name: str) -> DatasetRun:
        """Delete a run (its traces stay); returns it as it was."""
        found = await self._store.datasets.runs(project, dataset.id, name)
        if not found:
            raise NotFound(f"Dataset run not found: {name}")
        await self._store.datasets.put_run(found[0], deleted=True)
        return found[0]
