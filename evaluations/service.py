"""Evaluator templates and rules: the built-in templates and a project's own, rules checked when
they are saved (the template, the connection and the model exist), and a rule's status message,
which says at once why it cannot run."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import orjson

from evaluations.templates import BUILTIN_TEMPLATES, check_output
from llm import ConnectionService
from pricing import PriceBook, compute_cost
from storage import Store
from storage.evaluations import EvalRule, EvalTemplate
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["EvaluationService"]

TARGETS = ("observation", "trace", "dataset")
FILTER_KEYS = ("name", "type", "model", "environment", "tags", "dataset", "datasetId")
FIELDS = ("input", "output", "metadata", "expected_output")


class EvaluationService:
    def __init__(self, store: Store, connections: ConnectionService) -> None:
        self._store = store
        self._connections = connections

    async def templates(self, project: str) -> list[dict[str, Any]]:
        own = [
            {"id": t.id, "name": t.name, "prompt": t.prompt, "output": orjson.loads(t.output), "provider": t.provider,
             "model": t.model, "builtin": False}
            for t in await self._store.evaluations.templates(project)
        ]  # fmt: skip
        builtin = [{**t, "provider": "", "model": "", "builtin": True} for t in BUILTIN_TEMPLATES]
        return own + builtin

    async def template(self, project: str, template_id: str) -> dict[str, Any]:
        for t in await self.templates(project):
            if t["id"] == template_id:
                return t
        raise NotFound(f"no evaluator template {template_id!r}")

    async def put_template(self, project: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        name, prompt = body.get("name"), body.get("prompt")
        if not isinstance(name, str) or not name.strip() or not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput("name and prompt are required")
        try:
            output = check_output(body.get("output"))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        template_id = str(body.get("id") or f"tpl-{uuid.uuid4().hex[:12]}")
        if template_id.startswith("builtin-"):
            raise InvalidInput("built-in templates are copied, not changed: save it under a new name")
        t = EvalTemplate(project, template_id, name.strip(), prompt, orjson.dumps(output).decode(),
                         str(body.get("provider") or ""), str(body.get("model") or ""))  # fmt: skip
        await self._store.evaluations.put_template(t)
        return await self.template(project, template_id)

    async def rules(self, project: str) -> list[dict[str, Any]]:
        counts = await self._store.evaluations.counts(project)
        return [self.rule_json(r, counts.get(r.id, {})) for r in await self._store.evaluations.rules(project)]

    @staticmethod
    def rule_json(r: EvalRule, counts: dict[str, int] | None = None) -> dict[str, Any]:
        return {
            "id": r.id, "name": r.name, "templateId": r.template_id, "target": r.target,
            "filter": orjson.loads(r.filter or "{}"), "sampling": r.sampling, "delaySeconds": r.delay_s,
            "mapping": orjson.loads(r.mapping or "{}"), "evaluateExisting": r.since_ns == 0, "enabled": r.enabled,
            "provider": r.provider, "model": r.model, "statusMessage": r.status_message or None,
            "traceProject": r.trace_project or None,
            "createdAt": r.created_at.isoformat(), "jobs": counts or {},
        }  # fmt: skip

    async def put_rule(self, project: str, body: Any) -> dict[str, Any]:
        """Create or change a rule; every reference is checked now, not when the worker meets it."""
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise InvalidInput("name: the score's name, 1 to 100 characters")
        template = await self.template(project, str(body.get("templateId", "")))
        target = body.get("target", "observation")
        if target not in TARGETS:
            raise InvalidInput(f"target: one of {', '.join(TARGETS)}")
        f = body.get("filter") or {}
        if not isinstance(f, dict) or set(f) - set(FILTER_KEYS):
            raise InvalidInput(f"filter: an object with some of {', '.join(FILTER_KEYS)}")
        if target == "dataset":
            # Experiment outputs: the runs of one dataset, judged against its expected outputs.
            found = await self._store.datasets.datasets(project, name=str(f.get("dataset", "")))
            if not found:
                raise InvalidInput("filter.dataset: the name of a dataset of this project")
            f = {"dataset": found[0].name, "datasetId": found[0].id}
        sampling = body.get("sampling", 1.0)
        if not isinstance(sampling, (int, float)) or isinstance(sampling, bool) or not 0 < sampling <= 1:
            raise InvalidInput("sampling: a fraction above 0, at most 1")
        delay = body.get("delaySeconds", 10)
        if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 86_400:
            raise InvalidInput("delaySeconds: 0 to 86400")
        mapping = body.get("mapping") or {}
        if not isinstance(mapping, dict) or any(
            not isinstance(v, dict) or v.get("field") not in FIELDS for v in mapping.values()
        ):
            raise InvalidInput(f"mapping: variable -> {{field: one of {', '.join(FIELDS)}, path: optional}}")
        provider = str(body.get("provider") or template["provider"])
        model = str(body.get("model") or template["model"])
        if not provider or not model:
            raise InvalidInput("provider and model: the model connection and model the judge runs on")
        connection = await self._connections.open(project, provider)  # NotFound names it
        if connection.models and model not in connection.models and not body.get("allowOtherModel", True):
            raise InvalidInput(f"model: {provider} offers {', '.join(connection.models)}")
        trace_project = str(body.get("traceProject") or "")
        if trace_project:
            try:
                trace_project = (await self._store.projects.get_project(trace_project)).id
            except NotFound:
                raise InvalidInput("traceProject: a project to trace the judge's calls in, or empty") from None
        existing = {r.id: r for r in await self._store.evaluations.rules(project)}
        rule_id = str(body.get("id") or f"rule-{uuid.uuid4().hex[:12]}")
        old = existing.get(rule_id)
        since = 0 if body.get("evaluateExisting") else (old.since_ns if old else time.time_ns())
        rule = EvalRule(
            project, rule_id, name.strip(), template["id"], target, orjson.dumps(f).decode(), float(sampling), delay,
            orjson.dumps(mapping).decode(), since, bool(body.get("enabled", True)), provider, model, "",
            old.created_at if old else dt.datetime.now(dt.UTC), trace_project,
        )  # fmt: skip
        await self._store.evaluations.put_rule(rule)
        return self.rule_json(rule)

    async def delete_rule(self, project: str, rule_id: str) -> None:
        for r in await self._store.evaluations.rules(project):
            if r.id == rule_id:
                await self._store.evaluations.put_rule(r, deleted=True)
                return
        raise NotFound(f"no evaluation rule {rule_id!r}")

    async def set_rule_status(self, rule: EvalRule, message: str) -> None:
        current = next((r for r in await self._store.evaluations.rules(rule.project_id) if r.id == rule.id), None)
        if current is not None and current.status_message != message:
            await self._store.evaluations.put_rule(EvalRule(**{**current.__dict__, "status_message": message[:500]}))

    async def jobs(self, project: str, rule_id: str | None, limit: int = 200) -> list[dict[str, Any]]:
        """Executions, newest first, each with the judge's tokens and what they cost at the
        project's prices (its overrides, else the built-in table; None for an unknown model)."""
        models = {r.id: r.model for r in await self._store.evaluations.rules(project)}
        overrides = [(o.id, o.match_pattern, {k: str(v) for k, v in o.prices.items()})
                     for o in await self._store.prices.list_overrides(project)]  # fmt: skip
        book = PriceBook({project: overrides})

        def cost(model: str, tokens_in: int, tokens_out: int) -> float | None:
            price = book.lookup(project, model) if model else None
            if price is None or not (tokens_in or tokens_out):
                return None
            return compute_cost(price, tokens_in, tokens_out, 0, 0, 0)["total"] / 1e12

        return [
            {"id": j.id, "ruleId": j.rule_id, "traceId": j.trace_id, "observationId": j.observation_id or None,
             "status": j.status, "attempts": j.attempts, "error": j.last_error or None, "scoreId": j.score_id or None,
             "score": j.score_value if j.status == "done" else None, "inputTokens": j.input_tokens,
             "outputTokens": j.output_tokens, "cost": cost(models.get(j.rule_id, ""), j.input_tokens, j.output_tokens),
             "latencyMs": j.latency_ms, "createdAt": j.created_at.isoformat()}
            for j in await self._store.evaluations.jobs(project, rule_id, limit=limit)
        ]  # fmt: skip
