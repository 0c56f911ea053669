"""Langfuse's score lists (v1, v2 and v3) apply every filter a client may send, or refuse it:
none is ignored, so no client gets scores it asked to leave out."""

import uuid
from typing import Any

import aiohttp

from tests.langfuse_helpers import basic, event, ingest, make_key
from tracehouse.server import Running


async def _get(live: Running, headers: dict[str, str], path: str, **params: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + path, headers=headers, params=params) as r,
    ):
        return r.status, await r.json()


async def test_every_score_filter_is_applied_or_refused(live: Running) -> None:
    headers = basic(await make_key(live))
    ada, bob = uuid.uuid4().hex, uuid.uuid4().hex
    batch = [
        event("trace-create", {"id": ada, "name": "a", "userId": "ada", "tags": ["prod", "chat"]}),
        event("trace-create", {"id": bob, "name": "b", "userId": "bob", "tags": ["prod"]}),
    ]
    scores = {
        "s1": {"traceId": ada, "name": "quality", "value": 0.9, "timestamp": "2026-11-01T10:00:00Z"},
        "s2": {
            "traceId": ada,
            "name": "quality",
            "value": 0.2,
            "timestamp": "2026-11-02T10:00:00Z",
            "environment": "staging",
        },
        "s3": {"traceId": bob, "name": "quality", "value": 0.5, "timestamp": "2026-11-03T10:00:00Z"},
    }
    batch += [event("score-create", {"id": sid, **body}) for sid, body in scores.items()]
    status, reply = await ingest(live, headers, batch)
    assert status == 207 and not reply["errors"], reply

    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, {"s1", "s2", "s3"}),
        ({"userId": "ada"}, {"s1", "s2"}),
        ({"traceTags": "chat"}, {"s1", "s2"}),
        ({"traceTags": "prod"}, {"s1", "s2", "s3"}),
        ({"fromTimestamp": "2026-11-02T00:00:00Z"}, {"s2", "s3"}),
        ({"toTimestamp": "2026-11-02T10:00:00Z"}, {"s1"}),  # exclusive
        ({"environment": "staging"}, {"s2"}),
        ({"environment": "default"}, {"s1", "s3"}),
        ({"scoreIds": "s1,s3"}, {"s1", "s3"}),
        ({"operator": ">", "value": "0.4"}, {"s1", "s3"}),
        ({"operator": "<=", "value": "0.5"}, {"s2", "s3"}),
        ({"value": "0.5"}, {"s3"}),
        ({"configId": "c-1"}, set()),  # no score here has a config
        ({"queueId": "q-1"}, set()),
        # Langfuse's JSON conditions: the score's own columns, and its trace's.
        ({"filter": '[{"type":"number","column":"value","operator":">=","value":0.5}]'}, {"s1", "s3"}),
        ({"filter": '[{"type":"string","column":"userId","operator":"=","value":"bob"}]'}, {"s3"}),
        (
            {"filter": '[{"type":"arrayOptions","column":"traceTags","operator":"any of","value":["chat"]}]'},
            {"s1", "s2"},
        ),
        (
            {"filter": '[{"type":"string","column":"environment","operator":"=","value":"staging"}]', "userId": "ada"},
            {"s2"},
        ),
    ]
    for params, expected in cases:
        for path in ("/api/public/scores", "/api/public/v2/scores"):
            status, doc = await _get(live, headers, path, **params)
            assert status == 200, (path, params, doc)
            assert {s["id"] for s in doc["data"]} == expected, (path, params)
            assert doc["meta"]["totalItems"] == len(expected), (path, params)
    v3 = [
        ({"valueMin": "0.3", "valueMax": "0.6"}, {"s3"}),
        ({"id": "s2"}, {"s2"}),
        ({"authorUserId": "someone"}, set()),
        ({"experimentId": "e-1"}, set()),
    ]
    for params, expected in v3:
        status, doc = await _get(live, headers, "/api/public/v3/scores", **params)
        assert status == 200, (params, doc)
        assert {s["id"] for s in doc["data"]} == expected, params

    # Garbage: a clear 400, and the list still answers.
    for params in (
        {"filter": '[{"type":"string","column":"nope","operator":"=","value":"x"}]'},
        {"filter": "[{"},
        {"operator": "~", "value": "1"},
        {"operator": ">"},
        {"value": "high"},
        {"valueMin": "nan"},
        {"fromTimestamp": "yesterday"},
    ):
        for path in ("/api/public/v2/scores", "/api/public/v3/scores"):
            status, doc = await _get(live, headers, path, **params)
            assert status == 400 and doc["message"], (path, params, doc)
    assert (await _get(live, headers, "/api/public/v2/scores"))[0] == 200
