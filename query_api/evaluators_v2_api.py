"""Langfuse's v2 evaluators and evaluation-rules API (``/api/public/v2/evaluators``,
``/api/public/v2/evaluation-rules``), as langfuse 5.x's client calls it, over Tracehouse's own
evaluator templates and rules: an evaluator is a template (its versions are the definitions it
has had), a rule is a rule. What Tracehouse does not run (code evaluators, more than one evaluator
per rule, filters on columns its rules cannot select) is refused with a 400 that says so.
Errors use that API's own shape: ``{"message", "code", "details"}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from evaluations import EvaluationService
from evaluations.judge import variables_of
from query_api.access import CREDENTIALS_KEY
from query_api.evaluations_api import EVALUATIONS_KEY
from query_api.langfuse_api import PREFIX, langfuse_json
from query_api.llm_api import CONNECTIONS_KEY
from query_api.requests import read_json
from storage.cursors import decode_cursor, encode_cursor
from tracehouse.errors import Conflict, InvalidInput, NotFound, Unauthenticated

__all__ = ["evaluators_v2_routes"]

EVALUATORS = PREFIX + "/v2/evaluators"
RULES = PREFIX + "/v2/evaluation-rules"
SOURCES = ("input", "output", "metadata", "expected_output")
_TYPES = {"NUMERIC": "numeric", "BOOLEAN": "boolean", "CATEGORICAL": "categorical"}
_DATA_TYPES = {v: k for k, v in _TYPES.items()}
# The v2 filter columns a Tracehouse rule can select on, and the rule filter key each becomes.
_OPTION_COLUMNS = {"type": "type", "name": "name", "environment": "environment"}
SUPPORTED_COLUMNS = (*_OPTION_COLUMNS, "tags", "datasetId", "isExperimentItemRootSpan", "isRootObservation")

Handler = Callable[[web.Request, EvaluationService, str], Awaitable[web.Response]]


class ApiError(Exception):
    """An answer in the v2 evaluation API's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_body", message)


def _handler(fn: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            try:
                project = await request.app[CREDENTIALS_KEY].key_project(request.headers.get("Authorization", ""))
            except Unauthenticated as exc:
                raise ApiError(401, "authentication_failed", exc.message) from None
            return await fn(request, request.app[EVALUATIONS_KEY], project)
        except ApiError as exc:
            return langfuse_json({"message": exc.message, "code": exc.code}, exc.status)
        except InvalidInput as exc:
            return langfuse_json({"message": exc.message, "code": "invalid_body"}, 400)
        except NotFound as exc:
            return langfuse_json({"message": exc.message, "code": "resource_not_found"}, 404)
        except Conflict as exc:
            return langfuse_json({"message": exc.message, "code": "conflict"}, 409)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return body


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """A cursor page (newest first); the cursor is the position of the next item."""
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "invalid_query", "limit must be an integer") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "invalid_query", "limit must be between 1 and 100")
    start = 0
    if cursor := request.query.get("cursor"):
        try:
            start = int(decode_cursor(cursor, [int])[0])
        except InvalidInput:
            raise ApiError(400, "invalid_query", "cursor is not one this API gave") from None
    page = items[start : start + limit]
    after = start + len(page)
    return langfuse_json({"data": page, "meta": {"cursor": encode_cursor([after]) if after < len(items) else None}})


# -- evaluators -----------------------------------------------------------------------------------


