"""Isolation, auth and injection over every route the API port serves.

The routes come from the application's own router, so a new endpoint is covered without
editing this file. Each is called with no credentials, wrong, malformed and revoked keys, a
key of another project, and a signed-in user who is not an admin. Then every query parameter
of the read routes gets a corpus of SQL, TraceQL, PromQL and HTML/JS injection strings. Project
B's data must never appear in an answer meant for anyone else, denials must be 401/403/404, no
call may fail with a 5xx, and nothing may change in the store.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from query_api.app import create_app
from storage.users import Users
from tests.helpers import span, span_table
from tests.otlp_data import one_span
from tracehouse.server import Running

pytestmark = pytest.mark.slow

B_TRACE = "b" * 32
B_SPAN = "c" * 16
MARKERS = [B_TRACE, B_SPAN, "b-secret-name", "b-user-7", "b-session-7", "b-service-7", "b-attr-value", "b-log-body"]
PASSWORD = "correct horse battery staple"

# Routes anyone may call: health, build info, the OpenAPI document, sign-in, the static UI shell
# (it holds no data; the data comes from the API), and the process metrics (no tenant labels).
PUBLIC = re.compile(
    r"^(/api/public/health|/api/health|/metrics|/api/v1/openapi\.json|/api/v1/auth/.*|/tempo/api/echo|/tempo/ready|"
    r"/tempo/api/status/buildinfo|/prometheus/api/v1/status/buildinfo|/|/ui|/traces|/traces/.*|/sessions|"
    r"/sessions/.*|/users|/logs|/dashboard|/settings|/prompts|/skills|/datasets|/evaluations|/annotation-queues|/project/.*|/organization/.*|/setup|/account|/invite/.*|"
    # One-time links: whoever holds the token may look at it and use it; a guessed token is a 404.
    # Media links are signed: without a valid signature they answer 403.
    r"/api/v1/invitations/.*|/\{prefix\}api/public/media/\{media_id\}/(upload|content))$"
)
ADMIN = re.compile(r"^/api/(admin|v1/settings)/")

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE spans; --",
    "x') OR 1=1 --",
    "1; SELECT * FROM system.users",
    "{project:String}",
    "\\' UNION SELECT name FROM system.tables --",
    "%27%20OR%201%3D1",
    "default' AND project_id != 'default",
    '{ .secret = "b" } || { true }',
    '{ resource.service.name =~ ".*" }',
    '{ name = "x" } ) OR (1=1',
    "}" * 50 + "{" * 50,
    "{" * 500,
    'sum(tracehouse_llm_tokens_total{project_id!="x"})',
    '{__name__=~".+"}',
    'tracehouse_llm_tokens_total{project="b"} or vector(1)',
    'label_replace(up, "x", "$1", "y", "(.*)")',
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "../../../../etc/passwd",
    "\u202egnp.exe",
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "1\u00e9",
    "x" * 20_000,
    "-1",
    "99999999999999999999999999",
    "NaN",
    "1e309",
]

# Query parameters of the read routes that are not described by the OpenAPI document.
EXTRA_PARAMS = {
    "/tempo/api/search": ["q", "tags", "start", "end", "limit", "minDuration", "maxDuration", "spss"],
    "/tempo/api/v2/search/tags": ["scope", "q", "start", "end"],
    "/tempo/api/search/tags": ["scope"],
    "/tempo/api/v2/search/tag/{tag}/values": ["q", "start", "end"],
    "/tempo/api/v2/traces/{trace_id}": ["start", "end"],
    "/tempo/api/metrics/query_range": ["q", "query", "start", "end", "since", "step", "exemplars"],
    "/tempo/api/metrics/query": ["q", "query", "start", "end", "since"],
    "/prometheus/api/v1/query": ["query", "time"],
    "/prometheus/api/v1/query_range": ["query", "start", "end", "step"],
    "/prometheus/api/v1/series": ["match[]", "start", "end"],
    "/prometheus/api/v1/labels": ["match[]"],
    "/prometheus/api/v1/label/{name}/values": ["match[]"],
    "/{prefix}api/public/traces": ["userId", "sessionId", "name", "tags", "orderBy", "fromTimestamp", "page", "limit"],
    "/{prefix}api/public/observations": ["traceId", "name", "type", "level", "userId", "fromStartTime", "limit"],
    "/{prefix}api/public/sessions": ["fromTimestamp", "toTimestamp", "page", "limit"],
    "/{prefix}api/public/scores": ["traceId", "name", "userId", "page"],
    "/{prefix}api/public/metrics/daily": ["traceName", "userId", "fromTimestamp", "limit"],
}


def fill(path: str, b: dict[str, str]) -> str:
    values = {
        "trace_id": B_TRACE,
        "span_id": B_SPAN,
        "observation_id": B_SPAN,
        "session_id": "b-session-7",
        "project": b["id"],
        "ref": b["id"],
        "project_id": b["id"],
        "public_key": b["public_key"],
        "price_id": "price-x",
        "kind": "trace",
        "id": B_TRACE,
        "field": "user",
        "tag": "resource.service.name",
        "name": "model",
        "prefix": "",
        "tail": "v3/scores",
        "organization": "default",
        "user_id": "usr-0000000000000000",
        "invitation_id": "inv-0000000000000000",
        "token": "not-a-token",
        "organization_id": "default",
        "media_id": "A" * 22,
        "model_id": "mp-0000000000000000",
        "score_id": "b-score-0000",
        "version": "1",
        "run": "b-run",
        "item": "b-item",
        "queue_id": "b-queue",
        "key_id": "pk-th-nope",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def leaked(text: str, url: str, sent: Sequence[str] = ()) -> list[str]:
    """Project B's markers in an answer, except those the caller itself put in the URL (a 404
    may name the id that was asked for) or, for the audit log, in any URL it sent before (its
    project's log lists its own calls, with the ids they named)."""
    return [m for m in MARKERS if m in text and m not in url and not any(m in u for u in sent)]


def routes(live: Running) -> list[tuple[str, str]]:
    app = create_app(live.store, "not-the-token")
    out = {
        ("GET" if r.method == "*" else r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource
    }
    # Langfuse write routes the server adds to the API port (Dify needs a single host).
    out |= {("POST", "/api/public/ingestion"), ("POST", "/api/public/scores"), ("GET", "/api/public/projects")}
    out |= {("POST", f"/api/public/otel/v1/{signal}") for signal in ("traces", "logs", "metrics")}
    return sorted(out)


async def call(
    session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kw: Any
) -> tuple[int, str]:
    body = kw.pop("json", {} if method in ("POST", "PUT", "PATCH", "DELETE") else None)
    async with session.request(method, url, headers=headers, json=body, allow_redirects=False, **kw) as r:
        return r.status, (await r.read()).decode("utf-8", "replace")


def basic(public: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()}


async def seed(live: Running) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, Any]]:
    a = await live.store.projects.create_project("team-a")
    b = await live.store.projects.create_project("team-b")
    key_a = await live.store.projects.create_key(a.id)
    key_b = await live.store.projects.create_key(b.id)
    revoked = await live.store.projects.create_key(a.id)
    await live.store.projects.revoke_key(revoked.public_key)
    live.changed()
    now = time.time_ns()
    await live.store.writer.write(
        span_table(
            [
                span(
                    B_TRACE,
                    B_SPAN,
                    project=b.id,
                    name="b-secret-name",
                    user_id="b-user-7",
                    session_id="b-session-7",
                    model="gpt-4o",
                    observation_type="GENERATION",
                    input_tokens=5,
                    start=now - 10**9,
                    span_attributes={"secret": "b-attr-value"},
                    service_name="b-service-7",
                ),
            ]
        )
    )
    # A log record of project B, on its span (the logs page and the trace's logs must not leak it).
    from otlp_receiver.decode import DecodeContext
    from otlp_receiver.decode_logs import decode_logs
    from tests.test_otlp_logs import log_request

    record = {"trace_id": bytes.fromhex(B_TRACE), "span_id": bytes.fromhex(B_SPAN), "time": now, "body": "b-log-body"}
    decoded = decode_logs(log_request([record], service="b-service-7"), DecodeContext(project_id=b.id), now)
    await live.store.writers["logs"].write(decoded.logs)
    # Project B's prompt and dataset, under the name the route templates ask for ("model").
    from experiments import DatasetService
    from prompts import PromptService, parse_new
    from prompts.skills import SkillService, parse_new_skill

    await PromptService(live.store).create(b.id, parse_new({"name": "model", "prompt": "b-secret-name"}), "API")
    skill = "---\nname: model\ndescription: b-secret-name\n---\nb-attr-value\n"
    await SkillService(live.store).create(
        b.id, parse_new_skill({"files": [{"path": "SKILL.md", "content": skill}]}), "API"
    )
    datasets = DatasetService(live.store)
    await datasets.upsert_dataset(b.id, {"name": "model", "description": "b-attr-value"})
    await datasets.upsert_item(b.id, {"datasetName": "model", "id": B_TRACE, "input": "b-attr-value"})
    await datasets.add_run_item(b.id, {"runName": "b-run", "datasetItemId": B_TRACE, "traceId": B_TRACE})
    comment = {"id": "b-comment", "object_type": "TRACE", "object_id": B_TRACE, "content": "b-secret-name",
               "author_user_id": ""}  # fmt: skip
    await live.store.comments.put(b.id, comment)
    # People: the admin (first account) and a second, ordinary user.
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            live.api_url + "/api/v1/auth/setup",
            json={"email": "admin@example.com", "name": "Admin", "password": PASSWORD},
        ) as r,
    ):
        assert r.status in (200, 201), await r.text()
    await Users(live.store.backend).create("user@example.com", "User", PASSWORD)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        async with s.post(
            live.api_url + "/api/v1/auth/login", json={"email": "user@example.com", "password": PASSWORD}
        ) as r:
            assert r.status == 200, await r.text()
        cookies = {c.key: c.value for c in jar}
    user_headers = {
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        "X-CSRF-Token": cookies.get("th_csrf", ""),
    }
    creds = {
        "no credentials": {},
        "wrong key": basic("pk-th-" + os.urandom(8).hex(), "sk-th-" + os.urandom(16).hex()),
        "malformed Basic": {"Authorization": "Basic !!!not-base64"},
        "Bearer garbage": {"Authorization": "Bearer " + os.urandom(16).hex()},
        "revoked key": basic(revoked.public_key, revoked.secret_key),
        "key of project A": basic(key_a.public_key, key_a.secret_key),
        "non-admin user": user_headers,
    }
    ids = {"b": {"id": b.id, "public_key": key_b.public_key}}
    return creds, ids, {"key_b": key_b, "key_a": key_a, "revoked": revoked, "b": b}


