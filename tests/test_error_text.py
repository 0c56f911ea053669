"""Error messages in Chinese for a request that prefers it: the catalog covers every message the
code raises (and the actions it names), keeps their values, and an error answer of each of our
APIs' shapes is given in the request's language, English by default."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from query_api.error_text import (
    CATALOG,
    localize,
    localize_document,
    messages_in_code,
    placeholders,
    preferred_locale,
)
from tests.langfuse_helpers import basic, make_key
from tracehouse.server import Running

ZH = "zh-CN,zh;q=0.9,en;q=0.8"


def test_every_message_the_code_raises_is_in_the_catalog_with_its_placeholders() -> None:
    found = messages_in_code()
    catalog = json.loads(CATALOG.read_text())
    assert len(found) > 250  # the scan reads the code (a scan that finds nothing passes nothing)
    missing = sorted(set(found) - set(catalog))
    unused = sorted(set(catalog) - set(found))
    assert not missing, f"the catalog lacks {missing[:10]} (python -m query_api.error_text lists them)"
    assert not unused, f"no code raises {unused[:10]} any more"
    for key, text in catalog.items():
        assert text.strip() and placeholders(text) == placeholders(key), (key, text)
    same = [k for k, v in catalog.items() if k == v]
    assert same == ["{path}: {message}"], same  # only placeholders: nothing to translate


def test_the_scan_finds_messages_f_strings_and_actions(tmp_path: Path) -> None:
    package = tmp_path / "widgets"
    package.mkdir()
    (package / "api.py").write_text(
        "def handler(caller, widget_id, request):\n"
        "    caller.require(P.EDIT, 'frob widgets')\n"
        "    if not widget_id:\n"
        "        raise InvalidInput('a widget id is needed {literally}')\n"
        "    raise NotFound(f\"no widget {widget_id!r} in {request.match_info['shelf']} ({len(widget_id)})\")\n"
    )
    found = messages_in_code([package])
    assert set(found) == {
        "frob widgets",
        "a widget id is needed {{literally}}",
        "no widget {widget_id} in {shelf} ({widget_id2})",
    }
    assert found["frob widgets"] == [f"{package}/api.py:2"]


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("wrong email or password", "邮箱或密码错误"),
        ("no trace 'abc' in this project", "此项目中没有追踪 'abc'"),
        # The action a message names is translated as well.
        ("your role in this project may not read comments", "你在此项目中的角色不能查看评论"),
        ("your role in project 'x' may not create prompts", "你在项目 'x' 中的角色不能创建提示词"),
        # Text from elsewhere (pydantic, a value) stays as it is inside the translation.
        ("invalid request body: Field required", "请求内容无效：Field required"),
        # Literal braces are text, not placeholders.
        ("categories: a non-empty list of {label, value}", "categories：非空的 {label, value} 列表"),
        # A field's error from the rules of prompts and datasets: the field as it is.
        ("name: a prompt needs a name", "name：提示词需要名称"),
        ("line 3: each line is a JSON object", "line 3：每行须为一个 JSON 对象"),
        # A model's failure, stored with an experiment or an evaluation: the provider's words kept.
        ("401 from http://llm/v1: Incorrect API key", "http://llm/v1 返回 401：Incorrect API key"),
        # A message the catalog does not know, or one that only looks like "{path}: {message}".
        ("the moon is made of cheese", "the moon is made of cheese"),
        ("items.0: 'x' is not of type 'integer'", "items.0: 'x' is not of type 'integer'"),
        ("", ""),
    ],
)
def test_localize(english: str, chinese: str) -> None:
    assert localize(english, "zh-CN") == chinese
    assert localize(english, None) == english


def test_each_error_shape_is_localized_and_nothing_else() -> None:
    ours = {"error": {"code": "not_found", "message": "no such media"}}
    assert localize_document(ours, "zh-CN") and ours == {"error": {"code": "not_found", "message": "没有该媒体"}}
    # Langfuse's 400: its own words on top (SDKs match them), the issue's message translated.
    issues = {
        "message": "Invalid request data",
        "error": [{"code": "custom", "path": [], "message": "model: required"}],
    }
    assert localize_document(issues, "zh-CN")
    assert issues == {
        "message": "Invalid request data",
        "error": [{"code": "custom", "path": [], "message": "model：必填"}],
    }
    prometheus = {"status": "error", "errorType": "bad_data", "error": "end must be after start"}
    assert localize_document(prometheus, "zh-CN") and prometheus["error"] == "结束时间必须晚于开始时间"
    for unknown in ({"data": ["no such media"]}, {"error": {"message": "who knows"}}, ["no such media"], None):
        assert not localize_document(unknown, "zh-CN")


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN", "zh-CN"),
        (ZH, "zh-CN"),
        ("zh-TW", "zh-CN"),  # the Simplified catalog over English
        ("en-US,en;q=0.9", None),
        ("en;q=0.5, zh;q=0.9", "zh-CN"),
        ("en, zh", None),
        ("zh;q=0", None),
        ("fr-FR", None),
        ("", None),
        (None, None),
        (";;,,zh;q=banana,*;q=", None),
    ],
)
def test_preferred_locale(header: str | None, locale: str | None) -> None:
    assert preferred_locale(header) == locale


async def test_error_answers_in_the_requests_language(live: Running) -> None:
    pair = await make_key(live)
    auth = basic(pair)
    api = live.api_url
    async with aiohttp.ClientSession() as session:

        async def get(path: str, **headers: str) -> tuple[int, dict]:
            async with session.get(api + path, headers={**auth, **headers}) as r:
                return r.status, await r.json()

        # Our API's shape: {"error": {"code", "message"}}; the code stays as it is.
        status, doc = await get("/api/v1/traces/abc", **{"Accept-Language": ZH})
        assert status == 404
        assert doc["error"] == {"code": "not_found", "message": "此项目中没有追踪 'abc'"}
        status, doc = await get("/api/v1/traces/abc")
        assert doc["error"]["message"] == "no trace 'abc' in this project"
        status, doc = await get("/api/v1/traces/abc", **{"Accept-Language": "en-US,en;q=0.9"})
        assert doc["error"]["message"] == "no trace 'abc' in this project"
        # Garbage in the header costs nothing: English.
        status, doc = await get("/api/v1/traces/abc", **{"Accept-Language": ";;q=,zh;q=x,, ,en;q=2.5abc,é"})
        assert status == 404 and doc["error"]["message"] == "no trace 'abc' in this project"
        # The annotation pages call Langfuse's paths, answered in our shape.
        status, doc = await get("/api/public/annotation-queues/nope", **{"Accept-Language": "zh-CN"})
        assert status == 404 and doc["error"]["message"] == "未找到标注队列：nope"
        # Langfuse's own shapes, as its SDKs get them ({"message"}; its issues for a 400).
        status, doc = await get("/api/public/traces/nope", **{"Accept-Language": "zh-CN"})
        assert status == 404 and doc["error"] == "LangfuseNotFoundError", doc
        assert doc["message"] == "在有权访问的项目中未找到追踪 nope", doc
        status, doc = await get("/api/public/traces/nope")
        assert doc["message"] == "Trace nope not found within authorized project"
        status, doc = await get("/api/public/score-configs?page=x", **{"Accept-Language": "zh"})
        assert status == 400 and doc["error"]["message"] == "page 和 limit 须为整数", doc
        status, doc = await get("/api/public/traces?limit=x", **{"Accept-Language": "zh"})
        assert (status, doc) == (400, {"error": "InvalidRequestError", "message": "page 和 limit 须为整数"})
        # Unauthenticated: the credentials' message too.
        async with session.get(api + "/api/v1/traces", headers={"Accept-Language": "zh-CN"}) as r:
            doc = await r.json()
        assert r.status == 401 and "缺少凭据" in json.dumps(doc, ensure_ascii=False), doc
