"""A key of project A reads nothing of project B, by any query path (REST, Tempo, Prometheus, Langfuse)."""

import base64
import time

import aiohttp

from tests.helpers import span, span_table
from tracehouse.server import Running

HEX = "b" * 32


async def test_no_path_leaks_another_project(live: Running) -> None:
    a = await live.store.projects.create_project("team-a")
    b = await live.store.projects.create_project("team-b")
    key_a = await live.store.projects.create_key(a.id)
    live.changed()
    now = time.time_ns()
    await live.store.writer.write(
        span_table(
            [
                span(
                    HEX,
                    "c" * 16,
                    project=b.id,
                    name="b-secret",
                    user_id="b-user",
                    session_id="b-session",
                    model="gpt-4o",
                    observation_type="GENERATION",
                    input_tokens=5,
                    start=now - 10**9,
                    span_attributes={"secret": "b"},
                    service_name="b-service",
                ),
            ]
        )
    )
    token = base64.b64encode(f"{key_a.public_key}:{key_a.secret_key}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    start, end = str(int(time.time()) - 3600), str(int(time.time()) + 60)
    checks = {
        f"/api/v1/traces/{HEX}": 404,
        f"/api/v1/spans/{'c' * 16}": 404,
        "/api/v1/sessions/b-session": 404,
        f"/tempo/api/v2/traces/{HEX}": 404,
        f"/api/public/traces/{HEX}": 404,
        f"/api/public/observations/{'c' * 16}": 404,
    }
    empty_lists = [
        ("/api/v1/traces", "items"),
        ("/api/v1/spans", "items"),
        ("/api/v1/users", "items"),
        ("/api/v1/sessions", "items"),
        ("/api/v1/metrics/timeseries", "items"),
        ("/api/v1/filters/user/values", "values"),
        ("/api/public/traces", "data"),
        ("/api/public/sessions", "data"),
    ]
    async with aiohttp.ClientSession(headers=auth) as s:
        for path, status in checks.items():
            async with s.get(live.api_url + path) as r:
                assert r.status == status, path
        for path, key in empty_lists:
            async with s.get(live.api_url + path) as r:
                assert r.status == 200 and (await r.json())[key] == [], path
        async with s.get(live.api_url + "/tempo/api/search", params={"q": "{}", "start": start, "end": end}) as r:
            assert (await r.json())["traces"] == []
        async with s.get(live.api_url + "/tempo/api/v2/search/tag/resource.service.name/values") as r:
            assert (await r.json())["tagValues"] == []
        async with s.get(
            live.api_url + "/prometheus/api/v1/query", params={"query": "sum(tracehouse_llm_tokens_total)"}
        ) as r:
            assert (await r.json())["data"]["result"] == []
        async with s.get(live.api_url + "/prometheus/api/v1/label/model/values") as r:
            assert (await r.json())["data"] == []
        # asking for project B by name does not help a key of project A
        async with s.get(live.api_url + "/api/v1/traces", params={"project": b.id}) as r:
            assert (await r.json())["items"] == []
    # and project B's own view has it
    assert len(await live.store.reader.trace(b.id, HEX)) == 1
    # no credentials at all: 401 everywhere now that keys exist
    async with aiohttp.ClientSession() as s:
        for path in ("/api/v1/traces", "/tempo/api/search", "/prometheus/api/v1/labels", "/api/public/traces"):
            async with s.get(live.api_url + path) as r:
                assert r.status == 401, path