def _mapping_in(raw: Any) -> dict[str, dict[str, str]]:
    """A v2 variable mapping ([{variable, source, jsonPath}]) as a Tracehouse mapping."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _invalid("variableMapping must be a list of {variable, source, jsonPath}")
    out: dict[str, dict[str, str]] = {}
    for m in raw:
        if not isinstance(m, dict) or not isinstance(m.get("variable"), str) or not m["variable"]:
            raise _invalid("variableMapping: each entry needs a variable name")
        if m.get("source") not in SOURCES:
            raise _invalid(
                f"variableMapping: source {m.get('source')!r} is not offered; Tracehouse maps {', '.join(SOURCES)}"
            )
        path = m.get("jsonPath") or ""
        if not isinstance(path, str) or (path and not path.startswith("$")):
            raise _invalid("variableMapping: jsonPath must start with $")
        if m["variable"] in out:
            raise _invalid(f"variableMapping: {m['variable']!r} is mapped twice")
        out[m["variable"]] = {"field": m["source"], **({"path": path} if path else {})}
    return out


def _mapping_out(mapping: dict[str, Any]) -> list[dict[str, Any]] | None:
    if not mapping:
        return None
    return [
        {"variable": k, "source": v.get("field"), **({"jsonPath": v["path"]} if v.get("path") else {})}
        for k, v in mapping.items()
    ]


def _output_in(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("dataType") not in _TYPES:
        raise _invalid("outputDefinition: an object with dataType NUMERIC, BOOLEAN or CATEGORICAL")
    out: dict[str, Any] = {"type": _TYPES[raw["dataType"]], "reasoning": True}
    if raw["dataType"] == "NUMERIC":
        out["min"] = raw["minValue"] if raw.get("minValue") is not None else 0
        out["max"] = raw["maxValue"] if raw.get("maxValue") is not None else 1
    if raw["dataType"] == "CATEGORICAL":
        if raw.get("shouldAllowMultipleMatches"):
            raise _invalid("outputDefinition: Tracehouse's judges give one category; shouldAllowMultipleMatches=false")
        out["categories"] = raw.get("categories")
    for theirs, ours in (("scoreValueInstructions", "valueInstructions"),
                         ("scoreReasoningInstructions", "reasoningInstructions")):  # fmt: skip
        if raw.get(theirs):
            out[ours] = raw[theirs]
    return out


def _output_out(output: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"dataType": _DATA_TYPES[output["type"]]}
    if output["type"] == "numeric":
        out.update(minValue=output["min"], maxValue=output["max"])
    if output["type"] == "categorical":
        out.update(categories=output["categories"], shouldAllowMultipleMatches=False)
    for ours, theirs in (("valueInstructions", "scoreValueInstructions"),
                         ("reasoningInstructions", "scoreReasoningInstructions")):  # fmt: skip
        if output.get(ours):
            out[theirs] = output[ours]
    return out


def _messages(t: dict[str, Any]) -> list[dict[str, str]]:
    return t["messages"] or [{"role": "user", "content": t["prompt"]}]


def _definition(t: dict[str, Any]) -> dict[str, Any]:
    """The versioned part of an evaluator, in the v2 shape."""
    messages = _messages(t)
    variables: list[str] = []
    for m in messages:
        variables += [v for v in variables_of(m["content"]) if v not in variables]
    return {
        "type": "llm_as_judge",
        "prompt": messages,
        "variables": variables,
        "variableMapping": _mapping_out(t["mapping"]),
        "modelConfig": {"provider": t["provider"], "model": t["model"]} if t["provider"] and t["model"] else None,
        "outputDefinition": _output_out(t["output"]),
    }


def _evaluator_json(t: dict[str, Any], all_rules: list[dict[str, Any]]) -> dict[str, Any]:
    """An evaluator in the v2 shape, with the rules (of ``all_rules``, the project's) that run it."""
    rules = [r for r in all_rules if r["templateId"] == t["id"]]
    assignments = []
    for r in rules:
        override = {"variableMappingOverride": _mapping_out(r["mapping"])} if r["mapping"] else {}
        assignments.append({"evaluationRuleId": r["id"], **override})
    return {
        **_definition(t),
        "id": t["id"], "name": t["name"], "description": t["description"] or None, "createdBy": None,
        "status": "active", "pausedAt": None, "pausedReason": None, "pausedMessage": None,
        "evaluationRuleAssignments": assignments, "createdAt": t["createdAt"], "updatedAt": t["versionCreatedAt"],
        "versionId": f"{t['id']}-v{t['version']}", "version": t["version"],
        "versionCreatedAt": t["versionCreatedAt"], "versionCreatedBy": None,
    }  # fmt: skip


def _template_body(body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """A v2 create or update body as a Tracehouse template body; an update keeps what it leaves out."""
    kind = body.get("type", current and "llm_as_judge")
    if kind == "code" or "sourceCode" in body:
        raise _invalid("Tracehouse runs LLM-as-a-judge evaluators; code evaluators are not offered")
    if kind != "llm_as_judge":
        raise _invalid("type must be llm_as_judge")
    out: dict[str, Any] = dict(current or {})
    for key in ("name", "description"):
        if key in body:
            out[key] = body[key] or ""
    if "prompt" in body:
        prompt = body["prompt"]
        if isinstance(prompt, str):
            out.update(prompt=prompt, messages=None)
        elif isinstance(prompt, list):
            out.update(messages=prompt, prompt="")
        else:
            raise _invalid("prompt: a string or a list of {role, content} messages")
    if "modelConfig" in body:
        config = body["modelConfig"]
        complete = isinstance(config, dict) and config.get("provider") and config.get("model")
        if config is not None and not complete:
            raise _invalid("modelConfig: {provider, model}, or null for the project's default")
        out.update(provider=(config or {}).get("provider", ""), model=(config or {}).get("model", ""))
    if "variableMapping" in body:
        out["mapping"] = _mapping_in(body["variableMapping"])
    if "outputDefinition" in body:
        out["output"] = _output_in(body["outputDefinition"])
    elif current is None:
        raise _invalid("outputDefinition is required")
    return out


async def list_evaluators(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    own = [t for t in await service.templates(project) if not t["builtin"]]
    own.sort(key=lambda t: t["createdAt"], reverse=True)
    rules = await service.rules(project)  # once for the page, not once per evaluator
    return _page(request, [_evaluator_json(t, rules) for t in own])


async def _own(service: EvaluationService, project: str, evaluator_id: str) -> dict[str, Any]:
    t = await service.template(project, evaluator_id)
    if t["builtin"]:
        raise NotFound(f"no evaluator {evaluator_id!r}: built-in templates are copied in the UI, not served here")
    return t


async def get_evaluator(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    t = await _own(service, project, request.match_info["id"])
    return langfuse_json(_evaluator_json(t, await service.rules(project)))


async def create_evaluator(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    body = _template_body(await _body(request), None)
    body.pop("id", None)
    t = await service.put_template(project, body)
    return langfuse_json(_evaluator_json(t, await service.rules(project)))


async def update_evaluator(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    current = await _own(service, project, request.match_info["id"])
    patch = await _body(request)
    if not set(patch) - {"type"}:
        raise _invalid("give at least one field to change")
    t = await service.put_template(project, _template_body(patch, current))
    return langfuse_json(_evaluator_json(t, await service.rules(project)))


async def delete_evaluator(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    evaluator_id = request.match_info["id"]
    await _own(service, project, evaluator_id)
    await service.delete_template(project, evaluator_id)
    return langfuse_json({"id": evaluator_id})


async def list_versions(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    evaluator_id = request.match_info["id"]
    await _own(service, project, evaluator_id)
    versions = [
        {**_definition(v), "id": f"{v['id']}-v{v['version']}", "version": v["version"],
         "createdAt": v["versionCreatedAt"], "createdBy": None}
        for v in await service.template_versions(project, evaluator_id)
    ]  # fmt: skip
    return _page(request, versions)


# -- evaluation rules -----------------------------------------------------------------------------


def _filter_in(raw: Any) -> tuple[str, dict[str, Any]]:
    """A v2 filter list as a Tracehouse rule's target and filter (which keeps the list to read back)."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise _invalid("filter must be a list of conditions")
    target, f = "observation", {}
    for c in raw:
        if not isinstance(c, dict) or not isinstance(c.get("column"), str):
            raise _invalid("filter: each condition is {type, column, operator, value}")
        column, operator, value = c["column"], c.get("operator"), c.get("value")
        if column in _OPTION_COLUMNS or column == "datasetId":
            if c.get("type") != "stringOptions" or operator != "any of":
                raise _invalid(f"filter on {column}: type stringOptions with operator 'any of'")
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise _invalid(f"filter on {column}: value is a list of strings")
            if column == "datasetId":
                if len(value) != 1:
                    raise _invalid("filter on datasetId: one dataset per rule")
                target, f["datasetId"] = "dataset", value[0]
            else:
                f[_OPTION_COLUMNS[column]] = value
        elif column == "tags":
            if c.get("type") != "arrayOptions" or operator not in ("all of", "any of"):
                raise _invalid("filter on tags: type arrayOptions with operator 'all of'")
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _invalid("filter on tags: value is a list of strings")
            if operator == "any of" and len(value) > 1:
                raise _invalid("filter on tags: Tracehouse rules select 'all of' the tags ('any of' one tag)")
            f["tags"] = value
        elif column in ("isExperimentItemRootSpan", "isRootObservation"):
            if c.get("type") != "boolean" or operator != "=" or value is not True:
                raise _invalid(f"filter on {column}: only '= true' is offered")
            if column == "isRootObservation" and target != "dataset":
                target = "trace"
        else:
            raise _invalid(
                f"filter on {column!r} is not offered by Tracehouse rules; they select on "
                + ", ".join(SUPPORTED_COLUMNS)
            )
    if target == "dataset" and any(k in f for k in _OPTION_COLUMNS.values()):
        raise _invalid("a rule on a dataset's experiments selects by datasetId alone")
    return target, {**f, "langfuse": raw}


async def _default_model(request: web.Request, project: str) -> tuple[str, str]:
    """The project's default judge model when an evaluator names none: its first connection's first model."""
    for view in await request.app[CONNECTIONS_KEY].list(project):
        models = view.doc.get("models") or []
        if models:
            return str(view.doc["provider"]), str(models[0])
    return "", ""


async def _rule_body(
    request: web.Request, service: EvaluationService, project: str, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if current is not None:
        out = {k: current[k] for k in ("id", "name", "templateId", "target", "filter", "sampling", "mapping",
                                       "enabled", "provider", "model")}  # fmt: skip
        out["delaySeconds"] = current["delaySeconds"]
    name = body.get("name", out.get("name"))
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name is required")
    enabled = body.get("enabled", out.get("enabled"))
    if not isinstance(enabled, bool):
        raise _invalid("enabled must be true or false")
    sampling = body.get("sampling", out.get("sampling", 1.0))
    if sampling is None or isinstance(sampling, bool) or not isinstance(sampling, (int, float)):
        raise _invalid("sampling: a number above 0, at most 1 (omit it for 1)")
    if not 0 < sampling <= 1:
        raise _invalid("sampling: a number above 0, at most 1 (disable the rule to stop it)")
    out.update(name=name, enabled=enabled, sampling=sampling)
    if "filter" in body or current is None:
        out["target"], out["filter"] = _filter_in(body.get("filter"))
    if "evaluatorAssignments" in body or current is None:
        assignments = body.get("evaluatorAssignments")
        if not isinstance(assignments, list):
            raise _invalid("evaluatorAssignments: a list of {evaluatorId, variableMapping}")
        if len(assignments) > 1:
            raise _invalid("a Tracehouse rule runs one evaluator: make one rule per evaluator")
        if assignments:
            a = assignments[0]
            if not isinstance(a, dict) or not isinstance(a.get("evaluatorId"), str):
                raise _invalid("evaluatorAssignments: each is {evaluatorId, variableMapping}")
            t = await _own(service, project, a["evaluatorId"])
            out.update(templateId=t["id"], mapping=_mapping_in(a.get("variableMapping")),
                       provider=t["provider"], model=t["model"])  # fmt: skip
        else:
            out.update(templateId="", mapping={}, provider="", model="")
    if out["enabled"] and not out.get("templateId"):
        raise _invalid("an enabled rule needs one evaluator assignment")
    if out.get("templateId") and not (out.get("provider") and out.get("model")):
        out["provider"], out["model"] = await _default_model(request, project)
        if out["enabled"] and not out["model"]:
            raise _invalid("the evaluator names no model and the project has no LLM connection with a model")
    return out


def _rule_json(r: dict[str, Any]) -> dict[str, Any]:
    f = r["filter"]
    listed = f.get("langfuse")
    if listed is None:  # made in the UI: its filter as v2 conditions
        listed = [
            {"type": "stringOptions", "column": k, "operator": "any of", "value": v if isinstance(v, list) else [v]}
            for k, v in f.items()
            if k in _OPTION_COLUMNS and v
        ]
        if f.get("tags"):
            listed.append({"type": "arrayOptions", "column": "tags", "operator": "all of", "value": f["tags"]})
        if f.get("datasetId"):
            listed.append({"type": "stringOptions", "column": "datasetId", "operator": "any of",
                           "value": [f["datasetId"]]})  # fmt: skip
    assignments = (
        [{"evaluatorId": r["templateId"], "variableMapping": _mapping_out(r["mapping"])}] if r["templateId"] else []
    )
    return {
        "id": r["id"], "name": r["name"], "createdBy": None, "enabled": r["enabled"], "sampling": r["sampling"],
        "filter": listed, "evaluatorAssignments": assignments, "createdAt": r["createdAt"],
        "updatedAt": r["createdAt"],
    }  # fmt: skip


async def _rule(service: EvaluationService, project: str, rule_id: str) -> dict[str, Any]:
    for r in await service.rules(project):
        if r["id"] == rule_id:
            return r
    raise NotFound(f"no evaluation rule {rule_id!r}")


async def list_rules(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    rules = sorted(await service.rules(project), key=lambda r: r["createdAt"], reverse=True)
    return _page(request, [_rule_json(r) for r in rules])


async def get_rule(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    return langfuse_json(_rule_json(await _rule(service, project, request.match_info["id"])))


async def create_rule(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    body = await _rule_body(request, service, project, await _body(request), None)
    body["delaySeconds"] = 10
    return langfuse_json(_rule_json(await service.put_rule(project, body)))


async def update_rule(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    current = await _rule(service, project, request.match_info["id"])
    patch = await _body(request)
    if not patch:
        raise _invalid("give at least one field to change")
    body = await _rule_body(request, service, project, patch, current)
    return langfuse_json(_rule_json(await service.put_rule(project, body)))


async def delete_rule(request: web.Request, service: EvaluationService, project: str) -> web.Response:
    rule_id = request.match_info["id"]
    await service.delete_rule(project, rule_id)
    return langfuse_json({"id": rule_id})


_ID = r"{id:[^/]+}"


def evaluators_v2_routes() -> list[web.RouteDef]:
    return [
        web.get(EVALUATORS, _handler(list_evaluators)),
        web.post(EVALUATORS, _handler(create_evaluator)),
        web.get(f"{EVALUATORS}/{_ID}", _handler(get_evaluator)),
        web.patch(f"{EVALUATORS}/{_ID}", _handler(update_evaluator)),
        web.delete(f"{EVALUATORS}/{_ID}", _handler(delete_evaluator)),
        web.get(f"{EVALUATORS}/{_ID}/versions", _handler(list_versions)),
        web.get(RULES, _handler(list_rules)),
        web.post(RULES, _handler(create_rule)),
        web.get(f"{RULES}/{_ID}", _handler(get_rule)),
        web.patch(f"{RULES}/{_ID}", _handler(update_rule)),
        web.delete(f"{RULES}/{_ID}", _handler(delete_rule)),
    ]
