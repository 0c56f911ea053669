"""Model connections over HTTP (Langfuse's ``GET/PUT /api/public/llm-connections`` for key pairs, and
the UI's routes with a "test connection" that really calls the model), and experiments started
from the UI. A connection's secret goes in and never comes out."""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from experiments.runner import compile_prompt
from llm import ChatResult, ConnectionService, ModelError
from query_api.access import CREDENTIALS_KEY, caller_for
from query_api.admin import STORE_KEY
from query_api.datasets_api import DATASETS_KEY, RUNNER_KEY
from query_api.error_text import localize, preferred_locale
from query_api.langfuse_api import PREFIX, LangfuseError, langfuse_json
from query_api.requests import read_json, read_model
from query_api.responses import json_response
from storage import Store
from tracehouse.errors import InvalidInput, NotFound, TracehouseError, Unauthenticated
from tracehouse.roles import Permission

__all__ = ["CONNECTIONS_KEY", "RUNNER_KEY", "llm_routes"]

CONNECTIONS_KEY = web.AppKey("llm_connections", ConnectionService)


async def _body(request: web.Request) -> Any:
    return await read_json(request)


async def _key_project(request: web.Request) -> str:
    try:
        return await request.app[CREDENTIALS_KEY].key_project(request.headers.get("Authorization", ""))
    except Unauthenticated as exc:
        raise LangfuseError(401, "Unauthorized", exc.message) from None


async def public_list(request: web.Request) -> web.Response:
    try:
        project = await _key_project(request)
        data = [v.doc for v in await request.app[CONNECTIONS_KEY].list(project)]
    except LangfuseError as exc:
        return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
    meta = {"page": 1, "limit": max(len(data), 1), "totalItems": len(data), "totalPages": 1}
    return langfuse_json({"data": [{k: v for k, v in d.items() if k != "models"} for d in data], "meta": meta})


async def public_put(request: web.Request) -> web.Response:
    try:
        project = await _key_project(request)
        doc = (await request.app[CONNECTIONS_KEY].put(project, await _body(request))).doc
    except LangfuseError as exc:
        return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
    except TracehouseError as exc:
        return langfuse_json({"message": "Invalid request data", "error": [{"message": exc.message}]}, 400)
    return langfuse_json({k: v for k, v in doc.items() if k != "models"})


async def public_delete(request: web.Request) -> web.Response:
    """Langfuse's DELETE /llm-connections/{id} (SDK 5's ``api.llm_connections.delete``); the rules
    that judge through it then say so on the Evaluations page, as when it is deleted there."""
    try:
        project = await _key_project(request)
        connections = request.app[CONNECTIONS_KEY]
        wanted = request.match_info["id"]
        found = [c for c in await connections.list(project) if c.doc["id"] == wanted]
        if not found:
            return langfuse_json(
                {"error": "LangfuseNotFoundError", "message": f"LLM connection not found: {wanted[:200]}"}, 404
            )
        await connections.delete(project, found[0].doc["provider"])
    except LangfuseError as exc:
        return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
    return langfuse_json({"message": "LLM connection deleted"})


async def ui_list(request: web.Request) -> web.Response:
    caller = await caller_for(request, request.app[STORE_KEY])
    caller.require(Permission.VIEW_DATA, "see model connections")
    items = [v.doc for v in await request.app[CONNECTIONS_KEY].list(caller.project_id)]
    return json_response({"items": items})


async def ui_put(request: web.Request) -> web.Response:
    caller = await caller_for(request, request.app[STORE_KEY])
    caller.require(Permission.MANAGE_SETTINGS, "change model connections")
    return json_response((await request.app[CONNECTIONS_KEY].put(caller.project_id, await _body(request))).doc)


async def ui_delete(request: web.Request) -> web.Response:
    caller = await caller_for(request, request.app[STORE_KEY])
    caller.require(Permission.MANAGE_SETTINGS, "change model connections")
    await request.app[CONNECTIONS_KEY].delete(caller.project_id, request.query.get("provider", ""))
    return json_response({"deleted": True})


def _answer(result: ChatResult) -> dict[str, Any]:
    """A model's answer as the UI shows it (the connection test's and the playground's)."""
    return {
        "ok": True,
        "answer": result.text,
        "model": result.model,
        "latencyMs": round(result.latency_ms),
        "inputTokens": result.input_tokens,
        "outputTokens": result.output_tokens,
        "toolCalls": result.tool_calls,  # the tools the model called, each {id, name, arguments}
    }


async def ui_test(request: web.Request) -> web.Response:
    """Call the model for real: its answer, or the provider's error, never a guess."""
    caller = await caller_for(request, request.app[STORE_KEY])
    caller.require(Permission.MANAGE_SETTINGS, "test model connections")
    body = await _body(request)
    if not isinstance(body, dict) or not body.get("provider") or not body.get("model"):
        raise InvalidInput("provider and model are required")
    try:
        result = await request.app[CONNECTIONS_KEY].test(caller.project_id, str(body["provider"]), str(body["model"]))
    except ModelError as exc:
        return json_response({"ok": False, "error": exc.message, "status": exc.status})
    return json_response(_answer(result))


