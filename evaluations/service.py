"""Evaluator templates and rules: the built-in templates and a project's own, rules checked when
they are saved (the template, the connection and the model exist), and a rule's status message,
which says at once why it cannot run."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import orjson

from evaluations.templates import BUILTIN_TEMPLATES, check_output
from llm import ConnectionService
from pricing import PriceBook, compute_cost
from storage import Store
from storage.cursors import decode_cursor, encode_cursor
from storage.evaluations import JOB_STATES, EvalRule, EvalTemplate, EvalTemplateVersion
from storage.timestamps import epoch_ms
from tracehouse.errors import Conflict, InvalidInput, NotFound

__all__ = ["EvaluationService"]

TARGETS = ("observation", "trace", "dataset")
# "langfuse": a rule made through Langfuse's v2 API keeps its filter list as given, to read back.
FILTER_KEYS = ("name", "type", "model", "environment", "tags", "dataset", "datasetId", "langfuse")
FIELDS = ("input", "output", "metadata", "expected_output")


class EvaluationService:
    def __init__(self, store: Store, connections: ConnectionService) -> None:
        self._store = store
        self._connections = connections

    async def templates(self, project: str) -> list[dict[str, Any]]:
        """The project's own templates (each with its newest version's definition) and the built-ins."""
        heads, versions = await asyncio.gather(
            self._store.evaluations.templates(project), self._store.evaluations.template_versions(project)
        )
        newest: dict[str, EvalTemplateVersion] = {}
        for v in versions:  # newest first within a template
            newest.setdefault(v.template_id, v)
        own = [self._template_json(t, newest.get(t.id)) for t in heads]
        builtin = [{**t, "provider": "", "model": "", "builtin": True, "version": 1, "description": "",
                    "messages": None, "mapping": {}} for t in BUILTIN_TEMPLATES]  # fmt: skip
        return own + builtin

    @staticmethod
    def _template_json(t: EvalTemplate, v: EvalTemplateVersion | None) -> dict[str, Any]:
        created = t.created_at or dt.datetime.now(dt.UTC)
        return {
            "id": t.id, "name": t.name, "prompt": t.prompt, "output": orjson.loads(t.output), "provider": t.provider,
            "model": t.model, "builtin": False, "description": v.description if v else "",
            "messages": orjson.loads(v.messages) if v and v.messages else None,
            "mapping": orjson.loads(v.variable_mapping) if v and v.variable_mapping else {},
            "version": v.version if v else 1, "createdAt": created.isoformat(),
            "versionCreatedAt": (v.created_at if v else created).isoformat(),
        }  # fmt: skip

    async def template(self, project: str, template_id: str) -> dict[str, Any]:
        for t in await self.templates(project):
            if t["id"] == template_id:
                return t
        raise NotFound(f"no evaluator template {template_id!r}")

    async def template_versions(self, project: str, template_id: str) -> list[dict[str, Any]]:
        """Every definition a project's template has had, newest first."""
        current = await self.template(project, template_id)
        if current["builtin"]:
            return [current]
        versions = await self._store.evaluations.template_versions(project, template_id)
        if not versions:  # made before versions were kept: its one definition is version 1
            return [current]
        return [
            {**current, "prompt": v.prompt, "output": orjson.loads(v.output), "provider": v.provider,
             "model": v.model, "messages": orjson.loads(v.messages) if v.messages else None,
             "mapping": orjson.loads(v.variable_mapping) if v.variable_mapping else {}, "version": v.version,
             "versionCreatedAt": v.created_at.isoformat()}
            for v in versions
        ]  # fmt: skip

    async def put_template(self, project: str, body: Any, by: str = "") -> dict[str, Any]:
        """Create or change a template. A change to what the judge is asked (prompt, messages,
        output, model, variable mapping) makes a new version; name and description do not."""
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        name, prompt = body.get("name"), body.get("prompt")
        messages = body.get("messages") or None
        if "messages" not in body and template_id_of(body):
            # An editor that knows only the prompt keeps the chat messages while the prompt stands.
            kept = await self._store.evaluations.template_versions(project, template_id_of(body))
            if kept and kept[0].messages and kept[0].prompt == prompt:
                messages = orjson.loads(kept[0].messages)
        if messages is not None:
            messages = _check_messages(messages)
            prompt = "\n\n".join(m["content"] for m in messages if m["role"] == "user") or prompt
        if not isinstance(name, str) or not name.strip() or not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput("name and prompt are required")
        try:
            output = check_output(body.get("output"))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        mapping = _check_mapping(body.get("mapping") or {})
        description = body.get("description") or ""
        if not isinstance(description, str) or len(description) > 2000:
            raise InvalidInput("description: text of at most 2000 characters")
        template_id = str(body.get("id") or f"tpl-{uuid.uuid4().hex[:12]}")
        if template_id.startswith("builtin-"):
            raise InvalidInput("built-in templates are copied, not changed: save it under a new name")
        heads = {t.id: t for t in await self._store.evaluations.templates(project)}
        old = heads.get(template_id)
        t = EvalTemplate(project, template_id, name.strip(), prompt, orjson.dumps(output).decode(),
                         str(body.get("provider") or ""), str(body.get("model") or ""),
                         old.created_at if old else None)  # fmt: skip
        versions = await self._store.evaluations.template_versions(project, template_id) if old else []
        latest = versions[0] if versions else None
        definition = (t.prompt, orjson.dumps(messages).decode() if messages else "", t.output, t.provider, t.model,
                      orjson.dumps(mapping).decode() if mapping else "")  # fmt: skip
        same = latest is not None and definition == (
            latest.prompt,
            latest.messages,
            latest.output,
            latest.provider,
            latest.model,
            latest.variable_mapping,
        )
        if same and latest is not None:
            version = EvalTemplateVersion(**{**latest.__dict__, "description": description})
        else:
            number = latest.version + 1 if latest else (2 if old else 1)
            version = EvalTemplateVersion(project, template_id, number, description, *definition, by,
                                          dt.datetime.now(dt.UTC))  # fmt: skip
        # The version first: a head whose version is lost would read as its older definition.
        await self._store.evaluations.put_template_version(version)
        await self._store.evaluations.put_template(t)
        return await self.template(project, template_id)

    async def delete_template(self, project: str, template_id: str) -> None:
        """Delete a project's template; Conflict while a rule still runs it."""
        heads = {t.id: t for t in await self._store.evaluations.templates(project)}
        if template_id not in heads:
            raise NotFound(f"no evaluator template {template_id!r}")
        users = [r.name for r in await self._store.evaluations.rules(project) if r.template_id == template_id]
        if users:
            raise Conflict(f"the evaluator is used by the rule(s) {', '.join(users)}: delete or change them first")
        await self._store.evaluations.put_template(heads[template_id], deleted=True)

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
        enabled = bool(body.get("enabled", True))
        template_id = str(body.get("templateId") or "")
        # A disabled rule may be a draft that runs no template yet.
        template = await self.template(project, template_id) if template_id or enabled else None
        target = body.get("target", "observation")
        if target not in TARGETS:
            raise InvalidInput(f"target: one of {', '.join(TARGETS)}")
        f = body.get("filter") or {}
        if not isinstance(f, dict) or set(f) - set(FILTER_KEYS):
            raise InvalidInput(f"filter: an object with some of {', '.join(FILTER_KEYS)}")
        if target == "dataset":
            # Experiment outputs: the runs of one dataset, judged against its expected outputs.
            if f.get("dataset") or not f.get("datasetId"):
                found = await self._store.datasets.datasets(project, name=str(f.get("dataset", "")))
            else:
                found = await self._store.datasets.datasets(project, dataset_id=str(f["datasetId"]))
            if not found:
                raise InvalidInput("filter.dataset: the name of a dataset of this project")
            kept = {"langfuse": f["langfuse"]} if "langfuse" in f else {}
            f = {"dataset": found[0].name, "datasetId": found[0].id, **kept}
        sampling = body.get("sampling", 1.0)
        if not isinstance(sampling, (int, float)) or isinstance(sampling, bool) or not 0 < sampling <= 1:
            raise InvalidInput("sampling: a fraction above 0, at most 1")
        delay = body.get("delaySeconds", 10)
        if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 86_400:
            raise InvalidInput("delaySeconds: 0 to 86400")
        # An empty mapping inherits the template's, as it is when the job runs.
        mapping = _check_mapping(body.get("mapping") or {})
        provider = str(body.get("provider") or (template or {}).get("provider") or "")
        model = str(body.get("model") or (template or {}).get("model") or "")
        if template is not None:
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
        # A rule resumed judges what starts from then on, not what came while it was paused (that
        # is what "evaluate existing data" asks for).
        resumed = old is not None and not old.enabled and enabled
        since = 0 if body.get("evaluateExisting") else (old.since_ns if old and not resumed else time.time_ns())
        rule = EvalRule(
            project, rule_id, name.strip(), template["id"] if template else "", target, orjson.dumps(f).decode(),
            float(sampling), delay,
            orjson.dumps(mapping).decode(), since, enabled, provider, model, "",
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

    async def jobs(
        self,
        project: str,
        rule_id: str | None,
        limit: int = 100,
        statuses: list[str] | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of executions, newest first, each with the judge's tokens and what they cost at
        the project's prices (its overrides, else the built-in table; None for an unknown model),
        and the cursor of the next page (None on the last)."""
        if statuses is not None and (unknown := sorted(set(statuses) - set(JOB_STATES))):
            raise InvalidInput(f"unknown status {unknown[0]!r}: one of {', '.join(JOB_STATES)}")
        before = None
        if cursor:
            at_ms, last_id = decode_cursor(cursor, (int, str))
            before = (at_ms, last_id)
        found = await self._store.evaluations.jobs(project, rule_id, statuses, limit + 1, before)
        models = {r.id: r.model for r in await self._store.evaluations.rules(project)}
        overrides = [(o.id, o.match_pattern, {k: str(v) for k, v in o.prices.items()})
                     for o in await self._store.prices.list_overrides(project)]  # fmt: skip
        book = PriceBook({project: overrides})

        def cost(model: str, tokens_in: int, tokens_out: int) -> float | None:
            price = book.lookup(project, model) if model else None
            if price is None or not (tokens_in or tokens_out):
                return None
            return compute_cost(price, tokens_in, tokens_out, 0, 0, 0)["total"] / 1e12

        items = [
            {"id": j.id, "ruleId": j.rule_id, "traceId": j.trace_id, "observationId": j.observation_id or None,
             "status": j.status, "attempts": j.attempts, "error": j.last_error or None, "scoreId": j.score_id or None,
             "score": j.score_value if j.status == "done" else None, "inputTokens": j.input_tokens,
             "outputTokens": j.output_tokens, "cost": cost(models.get(j.rule_id, ""), j.input_tokens, j.output_tokens),
             "latencyMs": j.latency_ms, "createdAt": j.created_at.isoformat()}
            for j in found[:limit]
        ]  # fmt: skip
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor([epoch_ms(last.created_at), last.id]) if last else None
        return {"items": items, "next_cursor": next_cursor}


def template_id_of(body: dict[str, Any]) -> str:
    return str(body.get("id") or "")


def _check_mapping(mapping: Any) -> dict[str, Any]:
    if not isinstance(mapping, dict) or any(
        not isinstance(v, dict) or v.get("field") not in FIELDS or not isinstance(v.get("path", ""), str)
        for v in mapping.values()
    ):
        raise InvalidInput(f"mapping: variable -> {{field: one of {', '.join(FIELDS)}, path: optional}}")
    return mapping


def _check_messages(messages: Any) -> list[dict[str, str]]:
    """Chat messages of a judge's prompt: roles system, user or assistant, and some text each."""
    if (
        not isinstance(messages, list)
        or not messages
        or len(messages) > 50
        or not all(
            isinstance(m, dict)
            and m.get("role") in ("system", "user", "assistant")
            and isinstance(m.get("content"), str)
            and m["content"].strip()
            for m in messages
        )
    ):
        raise InvalidInput("messages: a list of {role: system, user or assistant; content: text}")
    if not any(m["role"] == "user" for m in messages):
        raise InvalidInput("messages: at least one user message")
    return [{"role": m["role"], "content": m["content"]} for m in messages]
