"""Comments: the langfuse 5.x SDK's api.comments against Tracehouse, garbage refused, another
project's comments invisible, and people commenting (and deleting their own) through the API."""

from __future__ import annotations

import asyncio

from tests.langfuse_helpers import basic, make_key, run_sdk
from tests.test_organizations_api import PASSWORD, first_admin, sign_in
from tests.test_prompts_api import Client
from tracehouse.server import Running


async def test_sdk5_comments(live: Running) -> None:
    out = await asyncio.to_thread(run_sdk, "5", "v5_comments.py", live.api_url, await make_key(live))
    [listed] = out["listed"]
    assert listed["id"] == out["id"] == out["got"]["id"]
    assert (listed["objectType"], listed["objectId"], listed["authorUserId"]) == (
        "TRACE",
        out["trace_id"],
        "reviewer-7",
    )
    assert listed["content"] == "Looks wrong: check the retrieval step."


async def test_comments_refuse_garbage_stay_in_their_project_and_belong_to_people(live: Running) -> None:
    await live.store.projects.create_project("other")
    c = Client(live, basic(await make_key(live)))
    other = Client(live, basic(await make_key(live, "other")))
    admin = await first_admin(live)
    people = [admin]
    try:
        for bad in ({"objectType": "PLANET", "objectId": "x", "content": "c"}, {"objectType": "TRACE", "content": "c"},
                    {"objectType": "TRACE", "objectId": "x", "content": ""},
                    {"objectType": "TRACE", "objectId": "x", "content": "c" * 3001}):  # fmt: skip
            status, _, _ = await c.call("POST", "/api/public/comments", bad)
            assert status == 400, bad
        status, _, _ = await c.call(
            "POST", "/api/public/comments", raw=b"{", headers={"Content-Type": "application/json"}
        )
        assert status == 400
        body = {"objectType": "TRACE", "objectId": "t-1", "content": "first"}
        status, _, _ = await c.call("POST", "/api/public/comments", {**body, "projectId": "other"})
        assert status == 403
        status, made, _ = await c.call("POST", "/api/public/comments", body)
        assert status == 200
        status, listed, _ = await other.call("GET", "/api/public/comments?objectType=TRACE&objectId=t-1")
        assert listed["data"] == []
        status, _, _ = await other.call("GET", f"/api/public/comments/{made['id']}")
        assert status == 404
        # A member comments as herself and deletes her own comment; not another's.
        await admin.call("POST", "/api/v1/organizations/default/members",
                         {"email": "mo@example.com", "role": "MEMBER", "password": PASSWORD})  # fmt: skip
        member = await sign_in(live, "mo@example.com")
        people.append(member)
        status, mine = await member.call("POST", "/api/public/comments?project=default", {**body, "content": "mine"})
        assert status == 200
        status, doc = await member.call("GET", "/api/public/comments?project=default&objectId=t-1")
        me = (await live.store.users.find("mo@example.com")).id
        assert [(x["content"], x["authorUserId"]) for x in doc["data"]] == [("first", None), ("mine", me)]
        status, _ = await member.call("DELETE", f"/api/public/comments/{made['id']}?project=default")
        assert status == 403
        status, _ = await member.call("DELETE", f"/api/public/comments/{mine['id']}?project=default")
        assert status == 200
        status, doc = await member.call("GET", "/api/public/comments?project=default&objectId=t-1")
        assert [x["content"] for x in doc["data"]] == ["first"]
    finally:
        await c.close()
        await other.close()
        for p in people:
            await p.close()
