"""Experiments from the UI, without code: a dataset, a prompt version and a model connection. Each
active item's input fills the prompt's variables, the model answers, and the call becomes a traced
generation (linked to the prompt version) in a new run of the dataset, written through the one
ingest path like any client's trace. Each run's progress is stored as it goes; a run that a stop or
a crash cut short is picked up again at the next start, with the items its run does not hold yet.

Variables: an object input gives its keys (``{"country": "France"}`` fills ``{{country}}``);
any other input fills ``{{input}}``. A chat prompt's placeholders get no messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from experiments.service import DatasetService
from llm import ConnectionService, ModelError, chat
from prompts import PromptService
from storage import Store
from storage.datasets import Dataset, DatasetItem
from storage.experiment_runs import ExperimentRun
from tracehouse.errors import Conflict, InvalidInput, NotFound

__all__ = ["ExperimentRunner", "Progress", "TraceSink", "compile_prompt"]

log = logging.getLogger(__name__)

# Writes Langfuse ingestion events for a project through the ingest path; raises if not stored.
TraceSink = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
CONCURRENCY = 4
# A running experiment's row is written at least this often, so that a process that died can be
# told from one that is slow: a row older than STALE_AFTER_S is picked up by the process that
# runs background work, which looks every ADOPT_EVERY_S.
HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0
ADOPT_EVERY_S = 15.0
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class Progress:
    """How far one experiment got; stored (storage.experiment_runs) as it goes."""

    run_name: str
    total: int
    done: int = 0
    failed: int = 0
    state: str = "running"  # running | done | failed (stored: also interrupted, by a stop)
    errors: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    resumed: bool = False  # picked up again after a stop or crash

    def json(self) -> dict[str, Any]:
        return {"runName": self.run_name, "total": self.total, "done": self.done, "failed": self.failed,
                "state": self.state, "errors": self.errors[-5:], "startedAt": self.started_at,
                "resumed": self.resumed}  # fmt: skip

    @classmethod
    def of(cls, record: ExperimentRun) -> Progress:
        errors = orjson.loads(record.errors) if record.errors else []
        # An interrupted run is one a stop left to be picked up again: to its readers, running.
        state = "running" if record.state == "interrupted" else record.state
        return cls(record.run_name, record.total, record.done, record.failed, state, errors,
                   record.created_at.isoformat())  # fmt: skip


@dataclass
class _Job:
    """One experiment in this process: what it runs, and where its progress is stored."""

    project: str
    dataset: Dataset
    run_id: str
    spec: dict[str, Any]  # prompt, version, provider, model, params
    progress: Progress
    created_at: dt.datetime
    saved_at: float = 0.0

    def record(self) -> ExperimentRun:
        p = self.progress
        return ExperimentRun(self.project, self.dataset.id, self.run_id, p.run_name, orjson.dumps(self.spec).decode(),
                             p.state, p.total, p.done, p.failed, orjson.dumps(p.errors[-5:]).decode(),
                             self.created_at)  # fmt: skip


def _variables(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
    return {"input": value if isinstance(value, str) else orjson.dumps(value).decode()}


def compile_prompt(prompt: Any, item_input: Any) -> list[dict[str, str]]:
    """The messages a prompt version makes for one item's input."""
    values = _variables(item_input)

    def fill(text: str) -> str:
        return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    if isinstance(prompt, str):
        return [{"role": "user", "content": fill(prompt)}]
    return [{"role": m["role"], "content": fill(m["content"])} for m in prompt if "role" in m]


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class ExperimentRunner:
    def __init__(
        self,
        store: Store,
        datasets: DatasetService,
        prompts: PromptService,
        connections: ConnectionService,
        sink: TraceSink | None,
        save_every_s: float = 1.0,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self._store = store
        self._datasets = datasets
        self._prompts = prompts
        self._connections = connections
        self._sink = sink
        self._save_every_s = save_every_s
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._jobs: dict[tuple[str, str], _Job] = {}  # (project, run id) -> job
        self._tasks: set[asyncio.Task[None]] = set()

    async def progress(self, project: str, dataset_id: str) -> list[dict[str, Any]]:
        """Every experiment run on a dataset by the server, newest first: live counts for those
        running here, the stored ones for the rest (finished, or run before a restart)."""
        out = []
        for record in await self._store.experiment_runs.list(project, dataset_id):
            job = self._jobs.get((project, record.run_id))
            out.append((job.progress if job else Progress.of(record)).json())
        return out

    async def start(self, project: str, body: Any) -> Progress:
        """Check the request, make the run, and run its items in the background."""
        if self._sink is None:
            raise InvalidInput("experiments from the UI need an ingest path in this process (serve or query)")
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        dataset = await self._datasets.dataset(project, str(body.get("datasetName", "")))
        name, version = body.get("promptName"), body.get("promptVersion")
        if not isinstance(name, str) or not isinstance(version, int):
            raise InvalidInput("promptName and promptVersion (an integer) are required")
        prompt_version, _ = await self._prompts.find(project, name, version=version)
        resolved = await self._prompts.resolved(project, prompt_version)  # a broken reference is a 400 now
        connection = await self._connections.open(project, str(body.get("provider", "")))
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("model: required")
        params = orjson.loads(prompt_version.config) if prompt_version.config else {}
        call_params = {
            k: params[k] for k in ("temperature", "max_tokens", "top_p") if isinstance(params, dict) and k in params
        }
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        run_name = str(body.get("runName") or f"{name} v{version} · {model} · {stamp}")
        items = [i for i in await self._store.datasets.items(project, [dataset.id]) if i.status == "ACTIVE"]
        if not items:
            raise InvalidInput("the dataset has no active items")
        run = await self._datasets.ensure_run(
            project, dataset, run_name, f"{name} v{version} on {connection.provider}/{model}",
            {"prompt": {"name": name, "version": version}, "provider": connection.provider, "model": model},
        )  # fmt: skip
        if (project, run.id) in self._jobs and self._jobs[(project, run.id)].progress.state == "running":
            raise Conflict(f"run {run_name!r} is running already")
        spec = {"prompt": name, "version": version, "provider": connection.provider, "model": model,
                "params": call_params}  # fmt: skip
        job = _Job(project, dataset, run.id, spec, Progress(run_name, len(items)), dt.datetime.now(dt.UTC))
        await self._store.experiment_runs.put(job.record())
        await self._launch(job, items, (resolved.prompt, connection))
        return job.progress

    async def resume(self, stale_after_s: float | None = None) -> int:
        """Pick up the experiments a stop or a crash cut short: those a stop marked interrupted,
        and those still marked running whose row has not been written for ``stale_after_s`` (by
        default the runner's: the process that ran them is gone). Each runs the items its run does
        not hold yet. Returns how many were picked up; those that cannot go on (their dataset,
        prompt or connection is gone) are marked failed, with why."""
        if self._sink is None:
            return 0
        picked = 0
        wait = self._stale_after_s if stale_after_s is None else stale_after_s
        stale = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=wait)
        records = await self._store.experiment_runs.list(state="interrupted")
        records += [
            r
            for r in await self._store.experiment_runs.list(state="running")
            if r.updated_at is not None and r.updated_at < stale
        ]
        for record in records:
            if (record.project_id, record.run_id) in self._jobs:
                continue
            try:
                dataset = await self._datasets.dataset_by_id(record.project_id, record.dataset_id)
                runs = await self._store.datasets.runs(record.project_id, record.dataset_id, record.run_name)
                if not runs or runs[0].id != record.run_id:
                    raise NotFound(f"the run {record.run_name!r} was deleted")
                stored = await self._store.datasets.run_items(record.project_id, [record.run_id])
                held = {i.dataset_item_id for i in stored}
                items = [
                    i
                    for i in await self._store.datasets.items(record.project_id, [record.dataset_id])
                    if i.status == "ACTIVE" and i.id not in held
                ]
            except (NotFound, InvalidInput) as exc:
                errors = [*(orjson.loads(record.errors) if record.errors else []), f"could not resume: {exc}"]
                await self._store.experiment_runs.put(
                    replace(record, state="failed", errors=orjson.dumps(errors[-5:]).decode())
                )
                continue
            job = _Job(record.project_id, dataset, record.run_id, orjson.loads(record.spec), Progress.of(record),
                       record.created_at)  # fmt: skip
            # Items that failed and were stored are in ``held``; those that failed before being
            # stored run again, so the count starts again from what the run holds.
            failed = min(record.failed, len(held))
            job.progress.done, job.progress.failed = len(held) - failed, failed
            job.progress.total = max(record.total, len(held) + len(items))
            job.progress.resumed = True
            log.info("resuming experiment %r: %d item(s) to go", record.run_name, len(items))
            await self._launch(job, items)
            picked += 1
        return picked

    async def stop(self, project: str, run_id: str) -> None:
        """Stop an experiment of this process (its run was deleted); nothing if none runs."""
        job = self._jobs.get((project, run_id))
        if job is None or job.progress.state != "running":
            return
        job.progress.state = "failed"
        job.progress.errors.append("stopped: the run was deleted")
        for task in list(self._tasks):
            if task.get_name() == f"experiment:{project}:{run_id}":
                task.cancel()
        await self._store.experiment_runs.put(job.record())

    async def _prepared(self, project: str, spec: dict[str, Any]) -> tuple[Any, Any]:
        """The prompt (its references resolved) and the model connection a spec names."""
        prompt_version, _ = await self._prompts.find(project, spec["prompt"], version=spec["version"])
        resolved = await self._prompts.resolved(project, prompt_version)
        return resolved.prompt, await self._connections.open(project, spec["provider"])

    async def _launch(self, job: _Job, items: list[DatasetItem], prepared: tuple[Any, Any] | None = None) -> None:
        self._jobs[(job.project, job.run_id)] = job
        try:
            prompt, connection = prepared or await self._prepared(job.project, job.spec)
        except (NotFound, InvalidInput) as exc:
            job.progress.state = "failed"
            job.progress.errors.append(str(exc))
            await self._store.experiment_runs.put(job.record())
            return
        task = asyncio.create_task(
            self._run(job, items, prompt, connection), name=f"experiment:{job.project}:{job.run_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save(self, job: _Job, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - job.saved_at < self._save_every_s:
            return
        job.saved_at = now
        try:
            await self._store.experiment_runs.put(job.record())
        except Exception:
            log.warning("could not save the progress of experiment %r", job.progress.run_name, exc_info=True)

    async def _run(self, job: _Job, items: list[DatasetItem], prompt: Any, connection: Any) -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        progress, spec = job.progress, job.spec

        async def one(item: DatasetItem) -> None:
            async with limit:
                try:
                    prompt_ref = (spec["prompt"], spec["version"])
                    await self._one(job.project, job.dataset, progress.run_name, item, prompt, prompt_ref,
                                    connection, spec["model"], spec["params"])  # fmt: skip
                    progress.done += 1
                except Exception as exc:  # noqa: BLE001 (one item's failure is reported; the others go on)
                    progress.failed += 1
                    message = exc.message if isinstance(exc, ModelError) else str(exc)
                    progress.errors.append(f"item {item.id}: {message}")
                await self._save(job)

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(self._heartbeat_s)
                await self._save(job, force=True)

        beating = asyncio.create_task(heartbeat())
        try:
            # Cancelled (the server stops): close() marks the run interrupted, to be picked up.
            await asyncio.gather(*(one(i) for i in items))
        finally:
            beating.cancel()
        progress.state = "done"
        await self._save(job, force=True)

    async def adopt_forever(self, every_s: float = ADOPT_EVERY_S) -> None:
        """Pick up interrupted and orphaned experiments now and every ``every_s`` (the background
        work of one process: ``TRACEHOUSE_EVAL_WORKER``)."""
        while True:
            try:
                await self.resume()
            except Exception:  # the store may be down for a while: look again later
                log.warning("could not look for experiments to pick up", exc_info=True)
            await asyncio.sleep(every_s)

    async def _one(
        self, project: str, dataset: Dataset, run_name: str, item: DatasetItem, prompt: Any,
        prompt_ref: tuple[str, int], connection: Any, model: str, params: dict[str, Any],
    ) -> None:  # fmt: skip
        assert self._sink is not None
        messages = compile_prompt(prompt, orjson.loads(item.input))
        started = dt.datetime.now(dt.UTC)
        error: ModelError | None = None
        try:
            result = await chat(connection.adapter, connection.base_url, connection.api_key, model, messages,
                                connection.headers, params)  # fmt: skip
        except ModelError as exc:
            error, result = exc, None
        ended = dt.datetime.now(dt.UTC)
        trace_id, generation_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        output = result.text if result else None
        generation: dict[str, Any] = {
            "id": generation_id, "traceId": trace_id, "name": "experiment-llm", "startTime": _iso(started),
            "endTime": _iso(ended), "model": result.model if result else model, "input": messages, "output": output,
            "promptName": prompt_ref[0], "promptVersion": prompt_ref[1], "modelParameters": params or None,
        }  # fmt: skip
        if result:
            generation["usageDetails"] = {"input": result.input_tokens, "output": result.output_tokens}
        if error:
            generation.update(level="ERROR", statusMessage=error.message)
        events = [
            {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": _iso(started),
             "body": {"id": trace_id, "name": f"experiment: {dataset.name}", "timestamp": _iso(started),
                      "input": orjson.loads(item.input), "output": output, "environment": "experiment",
                      "metadata": {"dataset": dataset.name, "datasetItemId": item.id, "runName": run_name}}},
            {"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": _iso(started), "body": generation},
        ]  # fmt: skip
        await self._sink(project, events)
        await self._datasets.add_run_item(
            project,
            {"runName": run_name, "datasetItemId": item.id, "traceId": trace_id, "observationId": generation_id},
        )
        if error:
            raise error

    async def close(self) -> None:
        """Stop this process's experiments, marking each interrupted: the next process that runs
        background work picks them up at once."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for job in self._jobs.values():
            if job.progress.state == "running":
                job.progress.state = "interrupted"
                with contextlib.suppress(Exception):  # the store may be gone: then it goes stale instead
                    await self._store.experiment_runs.put(job.record())
