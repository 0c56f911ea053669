"""Model connections: secrets sealed at rest and never returned, Langfuse's llm-connections API, a
"test connection" that really calls an OpenAI-compatible server (and reports its error when it
fails), and an experiment from the UI routes that traces every item in a new run."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

from credentials.secret_box import KEY_ENV, SecretBox
from tests.fake_openai import fake_openai
from tests.langfuse_helpers import basic, make_key
from tests.test_prompts_api import Client
from tracehouse.errors import ConfigError
from tracehouse.server import Running

SECRET = "sk-live-abcdefghijklmnop-7777"


def test_secret_box_seals_with_a_key_kept_outside_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    box = SecretBox.load(tmp_path)
    key_file = tmp_path / "encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = box.seal(SECRET)
    assert SECRET not in sealed and box.seal(SECRET) != sealed  # a fresh nonce each time
    assert SecretBox.load(tmp_path).open(sealed) == SECRET  # the same key next start
    other = SecretBox(os.urandom(32))
    with pytest.raises(ConfigError, match="encryption key"):
        other.open(sealed)
    with pytest.raises(ConfigError):
        box.open(sealed[:-4] + "AAAA")  # altered
    monkeypatch.setenv(KEY_ENV, base64.b64encode(b"k" * 32).decode())
    assert SecretBox.load(None).open(SecretBox(b"k" * 32).seal("x")) == "x"
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ConfigError, match=KEY_ENV):
        SecretBox.load(None)


async def test_connections_never_give_their_secret_back(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_openai() as openai_url:
            status, doc, _ = await c.call(
                "PUT",
                "/api/public/llm-connections",
                {"provider": "deepseek", "adapter": "openai", "secretKey": SECRET, "baseURL": openai_url,
                 "customModels": ["deepseek-chat"], "withDefaultModels": False, "extraHeaders": {"X-Team": "t1"}},
            )  # fmt: skip
            assert status == 200, doc
            assert doc["displaySecretKey"] == "...7777" and doc["extraHeaderKeys"] == ["X-Team"]
            status, listed, _ = await c.call("GET", "/api/public/llm-connections")
            assert [x["provider"] for x in listed["data"]] == ["deepseek"]
            # Nowhere in the store, and in no answer.
            rows = await live.store.backend.query("SELECT * FROM llm_connections")
            assert rows and not any(SECRET in str(v) or v == "t1" for r in rows for v in r.values())
            status, ui, _ = await c.call("GET", "/api/v1/llm-connections")
            assert SECRET not in str(ui) and ui["items"][0]["models"] == ["deepseek-chat"]

            # A real call: the fake's answer; then a wrong base URL gives the error as it is.
            status, tested, _ = await c.call(
                "POST", "/api/v1/llm-connections/test", {"provider": "deepseek", "model": "deepseek-chat"}
            )
            assert tested["ok"] is True and tested["answer"].startswith("Paris"), tested
            status, _, _ = await c.call(
                "PUT", "/api/v1/llm-connections", {"provider": "deepseek", "baseURL": openai_url + "/nothing-here"}
            )
            status, tested, _ = await c.call(
                "POST", "/api/v1/llm-connections/test", {"provider": "deepseek", "model": "x"}
            )
            assert tested["ok"] is False and tested["status"] == 404 and "nothing-here" in tested["error"]
            # The edit gave no key: the stored one was kept (the call above reached the server with it).
            rows = await live.store.llm_connections.list("default", "deepseek")
            assert rows[0].secret_hint == "...7777"

        for bad in (
            {"provider": "", "secretKey": "k"},
            {"provider": "x", "adapter": "cohere", "secretKey": "k"},
            {"provider": "x", "baseURL": "ftp://nope", "secretKey": "k"},
            {"provider": "x"},
            {"provider": "x", "secretKey": "k", "extraHeaders": {"a": 1}},
        ):
            status, doc, _ = await c.call("PUT", "/api/v1/llm-connections", bad)
            assert status == 400, (bad, doc)
            status, doc, _ = await c.call("PUT", "/api/public/llm-connections", bad)
            assert status == 400 and doc["message"] == "Invalid request data", bad
        status, _, _ = await c.call(
            "PUT", "/api/v1/llm-connections", raw=b"{", headers={"Content-Type": "application/json"}
        )
        assert status == 400
        status, _, _ = await c.call("DELETE", "/api/v1/llm-connections?provider=deepseek")
        assert status == 200
        status, listed, _ = await c.call("GET", "/api/public/llm-connections")
        assert listed["data"] == []
    finally:
        await c.close()


async def test_an_experiment_from_the_ui_routes_traces_every_item(live: Running) -> None:
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_openai() as openai_url:
            connection = {"provider": "local", "secretKey": "k", "baseURL": openai_url, "customModels": ["gpt-4o-mini"]}
            await c.call("PUT", "/api/v1/llm-connections", connection)
            await c.call(
                "POST",
                "/api/public/v2/prompts",
                {"name": "weather", "prompt": "Weather in {{city}}?", "config": {"temperature": 0}},
            )
            await c.call("POST", "/api/public/v2/datasets", {"name": "cities"})
            for city, want in (("Paris", "sunny"), ("Oslo", "rain")):
                await c.call(
                    "POST",
                    "/api/public/dataset-items",
                    {"datasetName": "cities", "input": {"city": city}, "expectedOutput": want},
                )
            body = {"datasetName": "cities", "promptName": "weather", "promptVersion": 1, "provider": "local",
                    "model": "gpt-4o-mini", "runName": "ui-run"}  # fmt: skip
            status, started, _ = await c.call("POST", "/api/v1/dataset/experiments", body)
            assert status == 202 and started["total"] == 2, started
            for _ in range(100):
                status, progress, _ = await c.call("GET", "/api/v1/dataset/experiments?name=cities")
                if progress["items"][0]["state"] == "done":
                    break
                await asyncio.sleep(0.1)
            done = progress["items"][0]
            assert (done["runName"], done["total"], done["done"], done["failed"]) == ("ui-run", 2, 2, 0)
            assert (done["state"], done["errors"]) == ("done", [])
        status, compared, _ = await c.call("GET", "/api/v1/dataset/compare?name=cities&run=ui-run")
        results = [r for row in compared["items"] for r in row["runs"][compared["runs"][0]["id"]]["results"]]
        assert len(results) == 2 and all(r["output"] == "Paris is sunny, 21°C." and r["tokens"] == 40 for r in results)
        # Each call is a generation linked to the prompt version, in a trace of its own.
        spans = await live.store.reader.trace("default", results[0]["traceId"])
        generation = next(s for s in spans if s["observation_type"] == "GENERATION")
        assert (generation["prompt_name"], generation["prompt_version"], generation["input_tokens"]) == (
            "weather",
            "1",
            31,
        )
        assert "Weather in " in generation["input"]
        # Bad requests say what is wrong.
        for bad, words in (({**body, "promptVersion": 9}, "not found"), ({**body, "provider": "none"}, "connection"),
                           ({**body, "datasetName": "none"}, "Dataset"), ({**body, "model": ""}, "model")):  # fmt: skip
            status, doc, _ = await c.call("POST", "/api/v1/dataset/experiments", bad)
            assert status in (400, 404) and words in doc["error"]["message"], (bad, doc)
    finally:
        await c.close()
