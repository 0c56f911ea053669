"""The query API application: health, the local admin endpoint, and the static UI."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from credentials import Credentials
from credentials.oidc import OidcClient, OidcConfig
from credentials.secret_box import SecretBox
from evaluations import ALL_JOBS, EvaluationService, EvalWorker, JobShard
from experiments.runner import ExperimentRunner, TraceSink
from llm import ConnectionService
from mail import Mailer
from query_api.access import CREDENTIALS_KEY, LOOPBACK_BIND_KEY
from query_api.admin import ADMIN_TOKEN_KEY, CHANGE_HOOKS_KEY, STORE_KEY, admin_routes
from query_api.annotations_api import SCORE_SINK_KEY, annotation_routes
from query_api.audit_api import audit_middleware, audit_routes
from query_api.auth import OIDC_KEY, OTLP_PORTS_KEY, STANDARD_OTLP_PORTS, USERS_KEY, OtlpPorts, auth_routes
from query_api.comments_api import comment_routes
from query_api.datasets_api import DATASETS_KEY, DatasetService, dataset_routes
from query_api.evaluations_api import EVALUATIONS_KEY, evaluation_routes
from query_api.evaluators_v2_api import evaluators_v2_routes
from query_api.experiments_api import experiments_routes
from query_api.export_api import export_routes
from query_api.invitations_api import MAILER_KEY, PUBLIC_URL_KEY, invitation_routes
from query_api.langfuse_api import langfuse_fallback_routes, langfuse_read_routes
from query_api.langfuse_models import langfuse_model_routes
from query_api.langfuse_v2 import langfuse_v2_routes
from query_api.llm_api import CONNECTIONS_KEY, RUNNER_KEY, llm_routes
from query_api.media_api import MEDIA_MAX_KEY, media_routes
from query_api.middleware import error_middleware, localized_errors
from query_api.org_admin_api import org_admin_routes
from query_api.organizations_api import organization_routes
from query_api.prometheus import prometheus_routes
from query_api.prompts_api import PROMPTS_KEY, PromptService, prompt_routes
from query_api.provisioning import PROVISIONING_KEY, Provisioning
from query_api.rest import rest_routes
from query_api.scim_api import scim_routes
from query_api.server_api import BACKUPS_KEY, DISK_KEY, server_routes
from query_api.settings_api import settings_routes
from query_api.shares_api import share_routes
from query_api.skills_api import SKILLS_KEY, SkillService, skill_routes
from query_api.sso_api import sso_routes
from query_api.tempo import tempo_routes
from query_api.upkeep import UPKEEP
from storage import Store
from tracehouse import __version__
from tracehouse.disk_reserve import DiskReserve
from tracehouse.telemetry import CONTENT_TYPE, Telemetry

if TYPE_CHECKING:  # importing it loads the embedded engine
    from storage.backup_schedule import BackupSchedule

__all__ = ["STORE_KEY", "create_app"]


UI_DIR = Path(__file__).resolve().parent.parent / "ui"
MAX_API_BODY = 8 * 1024 * 1024


async def health(request: web.Request) -> web.Response:
    """Liveness, in the shape Langfuse clients expect (``GET /api/public/health``)."""
    return web.json_response({"status": "OK", "version": __version__})


# The UI's pages: project pages under Langfuse-style URLs (Dify's console links to
# /project/{id}/traces/{traceId}), organization settings, the first-run wizard, one-time links,
# and the short paths of earlier versions, which the UI sends to the last project used.
_PROJECT_PAGES = (
    "traces",
    "sessions",
    "users",
    "dashboard",
    "prompts",
    "skills",
    "datasets",
    "evaluations",
    "annotation-queues",
    "logs",
    "settings",
)
UI_PAGES = (
    "/",
    "/setup",
    "/account",
    "/invite/{token}",
    "/organization/{organization_id}/settings",
    "/project/{project_id}",
    *(f"/project/{{project_id}}/{page}" for page in _PROJECT_PAGES),
    "/project/{project_id}/traces/{trace_id}",
    "/project/{project_id}/sessions/{session_id}",
    "/project/{project_id}/prompts/{name:.+}",  # names hold folders ('/', encoded or not)
    "/project/{project_id}/datasets/{name:.+}",
    "/project/{project_id}/annotation-queues/{queue_id}",
    # No short path for it: /metrics is the process's own metrics (Prometheus text).
    "/project/{project_id}/metrics",
    *(f"/{page}" for page in _PROJECT_PAGES),
    "/traces/{trace_id}",
    "/sessions/{session_id}",
    # Last: any other page of a project, so that a mistyped one gets the UI's "no such page".
    "/project/{project_id}/{tail:.+}",
)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(UI_DIR / "index.html")


def create_app(
    store: Store,
    admin_token: str,
    extra_routes: Sequence[web.RouteDef] = (),
    change_hooks: Sequence[Callable[[], None]] = (),
    client_max_size: int = MAX_API_BODY,
    loopback_bind: bool = True,
    telemetry: Telemetry | None = None,
    media_max_bytes: int = 100 * 2**20,
    credentials: Credentials | None = None,
    trace_sink: TraceSink | None = None,
    secret_box: SecretBox | None = None,
    eval_poll_s: float = 1.0,
    eval_worker: bool = True,
    eval_shard: JobShard = ALL_JOBS,
    mailer: Mailer | None = None,
    public_url: str | None = None,
    oidc: OidcConfig | None = None,
    provisioning: Provisioning | None = None,
    otlp_ports: OtlpPorts = STANDARD_OTLP_PORTS,
    backups: BackupSchedule | None = None,
    disk: DiskReserve | None = None,
) -> web.Application:
    """The HTTP application served on the API port (3000 by default). ``extra_routes`` lets
    ``serve`` add the receiver's endpoints that clients expect on this port; ``otlp_ports`` are
    where the receiver listens, which the UI's snippets name; ``backups``, the server's running
    backup schedule (``storage.backup_schedule.BackupSchedule``), if any; ``disk``, the data
    directory's free-space reserve, which refuses media uploads as the receiver refuses telemetry."""
    telemetry = telemetry or Telemetry()

    @web.middleware
    async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.monotonic()
        try:
            return await handler(request)
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            telemetry.query_seconds.labels(route).observe(time.monotonic() - started)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=telemetry.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application(
        middlewares=[timing, localized_errors, error_middleware, audit_middleware], client_max_size=client_max_size
    )
    app[STORE_KEY] = store
    app[ADMIN_TOKEN_KEY] = admin_token
    # One credentials cache for the process: the server passes the receiver's, so that one
    # invalidation (a key revoked, a project created) reaches every port.
    credentials = credentials or Credentials.of(store, loopback=loopback_bind)
    app[CREDENTIALS_KEY] = credentials
    hooks = list(change_hooks)
    if credentials.invalidate not in hooks:
        hooks.append(credentials.invalidate)
    app[CHANGE_HOOKS_KEY] = hooks
    app[LOOPBACK_BIND_KEY] = loopback_bind
    app[OTLP_PORTS_KEY] = otlp_ports
    app[BACKUPS_KEY] = backups
    app[DISK_KEY] = disk
    app[USERS_KEY] = store.users
    if mailer is not None:
        app[MAILER_KEY] = mailer
    if public_url:
        app[PUBLIC_URL_KEY] = public_url
    if oidc is not None:
        app[OIDC_KEY] = OidcClient(oidc)
    if provisioning is not None:
        app[PROVISIONING_KEY] = provisioning
    app[MEDIA_MAX_KEY] = media_max_bytes
    app[PROMPTS_KEY] = PromptService(store)
    app[SKILLS_KEY] = SkillService(store)
    app[DATASETS_KEY] = DatasetService(store)
    box = secret_box or SecretBox.load(store.data_dir)
    app[CONNECTIONS_KEY] = ConnectionService(store, box)
    # Experiments from the UI write their traces through this process's ingest path.
    app[RUNNER_KEY] = ExperimentRunner(store, app[DATASETS_KEY], app[PROMPTS_KEY], app[CONNECTIONS_KEY], trace_sink)

    # Background work that is not split into shards runs in shard 0 of the eval workers.
    singleton_work = eval_worker and eval_shard.index == 0

    async def run_experiments(app: web.Application) -> AsyncIterator[None]:
        # Experiments a stop or a crash cut short go on where they were: background work, done
        # by the one process that runs it (eval_worker, shard 0), or two would run the same items.
        adopting = asyncio.create_task(app[RUNNER_KEY].adopt_forever()) if singleton_work else None
        yield
        if adopting is not None:
            adopting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await adopting
        await app[RUNNER_KEY].close()

    app.cleanup_ctx.append(run_experiments)
    app[EVALUATIONS_KEY] = EvaluationService(store, app[CONNECTIONS_KEY])
    if trace_sink is not None:
        app[SCORE_SINK_KEY] = trace_sink
    if trace_sink is not None and eval_worker:
        # The judge worker writes its scores through this process's ingest path.
        worker = EvalWorker(
            store, app[EVALUATIONS_KEY], app[CONNECTIONS_KEY], trace_sink, poll_s=eval_poll_s, shard=eval_shard
        )

        async def run_worker(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(worker.run())
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await worker.close()

        app.cleanup_ctx.append(run_worker)
    if singleton_work:  # one upkeep per deployment, not one per query process
        app.cleanup_ctx.extend(UPKEEP)
    app.add_routes(
        [
            *extra_routes,
            web.get("/api/public/health", health),
            web.get("/api/health", health),
            web.get("/metrics", metrics),
            *admin_routes(),
            *auth_routes(),
            *sso_routes(),
            *organization_routes(),
            *invitation_routes(),
            *export_routes(),  # before rest_routes: /api/v1/traces/export is no trace id, nor spans/export a span
            *rest_routes(),
            *share_routes(),
            *settings_routes(),
            *audit_routes(),
            *langfuse_read_routes(),
            *langfuse_v2_routes(),
            *experiments_routes(),
            *org_admin_routes(),
            *scim_routes(),
            *langfuse_model_routes(),
            *media_routes(),
            *prompt_routes(),
            *skill_routes(),
            *dataset_routes(),
            *llm_routes(),
            *evaluation_routes(),
            *evaluators_v2_routes(),
            *annotation_routes(),
            *server_routes(),
            *comment_routes(),
            *tempo_routes(),
            *prometheus_routes(),
            *[web.get(path, index) for path in UI_PAGES],
        ]
    )
    if UI_DIR.is_dir():
        app.router.add_static("/ui/", UI_DIR, show_index=False)
    app.add_routes(langfuse_fallback_routes())  # last: only what nothing else serves
    return app
