"""LLM-as-a-judge over HTTP for the UI: evaluator templates (built-in and the project's), rules, and
every job's state, attempts and error; a failed job can be retried. Reading needs VIEW_DATA;
templates and rules are managed by ADMIN and above (MANAGE_SETTINGS)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from evaluations import EvaluationService
from query_api.access import caller_for
from query_api.admin import STORE_KEY
from query_api.error_text import localize, preferred_locale
from query_api.requests import read_json
from query_api.responses import json_response
from query_api.rest import Query, parse_query
from storage import Store
from storage.evaluations import EvalJob
from tracehouse.errors import InvalidInput, NotFound
from tracehouse.roles import Permission

__all__ = ["EVALUATIONS_KEY", "evaluation_routes"]

EVALUATIONS_KEY = web.AppKey("evaluations", EvaluationService)


class JobsQuery(Query):
    rule: str | None = Field(None, max_length=200, description="The rule's executions only.")
    status: str | None = Field(None, max_length=100, description="pending, running, done or error; comma-separated.")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=200, description="The next_cursor of the page before.")


async def _body(request: web.Request) -> Any:
    return await read_json(request)


async def _caller(request: web.Request, permission: Permission, what: str) -> tuple[Store, str]:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(permission, what)
    return store, caller.project_id


async def templates(request: web.Request) -> web.Response:
    _, project = await _caller(request, Permission.VIEW_DATA, "see evaluators")
    return json_response({"items": await request.app[EVALUATIONS_KEY].templates(project)})


async def put_template(request: web.Request) -> web.Response:
    _, project = await _caller(request, Permission.MANAGE_SETTINGS, "change evaluator templates")
    return json_response(await request.app[EVALUATIONS_KEY].put_template(project, await _body(request)))


async def rules(request: web.Request) -> web.Response:
    _, project = await _caller(request, Permission.VIEW_DATA, "see evaluators")
    return json_response({"items": await request.app[EVALUATIONS_KEY].rules(project)})


async def put_rule(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.MANAGE_SETTINGS, "change evaluation rules")
    body = await _body(request)
    if isinstance(body, dict) and body.get("traceProject"):
        # The judge's calls are written into that project: the caller must be allowed to change
        # its settings too, or a rule could write one tenant's traces into another's project.
        ref = str(body["traceProject"])
        body["traceProject"] = (
            await caller.other_project(store, ref, Permission.MANAGE_SETTINGS, "trace the judge's calls")
        ).id
    return json_response(await request.app[EVALUATIONS_KEY].put_rule(caller.project_id, body))


async def delete_rule(request: web.Request) -> web.Response:
    _, project = await _caller(request, Permission.MANAGE_SETTINGS, "change evaluation rules")
    await request.app[EVALUATIONS_KEY].delete_rule(project, request.query.get("id", ""))
    return json_response({"deleted": True})


async def jobs(request: web.Request) -> web.Response:
    """A page of executions, newest first: ``rule``, ``status`` (comma-separated), ``limit``
    (1-1,000, default 100) and ``cursor`` (the page before's ``next_cursor``)."""
    _, project = await _caller(request, Permission.VIEW_DATA, "see evaluators")
    query = parse_query(JobsQuery, request)
    statuses = [s for s in query.status.split(",") if s] if query.status else None
    page = await request.app[EVALUATIONS_KEY].jobs(project, query.rule, query.limit, statuses, query.cursor)
    # A failure's reason was stored in English (the judge's, the model's): shown in the reader's language.
    locale = preferred_locale(request.headers.get("Accept-Language"))
    for item in page["items"]:
        if item.get("error"):
            item["error"] = localize(item["error"], locale)
    return json_response(page)


async def retry_job(request: web.Request) -> web.Response:
    """A failed job runs again now, with a fresh count of attempts."""
    store, project = await _caller(request, Permission.MANAGE_SETTINGS, "retry evaluations")
    wanted = request.query.get("id", "")
    job = next(iter(await store.evaluations.jobs(project, ids=[wanted], limit=1)), None)
    if job is None:
        raise NotFound(f"no evaluation job {wanted!r}")
    if job.status not in ("error", "done"):
        raise InvalidInput(f"the job is {job.status}: only a finished or failed job is run again")
    await store.evaluations.put_jobs(
        [EvalJob(**{**job.__dict__, "status": "pending", "attempts": 0, "last_error": "", "next_attempt_ns": 0})]
    )
    return json_response({"id": job.id, "status": "pending"})


def evaluation_routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/evaluations/templates", templates),
        web.put("/api/v1/evaluations/templates", put_template),
        web.get("/api/v1/evaluations/rules", rules),
        web.put("/api/v1/evaluations/rules", put_rule),
        web.delete("/api/v1/evaluations/rules", delete_rule),
        web.get("/api/v1/evaluations/jobs", jobs),
        web.post("/api/v1/evaluations/jobs/retry", retry_job),
    ]