# The images a playground message may carry: a URL the provider fetches, the bytes as a data URL,
# or a file of this project's traces (Langfuse's media reference), sent as a data URL.
_IMAGE_REF = re.compile(r"@@@langfuseMedia:type=(image/[\w.+-]+)\|id=([A-Za-z0-9_-]+)\|source=[^@]*@@@")
_IMAGE_DATA = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+")
MAX_IMAGES = 10  # in a run, all messages together
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # what OpenAI takes per image
MAX_FILE_BYTES = 40 * 1024 * 1024  # the project's files a run reads into memory, together


MAX_TOOLS = 64
_TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # what OpenAI and Anthropic both take


class PlaygroundToolCall(BaseModel):
    """A tool call an assistant message made: the arguments as the JSON text the model wrote."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    name: str = Field(pattern=_TOOL_NAME)
    arguments: str = Field("{}", max_length=100_000)


class PlaygroundTool(BaseModel):
    """A function the model may call: its name, what it does, its parameters' JSON schema."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_TOOL_NAME)
    description: str = Field("", max_length=10_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("parameters")
    @classmethod
    def _an_object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type", "object") != "object":
            raise ValueError("a tool's parameters are a JSON schema of type object")
        return schema


class PlaygroundMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str = Field(max_length=500_000)
    images: list[str] = Field(default_factory=list, max_length=MAX_IMAGES, description="A user message's images.")
    tool_calls: list[PlaygroundToolCall] = Field(
        default_factory=list, max_length=MAX_TOOLS, description="An assistant message's calls of tools."
    )
    tool_call_id: str | None = Field(None, min_length=1, max_length=200, description="A tool result: the call's id.")

    @field_validator("images")
    @classmethod
    def _check_images(cls, images: list[str]) -> list[str]:
        for image in images:
            url = (
                image.startswith(("https://", "http://")) and len(image) <= 4096 and not any(c.isspace() for c in image)
            )
            if not (url or _IMAGE_REF.fullmatch(image) or _IMAGE_DATA.fullmatch(image)):
                raise ValueError(
                    f"an image is an http(s) URL, a data:image/...;base64 URL or a media reference, not {image[:40]!r}"
                )
        return images

    @model_validator(mode="after")
    def _in_their_roles(self) -> PlaygroundMessage:
        if self.images and self.role != "user":
            raise ValueError(f"images go in user messages, not in a {self.role} message")
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"tool calls go in assistant messages, not in a {self.role} message")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message (a tool's result) has the tool_call_id of its call, and only it")
        return self

    def openai(self, text: dict[str, Any]) -> dict[str, Any]:
        """This message in OpenAI's shape, with ``text`` (its role and content, variables filled)."""
        if self.role == "tool":
            return {**text, "tool_call_id": self.tool_call_id}
        if self.tool_calls:
            calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                     for c in self.tool_calls]  # fmt: skip
            return {**text, "content": text["content"] or None, "tool_calls": calls}
        return text


class PlaygroundParams(BaseModel):
    """The sampling parameters every provider takes; others would be refused by some of them."""

    model_config = ConfigDict(extra="forbid")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    top_p: float | None = Field(None, ge=0, le=1)


class PlaygroundRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(min_length=1, max_length=200, description="The model connection's name.")
    model: str = Field(min_length=1, max_length=200)
    messages: list[PlaygroundMessage] = Field(min_length=1, max_length=200)
    variables: dict[str, str] = Field(default_factory=dict, description="Values of the {{variables}}.")
    params: PlaygroundParams = Field(default_factory=PlaygroundParams)
    tools: list[PlaygroundTool] = Field(default_factory=list, max_length=MAX_TOOLS, description="Functions to offer.")
    stream: bool = Field(
        False,
        description="Answer as NDJSON lines while the model writes: {type: text, text} for each piece, then "
        "the answer ({type: done, ...}) or the provider's error ({type: error, ...}).",
    )

    @model_validator(mode="after")
    def _within_bounds(self) -> PlaygroundRun:
        if sum(len(m.images) for m in self.messages) > MAX_IMAGES:
            raise ValueError(f"a run sends at most {MAX_IMAGES} images")
        if len({t.name for t in self.tools}) < len(self.tools):
            raise ValueError("each tool has a name of its own")
        return self