async def store_state(live: Running) -> dict[str, int]:
    out = {}
    for table in (
        "spans", "traces", "trace_index", "projects", "api_keys", "users", "model_prices", "scores", "prompts",
        "skills", "datasets", "dataset_item_versions", "dataset_runs", "dataset_run_items", "comments",
    ):  # fmt: skip
        rows = await live.store.backend.query(f"SELECT count() AS n FROM {table}")
        out[table] = int(rows[0]["n"])
    tables = await live.store.backend.query("SELECT count() AS n FROM system.tables WHERE database = currentDatabase()")
    out["tables"] = int(tables[0]["n"])
    return out


async def test_every_route_denies_and_isolates(live: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds, ids, extra = await seed(live)
    before = await store_state(live)
    attempts = leaks = 0
    failures: list[str] = []
    sent: dict[str, list[str]] = {who: [] for who in creds}
    async with aiohttp.ClientSession() as session:
        for method, path in routes(live):
            url = live.api_url + fill(path, ids["b"])
            for who, headers in creds.items():
                status, text = await call(session, method, url, headers)
                attempts += 1
                where = f"{method} {path} as {who}: {status}"
                if status >= 500:
                    failures.append(f"{where} (server error)")
                sent[who].append(url)
                for marker in leaked(text, url, sent[who] if path == "/api/v1/audit-log" else ()):
                    leaks += 1
                    failures.append(f"{where} leaks {marker!r}")
                denied = status in (401, 403, 404)
                anonymous = who in ("no credentials", "wrong key", "malformed Basic", "Bearer garbage", "revoked key")
                if anonymous and not PUBLIC.match(path) and not denied:
                    failures.append(f"{where} (should be denied)")
                if who in ("key of project A", "non-admin user") and ADMIN.match(path) and not denied:
                    failures.append(f"{where} (admin route)")
    # OTLP over gRPC: the same refusals.
    async with grpc.aio.insecure_channel(live.otlp_grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        for who in ("no credentials", "wrong key", "malformed Basic", "Bearer garbage", "revoked key"):
            attempts += 1
            metadata = tuple((k.lower(), v) for k, v in creds[who].items() if k == "Authorization")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await export(one_span().SerializeToString(), metadata=metadata or None)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, who
    assert not failures, "\n".join(failures[:40])
    # Every call above carried a secret; none may reach the logs, at any level.
    secrets = [extra["key_b"].secret_key, extra["key_a"].secret_key, extra["revoked"].secret_key, PASSWORD]
    assert caplog.records and not [s for s in secrets if s in caplog.text]
    after = await store_state(live)
    assert after == before, "a denied call changed the store"
    assert await live.store.projects.verify(extra["key_b"].public_key, extra["key_b"].secret_key) == ids["b"]["id"]
    assert len(await live.store.reader.trace(ids["b"]["id"], B_TRACE)) == 1
    report("cross-tenant and unauthenticated calls", attempts, leaks)


def openapi_params(document: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        get = item.get("get")
        if get:
            out[path] = [p["name"] for p in get.get("parameters", []) if p.get("in") == "query"]
    return out


async def test_injection_strings_through_every_query_parameter(live: Running) -> None:
    creds, ids, _ = await seed(live)
    headers = creds["key of project A"]
    before = await store_state(live)
    attempts = effects = 0
    failures: list[str] = []
    async with aiohttp.ClientSession() as session:
        async with session.get(live.api_url + "/api/v1/openapi.json") as r:
            params = openapi_params(await r.json())
        params.update(EXTRA_PARAMS)
        for path, names in sorted(params.items()):
            url = live.api_url + fill(path, ids["b"])
            for name in names:
                for value in INJECTIONS:
                    status, text = await call(session, "GET", url, headers, params={name: value})
                    attempts += 1
                    if status >= 500:
                        failures.append(f"GET {path}?{name}={value[:40]!r}: {status}")
                    for marker in leaked(text, url):
                        effects += 1
                        failures.append(f"GET {path}?{name}={value[:40]!r} leaks {marker!r}")
        # Path parameters too.
        for value in INJECTIONS[:12]:
            for template in (
                "/api/v1/traces/{}",
                "/api/v1/sessions/{}",
                "/tempo/api/v2/traces/{}",
                "/api/public/traces/{}",
            ):
                attempts += 1
                status, text = await call(
                    session, "GET", live.api_url + template.format(value.replace("/", "%2F")), headers
                )
                if status >= 500 or leaked(text, ""):
                    failures.append(f"GET {template} with {value[:40]!r}: {status}")
    assert not failures, "\n".join(failures[:40])
    after = await store_state(live)
    assert after == before, f"injection strings changed the store: {before} -> {after}"
    report("injection strings through query and path parameters", attempts, effects)


def report(name: str, attempts: int, bad: int) -> None:
    out = Path(__file__).resolve().parent.parent / "test-artifacts" / "access-matrix.json"
    out.parent.mkdir(exist_ok=True)
    data = json.loads(out.read_text()) if out.exists() else {}
    data[name] = {"attempts": attempts, "leaks_or_effects": bad}
    out.write_text(json.dumps(data, indent=2))


# Routes of a project, each with the permission it needs (tracehouse.roles). {p} is the project.
# (Langfuse's public API takes API keys only, as Langfuse's does: the first test covers it.)
ROLE_ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/traces?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/traces/{trace}?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/traces/{trace}/logs?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/spans?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/spans/{span}?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/traces/export?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/spans/export?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/logs?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/sessions?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/sessions/{session}?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/users?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/metrics/timeseries?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/metrics/otlp?project={p}", None, "VIEW_DATA"),
    (
        "GET",
        "/prometheus/api/v1/query_range?query=tracehouse_llm_tokens_total&start=1&end=2&step=1&project={p}",
        None,
        "VIEW_DATA",
    ),
    ("GET", "/api/v1/scores/summary?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/scores/by-trace?trace_id={trace}&project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/filters/user/values?project={p}", None, "VIEW_DATA"),
    ("GET", "/tempo/api/search?project={p}", None, "VIEW_DATA"),
    ("GET", "/tempo/api/v2/traces/{trace}?project={p}", None, "VIEW_DATA"),
    ("GET", "/prometheus/api/v1/query?query=tracehouse_llm_tokens_total&project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/projects/{p}/members", None, "VIEW_DATA"),
    ("GET", "/api/v1/settings/keys?project={p}", None, "MANAGE_KEYS"),
    ("POST", "/api/v1/settings/keys", {"project": "{p}"}, "MANAGE_KEYS"),
    ("GET", "/api/v1/settings/prices?project={p}", None, "MANAGE_SETTINGS"),
    ("POST", "/api/v1/settings/projects/{p}/retention", {"days": 30}, "MANAGE_SETTINGS"),
    ("POST", "/api/v1/settings/projects/{p}/name", {"name": "renamed-by-the-matrix"}, "MANAGE_SETTINGS"),
    (
        "POST",
        "/api/v1/settings/prices",
        {"project": "{p}", "model_name": "m", "match_pattern": "^m$", "prices": {"input": 1}},
        "MANAGE_SETTINGS",
    ),
    # A try costs the connection's money: members and above. (Its model is unreachable here: an
    # allowed call answers 200 with the provider's error.)
    (
        "POST",
        "/api/v1/playground?project={p}",
        {"provider": "nowhere", "model": "m", "messages": [{"role": "user", "content": "hi"}]},
        "WRITE_CONTENT",
    ),
    ("GET", "/api/v1/skills?project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/skill/observations?name=model&project={p}", None, "VIEW_DATA"),
    ("GET", "/api/v1/skill/metrics?name=model&project={p}", None, "VIEW_DATA"),
    (
        "POST",
        "/api/v1/skills?project={p}",
        {"files": [{"path": "SKILL.md", "content": "---\nname: matrix\ndescription: a skill\n---\n"}]},
        "WRITE_CONTENT",
    ),
    ("GET", "/api/v1/traces/{trace}/share?project={p}", None, "VIEW_DATA"),
    ("PUT", "/api/v1/traces/{trace}/share?project={p}", {"public": False}, "WRITE_CONTENT"),
    ("DELETE", "/api/v1/settings/data/traces/{absent}?project={p}", None, "DELETE_DATA"),
    ("PUT", "/api/v1/projects/{p}/members/{target}", {"role": "VIEWER"}, "MANAGE_MEMBERS"),
    # The organization's own routes go by the organization role: a project role opens one project.
    ("POST", "/api/v1/organizations/{org}/invitations", {"email": "new@example.com"}, "org:MANAGE_MEMBERS"),
    ("POST", "/api/v1/organizations/{org}/projects", {"name": "{unique}"}, "org:MANAGE_PROJECTS"),
]


async def test_every_role_on_every_route_of_its_own_and_another_project(live: Running) -> None:
    """Each role (and a project role under organization role NONE) against every project route, in
    its own project and in another organization's: allowed exactly where the matrix says, and the
    other project's data never in an answer."""
    from tracehouse.roles import MATRIX, Permission, Role

    store = live.store
    own_org = await store.organizations.create_organization("own")
    other_org = await store.organizations.create_organization("other")
    own = await store.projects.create_project("own-app", own_org.id)
    other = await store.projects.create_project("other-app", other_org.id)
    live.changed()
    now = time.time_ns()
    for project, trace, marker in ((own, "a" * 32, "a-own"), (other, B_TRACE, "b-secret-name")):
        await store.writer.write(
            span_table(
                [
                    span(
                        trace,
                        trace[:16],
                        project=project.id,
                        name=marker,
                        user_id=f"{marker}-user",
                        session_id=f"{marker}-session",
                        start=now - 10**9,
                    )
                ]
            )
        )
    for project in (own, other):  # a model connection to a closed port, for the playground's row
        pair = await store.projects.create_key(project.id)
        auth = {"Authorization": "Basic " + base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()}
        connection = {"provider": "nowhere", "adapter": "openai", "secretKey": "k", "baseURL": "http://127.0.0.1:9/v1"}
        async with (
            aiohttp.ClientSession() as s,
            s.put(live.api_url + "/api/public/llm-connections", json=connection, headers=auth) as r,
        ):
            assert r.status == 200, await r.text()
    live.changed()
    await store.users.create("root@example.com", "Root", PASSWORD)  # the instance admin: not under test
    target = await store.users.create("target@example.com", "Target", PASSWORD)
    await store.organizations.set_role(own_org.id, target.id, Role.VIEWER)
    await store.organizations.set_role(other_org.id, target.id, Role.VIEWER)
    people = {
        "OWNER": (Role.OWNER, None),
        "ADMIN": (Role.ADMIN, None),
        "MEMBER": (Role.MEMBER, None),
        "VIEWER": (Role.VIEWER, None),
        "NONE": (Role.NONE, None),
        "NONE + project ADMIN": (Role.NONE, Role.ADMIN),
        "NONE + project VIEWER": (Role.NONE, Role.VIEWER),
        "VIEWER + project NONE": (Role.VIEWER, Role.NONE),
    }
    failures: list[str] = []
    attempts = 0
    for n, (who, (org_role, project_role)) in enumerate(people.items()):
        user = await store.users.create(f"p{n}@example.com", who, PASSWORD)
        await store.organizations.set_role(own_org.id, user.id, org_role)
        if project_role is not None:
            await store.organizations.set_project_role(own.id, user.id, project_role)
        effective = project_role if project_role is not None else org_role
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as s:
            async with s.post(
                live.api_url + "/api/v1/auth/login", json={"email": f"p{n}@example.com", "password": PASSWORD}
            ) as r:
                assert r.status == 200
            csrf = next(c.value for c in jar if c.key == "th_csrf")
            for method, template, body, permission in ROLE_ROUTES:
                for project, org, trace, mine in ((own, own_org, "a" * 32, True), (other, other_org, B_TRACE, False)):
                    values = {
                        "p": project.id,
                        "org": org.id,
                        "trace": trace,
                        "span": trace[:16],
                        "session": ("a-own" if mine else "b-secret-name") + "-session",
                        "absent": "f" * 32,
                        "target": target.id,
                        "unique": f"made-{n}-{attempts}",
                    }
                    url = live.api_url + template.format(**values)
                    payload = json.loads(json.dumps(body).replace("{p}", project.id)) if body else None
                    if payload and "name" in payload:
                        payload["name"] = values["unique"]
                    async with s.request(method, url, json=payload, headers={"X-CSRF-Token": csrf}) as r:
                        status, text = r.status, await r.text()
                    attempts += 1
                    scope, _, name = permission.rpartition(":")
                    may = mine and Permission[name] in MATRIX[org_role if scope else effective]
                    where = f"{who}: {method} {template} ({'own' if mine else 'other'} project) -> {status}"
                    # Deleting an absent trace, when allowed, answers that it is absent; when not, 403.
                    done = 200 <= status < 300 or (method == "DELETE" and status == 404 and "no trace" in text)
                    if may and not done:
                        failures.append(f"{where}, expected success: {text[:200]}")
                    if not may and (status not in (403, 404) or "no trace" in text):
                        failures.append(f"{where}, expected 403/404: {text[:200]}")
                    if any(m in text for m in ("b-secret-name", B_TRACE)) and not mine and B_TRACE not in url:
                        failures.append(f"{where} leaks the other project")
                    if mine and may and "b-secret-name" in text:
                        failures.append(f"{where} leaks the other project")
    assert not failures, "\n".join(failures[:40])
    report("roles x routes x own/other project", attempts, len(failures))
