"""Model connections of a project: created or replaced by provider name (Langfuse's
``PUT /api/public/llm-connections``), listed without their secrets, tested with a real call, and
opened (decrypted) only inside this process to call the model."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import orjson

from credentials.secret_box import SecretBox
from llm.client import ChatResult, TextSink, chat
from storage import Store
from storage.llm_connections import LlmConnection
from tracehouse.errors import InvalidInput, NotFound

__all__ = ["ADAPTERS", "ConnectionService", "ConnectionView", "OpenedConnection"]

ADAPTERS = ("openai", "anthropic")
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1"}
DEFAULT_MODELS = {
    "openai": ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini"),
    "anthropic": ("claude-3-5-haiku-latest", "claude-sonnet-4-0"),
}


@dataclass(frozen=True)
class ConnectionView:
    """What any API shows of a connection: never the secret, only its last characters."""

    doc: dict[str, Any]


@dataclass(frozen=True)
class OpenedConnection:
    provider: str
    adapter: str
    base_url: str
    api_key: str
    headers: dict[str, str]
    models: tuple[str, ...]


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def view(c: LlmConnection) -> ConnectionView:
    return ConnectionView(
        {
            "id": c.id,
            "provider": c.provider,
            "adapter": c.adapter,
            "displaySecretKey": c.secret_hint,
            "baseURL": c.base_url or None,
            "customModels": list(c.custom_models),
            "withDefaultModels": c.with_default_models,
            "extraHeaderKeys": list(c.header_keys),
            "models": list(_models(c)),
            "createdAt": _iso(c.created_at),
            "updatedAt": _iso(c.updated_at),
        }
    )


def _models(c: LlmConnection) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys([*c.custom_models, *(DEFAULT_MODELS.get(c.adapter, ()) if c.with_default_models else ())])
    )


def _hint(secret: str) -> str:
    return f"...{secret[-4:]}" if len(secret) > 8 else "..."


class ConnectionService:
    def __init__(self, store: Store, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def list(self, project: str) -> list[ConnectionView]:
        return [view(c) for c in await self._store.llm_connections.list(project)]

    async def put(self, project: str, body: Any) -> ConnectionView:
        """Create or replace the connection of ``body["provider"]``. An omitted secret keeps the
        stored one (the UI edits a connection without showing its key)."""
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object")
        provider = body.get("provider")
        if not isinstance(provider, str) or not provider.strip() or len(provider) > 100:
            raise InvalidInput("provider: a name of 1 to 100 characters")
        adapter = str(body.get("adapter") or "openai").lower()
        if adapter not in ADAPTERS:
            raise InvalidInput(f"adapter: one of {', '.join(ADAPTERS)} (OpenAI-compatible APIs use openai)")
        base_url = body.get("baseURL") or body.get("baseUrl") or ""
        if not isinstance(base_url, str) or (base_url and urlparse(base_url).scheme not in ("http", "https")):
            raise InvalidInput("baseURL: an http(s) URL, e.g. https://api.deepseek.com/v1")
        models = body.get("customModels") or []
        if not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models):
            raise InvalidInput("customModels: a list of model names")
        headers = body.get("extraHeaders")
        if headers is not None and (
            not isinstance(headers, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise InvalidInput("extraHeaders: an object of header names to string values")
        existing = await self._store.llm_connections.list(project, provider)
        secret = body.get("secretKey")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise InvalidInput("secretKey: a non-empty string")
        if secret is None and not existing:
            raise InvalidInput("secretKey: required for a new connection")
        now = dt.datetime.now(dt.UTC)
        old = existing[0] if existing else None
        connection = LlmConnection(
            project_id=project,
            id=old.id if old else str(uuid.uuid4()),
            provider=provider,
            adapter=adapter,
            base_url=base_url.rstrip("/"),
            secret_sealed=self._box.seal(secret) if secret else (old.secret_sealed if old else ""),
            secret_hint=_hint(secret) if secret else (old.secret_hint if old else ""),
            custom_models=tuple(m.strip() for m in models),
            with_default_models=bool(body.get("withDefaultModels", True)),
            headers_sealed=self._box.seal(orjson.dumps(headers).decode())
            if headers
            else (old.headers_sealed if old and headers is None else ""),
            header_keys=tuple(sorted(headers)) if headers else (old.header_keys if old and headers is None else ()),
            created_at=old.created_at if old else now,
            updated_at=now,
        )
        return view(await self._store.llm_connections.put(connection))

    async def delete(self, project: str, provider: str) -> None:
        found = await self._store.llm_connections.list(project, provider)
        if not found:
            raise NotFound(f"no model connection named {provider!r}")
        await self._store.llm_connections.put(found[0], deleted=True)

    async def open(self, project: str, provider: str) -> OpenedConnection:
        """A connection with its secrets, for a call made by this process."""
        found = await self._store.llm_connections.list(project, provider)
        if not found:
            raise NotFound(f"no model connection named {provider!r}")
        c = found[0]
        headers = orjson.loads(self._box.open(c.headers_sealed)) if c.headers_sealed else {}
        base_url = c.base_url or DEFAULT_BASE_URLS[c.adapter]
        return OpenedConnection(c.provider, c.adapter, base_url, self._box.open(c.secret_sealed), headers, _models(c))

    async def run(
        self,
        project: str,
        provider: str,
        model: str,
        messages: builtins.list[dict[str, Any]],
        params: dict[str, Any],
        on_text: TextSink | None = None,
    ) -> ChatResult:
        """One call through the project's connection ``provider`` (the playground's): the model's
        answer, or ModelError with the provider's message; NotFound for an unknown connection.
        ``on_text``: stream the answer's text to it as it comes."""
        c = await self.open(project, provider)
        return await chat(c.adapter, c.base_url, c.api_key, model, messages, c.headers, params, on_text=on_text)

    async def test(self, project: str, provider: str, model: str) -> ChatResult:
        """A real call: the model's answer to a short question, or ModelError with its message."""
        c = await self.open(project, provider)
        messages = [{"role": "user", "content": "Reply with the single word: ok"}]
        return await chat(c.adapter, c.base_url, c.api_key, model, messages, c.headers, {"max_tokens": 5})