async def ui_playground(request: web.Request) -> web.StreamResponse:
    """Messages (with their ``{{variables}}`` filled) sent to a model through one of the project's
    connections: its answer, or the provider's error (``ok: false``), as the connection test does.
    Nothing is stored: a run is a try, not a trace."""
    caller = await caller_for(request, request.app[STORE_KEY])
    caller.require(Permission.WRITE_CONTENT, "run models in the playground")
    run: PlaygroundRun = await read_model(request, PlaygroundRun)
    texts = compile_prompt([m.model_dump() for m in run.messages], run.variables)
    store: Store = request.app[STORE_KEY]
    messages: list[dict[str, Any]] = []
    budget = [MAX_FILE_BYTES]
    for text, message in zip(texts, run.messages, strict=True):
        if not message.images:
            messages.append(message.openai(text))
            continue
        urls = [await _image_url(store, caller.project_id, image, budget) for image in message.images]
        parts = [{"type": "text", "text": text["content"]}] if text["content"] else []
        messages.append({**text, "content": parts + [{"type": "image_url", "image_url": {"url": u}} for u in urls]})
    # What was sent, with its images as they were given (not the bytes of the files they name).
    sent = [
        {**text, "images": m.images} if m.images else m.openai(text)
        for text, m in zip(texts, run.messages, strict=True)
    ]
    params: dict[str, Any] = run.params.model_dump(exclude_none=True)
    if run.tools:  # in OpenAI's shape; llm.client gives Anthropic its own
        params["tools"] = [{"type": "function", "function": t.model_dump()} for t in run.tools]
    connections: ConnectionService = request.app[CONNECTIONS_KEY]
    if run.stream:
        return await _streamed(request, connections, caller.project_id, run, messages, params, sent)
    try:
        result = await connections.run(caller.project_id, run.provider, run.model, messages, params)
    except ModelError as exc:
        return json_response({"ok": False, "error": exc.message, "status": exc.status, "messages": sent})
    return json_response({**_answer(result), "messages": sent})


async def _streamed(
    request: web.Request,
    connections: ConnectionService,
    project: str,
    run: PlaygroundRun,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    sent: list[dict[str, Any]],
) -> web.StreamResponse:
    """The playground's run as NDJSON lines, the model's text as it comes (``stream: true``)."""
    await connections.open(project, run.provider)  # an unknown connection is a 404, before any line
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"})
    await response.prepare(request)

    async def line(doc: dict[str, Any]) -> None:
        await response.write(orjson.dumps(doc) + b"\n")

    async def piece(text: str) -> None:
        await line({"type": "text", "text": text})

    try:
        try:
            result = await connections.run(project, run.provider, run.model, messages, params, on_text=piece)
        except ModelError as exc:
            await line({"type": "error", "ok": False, "error": exc.message, "status": exc.status, "messages": sent})
        else:
            await line({"type": "done", **_answer(result), "messages": sent})
        await response.write_eof()
    except ConnectionResetError:
        pass  # the page went away: the model's call ended with it (its text had nowhere to go)
    return response


async def _image_url(store: Store, project: str, image: str, budget: list[int]) -> str:
    """The URL a provider gets for a playground image: a media reference becomes the file's bytes
    (this project's files only: another's is NotFound, as for any unknown id), within ``budget``."""
    ref = _IMAGE_REF.fullmatch(image)
    if ref is None:
        return image
    record = await store.media.get(project, ref[2])
    files = store.media.files
    if record.uploaded_at is None or files is None:
        raise InvalidInput(f"the image {ref[2]} was never uploaded: its trace names it, but its bytes are not here")
    if record.content_length > MAX_IMAGE_BYTES:
        raise InvalidInput(f"the image {ref[2]} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    budget[0] -= record.content_length
    if budget[0] < 0:
        raise InvalidInput(f"a run sends at most {MAX_FILE_BYTES // (1024 * 1024)} MiB of the project's files")
    data = b"".join([chunk async for chunk in files.read(project, record.id)])
    return f"data:{record.content_type};base64,{base64.b64encode(data).decode()}"


async def ui_start_experiment(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.WRITE_CONTENT, "run experiments")
    progress = await request.app[RUNNER_KEY].start(caller.project_id, await _body(request))
    return json_response(progress.json(), status=202)


async def ui_experiments(request: web.Request) -> web.Response:
    """Experiments the server ran or runs on a dataset, with their progress."""
    store: Store = request.app[STORE_KEY]
    caller = await caller_for(request, store)
    caller.require(Permission.VIEW_DATA, "read datasets")
    try:
        dataset = await request.app[DATASETS_KEY].dataset(caller.project_id, request.query.get("name", ""))
    except NotFound:
        raise
    items = await request.app[RUNNER_KEY].progress(caller.project_id, dataset.id)
    # The items' failures were stored in English (the model's answers): in the reader's language.
    locale = preferred_locale(request.headers.get("Accept-Language"))
    for item in items:
        item["errors"] = [localize(e, locale) for e in item.get("errors", [])]
    return json_response({"items": items})


def llm_routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/llm-connections", public_list),
        web.put(f"{PREFIX}/llm-connections", public_put),
        web.delete(f"{PREFIX}/llm-connections/{{id}}", public_delete),
        web.get("/api/v1/llm-connections", ui_list),
        web.put("/api/v1/llm-connections", ui_put),
        web.delete("/api/v1/llm-connections", ui_delete),
        web.post("/api/v1/llm-connections/test", ui_test),
        web.post("/api/v1/playground", ui_playground),
        web.post("/api/v1/dataset/experiments", ui_start_experiment),
        web.get("/api/v1/dataset/experiments", ui_experiments),
    ]
