"""Settings (admin only), filter suggestions, score summaries and the Dify deep link."""

import base64
from decimal import Decimal

import aiohttp

from storage.users import Users
from tests.helpers import add_score, span, span_table
from tests.otlp_data import request
from tracehouse.server import Running

PASSWORD = "a long enough password"


async def test_settings_in_open_mode_then_admin_only(live: Running) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(live.api_url + "/api/v1/settings/projects", json={"name": "shop", "retention_days": 7}) as r:
            assert r.status == 201
            project = await r.json()
        async with s.get(live.api_url + "/api/v1/settings/projects") as r:
            listed = {p["name"]: p for p in (await r.json())["items"]}
        assert listed["shop"]["organization_name"] == "Default"  # what the UI's switcher shows
        async with s.post(
            live.api_url + "/api/v1/settings/prices",
            json={
                "project": "shop",
                "model_name": "my-model",
                "match_pattern": "^my-model$",
                "prices": {"input": "1000", "output": "2000"},
            },
        ) as r:
            assert r.status == 201
        async with s.get(live.api_url + "/api/v1/settings/prices?project=shop") as r:
            prices = await r.json()
        assert len(prices["builtin"]) >= 60 and prices["overrides"][0]["model_name"] == "my-model"
        async with s.post(live.api_url + "/api/v1/settings/keys", json={"project": "shop"}) as r:
            assert r.status == 201
            pair = await r.json()
        assert pair["secret_key"].startswith("sk-th-") and pair["host"].startswith("http://")

    # The override prices spans of that project (and its retention is written with them).
    body = request(
        [
            {
                "attrs": {
                    "gen_ai.request.model": "my-model",
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 1000,
                }
            }
        ]
    )
    result = await live.ingest.ingest(body.SerializeToString(), "protobuf", project["id"])
    assert result.accepted == 1
    [row] = await live.store.backend.query(
        "SELECT total_cost, retention_days FROM spans WHERE project_id = {p:String}", {"p": project["id"]}
    )
    assert row == {"total_cost": Decimal("3"), "retention_days": 7}  # 1000 x $1000/M + 1000 x $2000/M

    # With a key in place, settings need a signed-in admin.
    async with aiohttp.ClientSession() as s, s.get(live.api_url + "/api/v1/settings/projects") as r:
        assert r.status == 401
    users = Users(live.store.backend)
    await users.create("admin@example.com", "Admin", PASSWORD)
    await users.create("viewer@example.com", "Viewer", PASSWORD)
    for email, expected in (("viewer@example.com", 403), ("admin@example.com", 200)):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as s:
            async with s.post(live.api_url + "/api/v1/auth/login", json={"email": email, "password": PASSWORD}) as r:
                assert r.status == 200
            async with s.get(live.api_url + "/api/v1/settings/keys") as r:
                assert r.status == expected, email
                doc = await r.json()
            if expected == 200:
                keys = doc["items"]
                assert keys[0]["public_key"] == pair["public_key"]
                assert pair["secret_key"] not in str(keys)
                csrf = next(c.value for c in jar if c.key == "th_csrf")
                url = f"{live.api_url}/api/v1/settings/keys/{pair['public_key']}/revoke"
                credentials = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
                basic = {"Authorization": "Basic " + credentials}
                traces = live.api_url + "/api/v1/traces"
                async with aiohttp.ClientSession() as script, script.get(traces, headers=basic) as r:
                    assert r.status == 200  # the key works, and the API has cached that
                async with s.post(url) as r:
                    assert r.status == 403  # CSRF header missing
                async with s.post(url, headers={"X-CSRF-Token": csrf}) as r:
                    assert r.status == 200 and (await r.json())["revoked_at"]
                # Revoked through this process: refused at once, not when the cache expires.
                async with aiohttp.ClientSession() as script, script.get(traces, headers=basic) as r:
                    assert r.status == 401


async def test_suggestions_scores_and_deep_link(live: Running) -> None:
    await live.store.writer.write(
        span_table(
            [
                span("sg-1", "a", name="chat gpt-4o", model="gpt-4o", user_id="alice", tags=["prod"]),
                span("sg-2", "b", name="chat claude", model="claude-sonnet-4", user_id="albert"),
                span("sg-3", "c", name="chat gpt-4o", model="gpt-4o", user_id="bob"),
            ]
        )
    )
    for i in range(1, 4):
        await add_score(live.store.backend, "sg-1", value=i, name="quality")
    async with aiohttp.ClientSession() as s:
        async with s.get(live.api_url + "/api/v1/filters/user/values?prefix=AL") as r:
            body = await r.json()
            assert "values" in body and body["values"] == ["albert", "alice"], body
        async with s.get(live.api_url + "/api/v1/filters/model/values") as r:
            assert (await r.json())["values"] == ["gpt-4o", "claude-sonnet-4"]  # most used first
        async with s.get(live.api_url + "/api/v1/filters/tag/values") as r:
            assert (await r.json())["values"] == ["prod"]
        async with s.get(live.api_url + "/api/v1/filters/password/values") as r:
            assert r.status == 400
        async with s.get(live.api_url + "/api/v1/scores/summary") as r:
            [stat] = (await r.json())["items"]
            assert stat["name"] == "quality" and stat["count"] == 3 and stat["mean"] == 2.0
        async with s.get(live.api_url + "/project/default/traces/sg-1") as r:
            assert r.status == 200 and "text/html" in r.headers["Content-Type"]


async def test_retention_and_gdpr_delete_through_the_api(live: Running) -> None:
    await live.store.writer.write(span_table([span("gdpr-1", "g1", user_id="erase-me"), span("gdpr-2", "g2")]))
    async with aiohttp.ClientSession() as s:  # open mode: a local server with no key and no account
        async with s.delete(live.api_url + "/api/v1/settings/data/users/erase-me") as r:
            assert r.status == 200 and (await r.json()) == {"deleted_traces": 1}
        async with s.delete(live.api_url + "/api/v1/settings/data/traces/nope") as r:
            assert r.status == 404
        async with s.post(live.api_url + "/api/v1/settings/projects/default/retention", json={"days": 90}) as r:
            assert r.status == 200 and (await r.json())["retention_days"] == 90
        async with s.post(live.api_url + "/api/v1/settings/projects/default/retention", json={"days": -1}) as r:
            assert r.status == 400
        # A field missing or wrong is named, not only what is wrong with it.
        async with s.post(live.api_url + "/api/v1/settings/keys", json={"note": "ci"}) as r:
            message = (await r.json())["error"]["message"]
            assert r.status == 400 and message == "invalid request body: project: Field required", message
        async with s.post(live.api_url + "/api/v1/settings/projects/default/retention", json={"days": "x"}) as r:
            message = (await r.json())["error"]["message"]
            assert r.status == 400 and message.startswith("invalid request body: days: "), message
    assert await live.store.reader.trace("default", "gdpr-1") == []
    assert len(await live.store.reader.trace("default", "gdpr-2")) == 1
