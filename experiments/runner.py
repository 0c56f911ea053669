"""Experiments from the UI, without code: a dataset, a prompt version and a model connection. Each
active item's input fills the prompt's variables, the model answers, and the call becomes a traced
generation (linked to the prompt version) in a new run of the dataset, written through the one
ingest path like any client's trace. Progress is kept per run while it runs.

Variables: an object input gives its keys (``{"country": "France"}`` fills ``{{country}}``);
any other input fills ``{{input}}``. A chat prompt's placeholders get no messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from experiments.service import DatasetService
from llm import ConnectionService, ModelError, chat
from prompts import PromptService
from storage import Store
from storage.datasets import Dataset, DatasetItem
from tracehouse.errors import InvalidInput

__all__ = ["ExperimentRunner", "Progress", "TraceSink", "compile_prompt"]

# Writes Langfuse ingestion events for a project through the ingest path; raises if not stored.
TraceSink = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
CONCURRENCY = 4
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class Progress:
    run_name: str
    total: int
    done: int = 0
    failed: int = 0
    state: str = "running"  # running | done
    errors: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def json(self) -> dict[str, Any]:
        return {"runName": self.run_name, "total": self.total, "done": self.done, "failed": self.failed,
                "state": self.state, "errors": self.errors[-5:], "startedAt": self.started_at}  # fmt: skip


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
    ) -> None:
        self._store = store
        self._datasets = datasets
        self._prompts = prompts
        self._connections = connections
        self._sink = sink
        self._progress: dict[tuple[str, str], Progress] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def progress(self, project: str, dataset_id: str) -> list[dict[str, Any]]:
        return [p.json() for (proj, key), p in self._progress.items() if proj == project and key.startswith(dataset_id)]

    async def start(self, project: str, body: Any) -> Progress:
        """Check the request, make the run, and run its items in the background."""
        if self._sink is None:
            raise InvalidInput("experiments from the UI need the receiver in this process: run `tracehouse serve`")
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        dataset = await self._datasets.dataset(project, str(body.get("datasetName", "")))
        name, version = body.get("promptName"), body.get("promptVersion")
        if not isinstance(name, str) or not isinstance(version, int):
            raise InvalidInput("promptName and promptVersion (an integer) are required")
        prompt_version, _ = await self._prompts.find(project, name, version=version)
        resolved = await self._prompts.resolved(project, prompt_version)
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
        progress = Progress(run_name, len(items))
        self._progress[(project, f"{dataset.id}:{run.id}")] = progress
        task = asyncio.create_task(
            self._run(
                project,
                dataset,
                run_name,
                items,
                resolved.prompt,
                (name, version),
                connection,
                model,
                call_params,
                progress,
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return progress

    async def _run(
        self, project: str, dataset: Dataset, run_name: str, items: list[DatasetItem], prompt: Any,
        prompt_ref: tuple[str, int], connection: Any, model: str, params: dict[str, Any], progress: Progress,
    ) -> None:  # fmt: skip
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(item: DatasetItem) -> None:
            async with limit:
                try:
                    await self._one(project, dataset, run_name, item, prompt, prompt_ref, connection, model, params)
                    progress.done += 1
                except Exception as exc:  # noqa: BLE001 (one item's failure is reported; the others go on)
                    progress.failed += 1
                    message = exc.message if isinstance(exc, ModelError) else str(exc)
                    progress.errors.append(f"item {item.id}: {message}")

        try:
            await asyncio.gather(*(one(i) for i in items))
        finally:
            progress.state = "done"

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
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
