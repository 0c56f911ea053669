"""Model connections: secrets sealed at rest and never returned, Langfuse's llm-connections API, a
"test connection" that really calls an OpenAI-compatible server (and reports its error when it
fails), and an experiment from the UI routes that traces every item in a new run."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from credentials.secret_box import KEY_ENV, SecretBox
from query_api.datasets_api import RUNNER_KEY
from storage.experiment_runs import ExperimentRun
from tests.conftest import serving, until
from tests.fake_openai import COMPLETION, fake_openai
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
        # Langfuse's DELETE /llm-connections/{id}, as SDK 5's api.llm_connections.delete sends it.
        status, made, _ = await c.call(
            "PUT", "/api/public/llm-connections", {"provider": "qwen", "adapter": "openai", "secretKey": SECRET}
        )
        assert status == 200
        status, doc, _ = await c.call("DELETE", f"/api/public/llm-connections/{made['id']}")
        assert (status, doc) == (200, {"message": "LLM connection deleted"})
        status, listed, _ = await c.call("GET", "/api/public/llm-connections")
        assert listed["data"] == []
        status, doc, _ = await c.call("DELETE", f"/api/public/llm-connections/{made['id']}")
        assert status == 404 and doc["error"] == "LangfuseNotFoundError"
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
        # A model that cannot be reached: each item's failure is kept, and read in the reader's language.
        down = {"provider": "down", "secretKey": "k", "baseURL": "http://127.0.0.1:1/v1", "customModels": ["m"]}
        assert (await c.call("PUT", "/api/v1/llm-connections", down))[0] == 200
        status, _, _ = await c.call(
            "POST", "/api/v1/dataset/experiments", {**body, "provider": "down", "runName": "down"}
        )
        assert status == 202
        zh = {"Accept-Language": "zh-CN"}
        for _ in range(100):
            _, progress, _ = await c.call("GET", "/api/v1/dataset/experiments?name=cities", headers=zh)
            failed = next(p for p in progress["items"] if p["runName"] == "down")
            if failed["state"] != "running":
                break
            await asyncio.sleep(0.1)
        assert failed["failed"] == 2 and failed["errors"], failed
        assert all(e.startswith("item ") and "：无法连接 http://127.0.0.1:1/v1" in e for e in failed["errors"]), failed
        _, progress, _ = await c.call("GET", "/api/v1/dataset/experiments?name=cities")
        [english, *_] = next(p for p in progress["items"] if p["runName"] == "down")["errors"]
        assert english.startswith("item ") and ": cannot reach http://127.0.0.1:1/v1" in english
    finally:
        await c.close()


class GatedModel:
    """An OpenAI-compatible model that answers the first ``free`` calls and holds the rest until
    released: a server stopped while an experiment's calls are in flight."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.calls = 0
        self.held = 0
        self.release = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _chat(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls += 1
        if self.calls > self.free:
            self.held += 1
            await self.release.wait()
        return web.json_response(COMPLETION)

    async def __aenter__(self) -> GatedModel:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()


async def _experiment(c: Client, model: GatedModel, dataset: str, items: int, run: str) -> dict[str, Any]:
    connection = {"provider": "local", "secretKey": "k", "baseURL": model.url, "customModels": ["m"]}
    assert (await c.call("PUT", "/api/v1/llm-connections", connection))[0] == 200
    await c.call("POST", "/api/public/v2/prompts", {"name": "capital", "prompt": "Capital of {{country}}?"})
    await c.call("POST", "/api/public/v2/datasets", {"name": dataset})
    for i in range(items):
        item = {"datasetName": dataset, "id": f"{dataset}-{i}", "input": {"country": f"c{i}"}}
        assert (await c.call("POST", "/api/public/dataset-items", item))[0] == 200
    body = {"datasetName": dataset, "promptName": "capital", "promptVersion": 1, "provider": "local", "model": "m",
            "runName": run}  # fmt: skip
    status, started, _ = await c.call("POST", "/api/v1/dataset/experiments", body)
    assert status == 202 and started["total"] == items, started
    return started


async def _progress(c: Client, dataset: str, run: str) -> dict[str, Any]:
    _, doc, _ = await c.call("GET", f"/api/v1/dataset/experiments?name={dataset}")
    return next(p for p in doc["items"] if p["runName"] == run)


async def test_an_experiment_cut_short_by_a_restart_goes_on_where_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with GatedModel(free=3) as model:
        async with serving(data) as first:
            pair = await make_key(first)
            c = Client(first, basic(pair))
            await _experiment(c, model, "countries", 10, "long-run")
            await until(lambda: model.held >= 4)  # three answered, four waiting: the server stops now
            await until_answer(lambda: _progress(c, "countries", "long-run"), lambda p: p["done"] == 3)
            before = await _progress(c, "countries", "long-run")
            assert (before["state"], before["done"], before["resumed"]) == ("running", 3, False), before
            # The row of a run whose process died (no run behind it): garbage for the resume.
            dataset = (await first.store.datasets.datasets("default", name="countries"))[0]
            spec = '{"prompt": "nope", "version": 1, "provider": "local", "model": "m", "params": {}}'
            orphan = ExperimentRun("default", dataset.id, "run-gone", "orphan", spec, "running", 5, 1, 0, "[]",
                                   datetime.now(UTC))  # fmt: skip
            await first.store.experiment_runs.put(orphan)
            await c.close()
        model.release.set()
        async with serving(data) as second:
            c = Client(second, basic(pair))
            try:
                await until_answer(lambda: _progress(c, "countries", "long-run"), lambda p: p["state"] == "done")
                done = await _progress(c, "countries", "long-run")
                assert (done["total"], done["done"], done["failed"], done["resumed"]) == (10, 10, 0, True), done
                # Each item once in the run, though four were cut short in the middle of their call.
                run = (await second.store.datasets.runs("default", dataset.id, "long-run"))[0]
                items = await second.store.datasets.run_items("default", [run.id])
                assert sorted(i.dataset_item_id for i in items) == sorted(f"countries-{i}" for i in range(10))
                # A row marked running and written just now may be another process's: left alone.
                runner = second.api_app[RUNNER_KEY]
                await runner.resume()
                assert (await _progress(c, "countries", "orphan"))["state"] == "running"
                # Once it has not been written for a while its process is gone: picked up, and here
                # it cannot go on (its run does not exist), so it is marked failed, with why.
                await runner.resume(stale_after_s=0)
                gone = await _progress(c, "countries", "orphan")
                assert gone["state"] == "failed" and "could not resume" in gone["errors"][-1], gone
            finally:
                await c.close()


async def test_deleting_the_run_of_a_running_experiment_stops_it(live: Running) -> None:
    async with GatedModel(free=0) as model:
        c = Client(live, basic(await make_key(live)))
        try:
            await _experiment(c, model, "doomed", 3, "doomed-run")
            await until(lambda: model.held >= 1)
            status, _, _ = await c.call("DELETE", "/api/v1/dataset/runs?name=doomed&run=doomed-run")
            assert status == 200
            stopped = await _progress(c, "doomed", "doomed-run")
            assert stopped["state"] == "failed" and "deleted" in stopped["errors"][-1], stopped
            model.release.set()
            runner = live.api_app[RUNNER_KEY]
            await until(lambda: not runner._tasks)
            # Its calls did not go on to make the run again.
            dataset = (await live.store.datasets.datasets("default", name="doomed"))[0]
            assert await live.store.datasets.runs("default", dataset.id) == []
        finally:
            await c.close()


async def until_answer(
    ask: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0
) -> None:
    """Ask until the answer is ``done`` (the server gets there at its own pace)."""
    deadline = time.monotonic() + timeout_s
    while not done(await ask()):
        assert time.monotonic() < deadline, "the answer never came"
        await asyncio.sleep(0.05)


async def test_the_playground_fills_variables_and_calls_the_model(live: Running) -> None:
    """``POST /api/v1/playground``: the messages with their variables filled go to the connection's
    model with the parameters given; a provider's error comes back as it is; nothing is stored;
    garbage is a 400 and an unknown connection a 404."""
    from tests.fake_judge import fake_judge

    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            local = {"provider": "local", "secretKey": "sk-p", "baseURL": judge.url}
            await c.call("PUT", "/api/v1/llm-connections", local)
            await c.call(
                "PUT",
                "/api/v1/llm-connections",
                {"provider": "claude", "adapter": "anthropic", "secretKey": "sk-a", "baseURL": judge.url},
            )
            body = {
                "provider": "local",
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "You answer for {{ company }}."},
                    {"role": "user", "content": "Weather in {{city}}? {{unknown}}"},
                ],
                "variables": {"city": "Oslo", "company": "Acme"},
                "params": {"temperature": 0.3, "max_tokens": 64},
            }
            spans_before = (await live.store.backend.query("SELECT count() AS n FROM spans"))[0]["n"]
            status, doc, _ = await c.call("POST", "/api/v1/playground", body)
            assert status == 200 and doc["ok"] is True, doc
            assert (doc["inputTokens"], doc["outputTokens"], doc["model"]) == (120, 15, "judge-1")
            assert "looks right" in doc["answer"]
            sent = judge.requests[-1]
            assert sent["authorization"] == "Bearer sk-p"
            assert sent["body"]["messages"] == [
                {"role": "system", "content": "You answer for Acme."},
                {"role": "user", "content": "Weather in Oslo? {{unknown}}"},  # no value: left as written
            ]
            assert (sent["body"]["model"], sent["body"]["temperature"], sent["body"]["max_tokens"]) == (
                "gpt-4o-mini",
                0.3,
                64,
            )
            assert doc["messages"] == sent["body"]["messages"]
            # Anthropic's API: the system message apart.
            status, doc, _ = await c.call("POST", "/api/v1/playground", {**body, "provider": "claude", "params": {}})
            assert doc["ok"] is True and judge.requests[-1]["body"]["system"] == "You answer for Acme."
            # The provider's error, as it said it.
            judge.behaviour = ["429"]
            status, doc, _ = await c.call("POST", "/api/v1/playground", body)
            assert status == 200 and doc["ok"] is False and doc["status"] == 429 and "Rate limit" in doc["error"]
            calls = len(judge.requests)
            # A try is not a trace.
            assert (await live.store.backend.query("SELECT count() AS n FROM spans"))[0]["n"] == spans_before

            status, doc, _ = await c.call("POST", "/api/v1/playground", {**body, "provider": "nope"})
            assert status == 404 and "nope" in doc["error"]["message"]
            for bad in (
                {**body, "messages": []},
                {**body, "messages": [{"role": "tool", "content": "x"}]},
                {**body, "messages": [{"role": "user", "content": 5}]},
                {**body, "messages": "hello"},
                {**body, "model": ""},
                {**body, "params": {"temperature": 9}},
                {**body, "params": {"stream": True}},
                {**body, "variables": {"city": ["Oslo"]}},
                {**body, "extra": 1},
                [body],
                None,
            ):
                status, doc, _ = await c.call("POST", "/api/v1/playground", bad)
                assert status == 400 and "invalid request body" in doc["error"]["message"], (bad, doc)
            status, _, _ = await c.call(
                "POST", "/api/v1/playground", raw=b"\xff{", headers={"Content-Type": "application/json"}
            )
            assert status == 400
            assert len(judge.requests) == calls  # no bad request reached the model
    finally:
        await c.close()


async def _stored_image(live: Running, project: str, data: bytes, uploaded: bool = True) -> str:
    """A file of one of the project's traces, as the SDKs upload it: its media reference."""
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    record, _ = await live.store.media.register(
        project, trace_id="t" * 32, observation_id="", field="input", content_type="image/png",
        content_length=len(data), sha256_base64=digest, max_bytes=10**9, retention_days=0,
    )  # fmt: skip
    if uploaded:

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        await live.store.media.upload(project, record.id, "image/png", chunks())
    return f"@@@langfuseMedia:type=image/png|id={record.id}|source=bytes@@@"


async def _local_and_claude(c: Client, url: str) -> None:
    """Two connections to the fake model at ``url``: "local" (OpenAI's API) and "claude" (Anthropic's)."""
    await c.call("PUT", "/api/v1/llm-connections", {"provider": "local", "secretKey": "sk-p", "baseURL": url})
    claude = {"provider": "claude", "adapter": "anthropic", "secretKey": "sk-a", "baseURL": url}
    await c.call("PUT", "/api/v1/llm-connections", claude)


async def test_the_playground_sends_images(live: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user message's images go to the model as OpenAI's image parts (Anthropic's image blocks):
    a URL as it is, a data URL as it is, and a file of the project's traces as its bytes. Images
    that are none of these, in another role, too many, or another project's file: refused before
    any call."""
    from tests.fake_judge import fake_judge

    png = b"\x89PNG\r\n\x1a\n" + b"pixels" * 50
    ref = await _stored_image(live, "default", png)
    never_uploaded = await _stored_image(live, "default", b"other bytes", uploaded=False)
    other = await live.store.projects.create_project("other")
    theirs = await _stored_image(live, other.id, b"their secret image")
    data_url = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            await _local_and_claude(c, judge.url)
            images = ["https://example.com/cat.png", data_url, ref]
            body = {"provider": "local", "model": "gpt-4o",
                    "messages": [{"role": "system", "content": "Describe."},
                                 {"role": "user", "content": "What is in {{what}}?", "images": images}],
                    "variables": {"what": "these"}}  # fmt: skip
            status, doc, _ = await c.call("POST", "/api/v1/playground", body)
            assert status == 200 and doc["ok"] is True, doc
            sent = judge.requests[-1]["body"]["messages"]
            assert sent[0] == {"role": "system", "content": "Describe."}
            file_url = "data:image/png;base64," + base64.b64encode(png).decode()
            assert sent[1] == {"role": "user", "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": data_url}},
                {"type": "image_url", "image_url": {"url": file_url}},
            ]}  # fmt: skip
            # The answer repeats what was sent with the images as given, not the file's bytes.
            assert doc["messages"][1] == {"role": "user", "content": "What is in these?", "images": images}
            status, doc, _ = await c.call("POST", "/api/v1/playground", {**body, "provider": "claude"})
            assert doc["ok"] is True, doc
            blocks = judge.requests[-1]["body"]["messages"][0]["content"]
            assert blocks == [
                {"type": "text", "text": "What is in these?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/gif",
                                             "data": "R0lGODlhAQABAAAAACw="}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": base64.b64encode(png).decode()}},
            ]  # fmt: skip

            calls = len(judge.requests)
            user = body["messages"][1]
            for images_sent, status_expected, words in (
                (["javascript:alert(1)"], 400, "an image is an http(s) URL"),
                (["data:text/html;base64,PGI+"], 400, "an image is an http(s) URL"),
                (["https://example.com/a b.png"], 400, "an image is an http(s) URL"),
                ([ref.replace("image/png", "application/pdf")], 400, "an image is an http(s) URL"),
                ([5], 400, "invalid request body"),
                ([data_url] * 11, 400, "invalid request body"),
                ([data_url] * 4, 400, "at most 10 images"),  # with the seven of the other message
                ([theirs], 404, "no media"),  # another project's file: as unknown
                ([never_uploaded], 400, "never uploaded"),
            ):
                others = {**user, "images": [data_url] * 7} if len(images_sent) == 4 else body["messages"][0]
                bad = {**body, "messages": [others, {**user, "images": images_sent}]}
                status, doc, _ = await c.call("POST", "/api/v1/playground", bad)
                assert status == status_expected and words in doc["error"]["message"], (images_sent, doc)
            # The project's files a run reads are bounded together (here to less than two of them).
            monkeypatch.setattr("query_api.llm_api.MAX_FILE_BYTES", len(png) + 1)
            twice = {**body, "messages": [{**user, "images": [ref, ref]}]}
            status, doc, _ = await c.call("POST", "/api/v1/playground", twice)
            assert status == 400 and "MiB of the project's files" in doc["error"]["message"], doc
            in_system = {**body, "messages": [{"role": "system", "content": "x", "images": [data_url]}]}
            status, doc, _ = await c.call("POST", "/api/v1/playground", in_system)
            assert status == 400 and "images go in user messages" in doc["error"]["message"], doc
            assert len(judge.requests) == calls
            assert b"their secret image" not in json.dumps(judge.requests).encode()
    finally:
        await c.close()


async def test_the_playground_sends_tools(live: Running) -> None:
    """A generation's tools and its tool calls and results go to the model as OpenAI's tools, an
    assistant's tool_calls and tool messages (Anthropic's tools, tool_use and tool_result blocks);
    the tools the model calls come back. Malformed tools and calls: refused before any call."""
    from tests.fake_judge import fake_judge

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    weather = {"name": "get_weather", "description": "The weather in a city.", "parameters": schema}
    call = {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    messages = [
        {"role": "system", "content": "You answer about the weather."},
        {"role": "user", "content": "Weather in {{city}}?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    body = {"provider": "local", "model": "gpt-4o", "messages": messages, "variables": {"city": "Paris"},
            "tools": [weather]}  # fmt: skip
    c = Client(live, basic(await make_key(live)))
    try:
        async with fake_judge() as judge:
            await _local_and_claude(c, judge.url)
            status, doc, _ = await c.call("POST", "/api/v1/playground", body)
            assert status == 200 and doc["ok"] is True, doc
            sent = judge.requests[-1]["body"]
            assert sent["tools"] == [{"type": "function", "function": weather}]
            assert sent["messages"][1:] == [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                                      "arguments": '{"city": "Paris"}'}}]},
                {"role": "tool", "content": "Sunny, 21 C", "tool_call_id": "call_1"},
                {"role": "user", "content": "And tomorrow?"},
            ]  # fmt: skip
            # The model's own call of the tool comes back.
            (made,) = doc["toolCalls"]
            assert made["name"] == "get_weather" and json.loads(made["arguments"])["score"] == 0.8
            assert doc["messages"][2]["tool_calls"][0]["function"]["name"] == "get_weather"

            status, doc, _ = await c.call("POST", "/api/v1/playground", {**body, "provider": "claude"})
            assert doc["ok"] is True, doc
            sent = judge.requests[-1]["body"]
            assert sent["system"] == "You answer about the weather."
            assert sent["tools"] == [{"name": "get_weather", "description": "The weather in a city.",
                                      "input_schema": weather["parameters"]}]  # fmt: skip
            assert sent["messages"][1:] == [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather",
                                                   "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1",
                                              "content": "Sunny, 21 C"}]},
                {"role": "user", "content": "And tomorrow?"},
            ]  # fmt: skip
            assert [t["name"] for t in doc["toolCalls"]] == ["get_weather"]

            calls = len(judge.requests)
            for bad, words in (
                ({"tools": [{**weather, "name": "get weather"}]}, "invalid request body"),
                ({"tools": [{**weather, "parameters": {"type": "string"}}]}, "type object"),
                ({"tools": [weather, weather]}, "a name of its own"),
                ({"tools": [weather] * 65}, "invalid request body"),
                ({"tools": [{**weather, "code": "rm -rf /"}]}, "invalid request body"),
                ({"messages": [{"role": "tool", "content": "no id"}]}, "tool_call_id"),
                ({"messages": [{"role": "user", "content": "x", "tool_call_id": "call_1"}]}, "tool_call_id"),
                ({"messages": [{"role": "user", "content": "x", "tool_calls": [call]}]}, "tool calls go in assistant"),
                ({"messages": [{"role": "assistant", "content": "", "tool_calls": [{**call, "id": ""}]}]}, "invalid"),
                ({"messages": [{"role": "assistant", "content": "", "tool_calls": [{"name": "x"}]}]}, "invalid"),
            ):
                status, doc, _ = await c.call("POST", "/api/v1/playground", {**body, **bad})
                assert status == 400 and words in doc["error"]["message"], (bad, doc)
            assert len(judge.requests) == calls
    finally:
        await c.close()


async def _ndjson(live: Running, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """A streamed playground run: its status and its NDJSON lines, read as they come."""
    async with (
        aiohttp.ClientSession() as s,
        s.post(live.api_url + "/api/v1/playground", json=body, headers=headers) as r,
    ):
        if r.content_type != "application/x-ndjson":
            return r.status, [await r.json()]
        return r.status, [json.loads(line) async for line in r.content if line.strip()]


async def test_the_playground_streams_the_answer(live: Running) -> None:
    """With ``stream: true`` the model's text comes as it is written (OpenAI's chunks, Anthropic's
    events), then the whole answer with its usage and tool calls; a provider's error is the last
    line; an unknown connection and a bad body are refused before any line."""
    from tests.fake_judge import fake_judge

    headers = basic(await make_key(live))
    c = Client(live, headers)
    asked = [{"role": "user", "content": "Weather in {{city}}?"}]
    question = {"provider": "local", "model": "gpt-4o", "stream": True, "messages": asked}
    question["variables"] = {"city": "Oslo"}
    try:
        async with fake_judge() as judge:
            await _local_and_claude(c, judge.url)
            for provider in ("local", "claude"):
                status, lines = await _ndjson(live, headers, {**question, "provider": provider})
                assert status == 200, lines
                pieces = [x["text"] for x in lines if x["type"] == "text"]
                done = lines[-1]
                assert len(pieces) == 3 and done["type"] == "done" and done["ok"] is True, lines
                assert "".join(pieces) == done["answer"] and json.loads(done["answer"])["score"] == 0.8
                assert (done["inputTokens"], done["outputTokens"]) == ((120, 15) if provider == "local" else (90, 12))
                assert done["messages"] == [{"role": "user", "content": "Weather in Oslo?"}]
                sent = judge.requests[-1]["body"]
                assert sent["stream"] is True
                assert ("stream_options" in sent) == (provider == "local")  # OpenAI sends usage when asked
                # A tool call streamed in pieces of its arguments comes back whole.
                tool = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
                status, lines = await _ndjson(live, headers, {**question, "provider": provider, "tools": [tool]})
                (call,) = lines[-1]["toolCalls"]
                assert call["name"] == "get_weather" and json.loads(call["arguments"])["score"] == 0.8, lines
            # A server that knows no stream_options: asked again without; one that answers in one
            # piece though asked to stream: its answer as one piece.
            judge.behaviour = ["no-stream-options", "good"]
            before = len(judge.requests)
            status, lines = await _ndjson(live, headers, question)
            assert [x["type"] for x in lines] == ["text", "text", "text", "done"], lines
            first, second = (r["body"] for r in judge.requests[before:])
            assert "stream_options" in first and "stream_options" not in second and second["stream"] is True
            judge.behaviour = ["ignores-stream"]
            status, lines = await _ndjson(live, headers, question)
            assert [x["type"] for x in lines] == ["text", "done"] and lines[0]["text"] == lines[1]["answer"], lines
            # The provider's error: the last (and only) line, with its message.
            judge.behaviour = ["500"]
            status, lines = await _ndjson(live, headers, question)
            assert status == 200 and [x["type"] for x in lines] == ["error"]
            assert "upstream exploded" in lines[0]["error"] and lines[0]["status"] == 500
            judge.behaviour = ["good"]
            calls = len(judge.requests)
            status, lines = await _ndjson(live, headers, {**question, "provider": "nope"})
            assert status == 404, lines
            for bad in ({"stream": "maybe"}, {"stream": True, "messages": []}):
                status, lines = await _ndjson(live, headers, {**question, **bad})
                assert status == 400, (bad, lines)
            assert len(judge.requests) == calls  # refused before any call
    finally:
        await c.close()
