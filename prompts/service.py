"""Prompt management: create versions, read by version or label, move labels, delete, list.

The API layers (Langfuse's v2 and v1 routes, the UI's REST routes) call this and only turn its
answers and errors into HTTP. Reads are served from a short cache per project that every write of
this process clears at once; another process's writes are seen within ``CACHE_TTL_S``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from prompts.compose import Reference, Resolved, Target, resolve
from prompts.rules import (
    PRODUCTION,
    PROTECTED_LABELS,
    PromptRuleError,
    check_chat,
    check_commit_message,
    check_labels,
    check_name,
    check_tags,
    labels_of,
    pick_version,
    placeholders,
    retagged,
    variables,
)
from storage import Store
from storage.prompts import PromptVersion
from tracehouse.errors import Conflict, NotFound
from tracehouse.ttl_cache import TtlCache

__all__ = ["CACHE_TTL_S", "NewPrompt", "PromptConflict", "PromptService", "ServedPrompt"]

# How long another process's prompt writes may take to be seen here (this process's are at once).
CACHE_TTL_S = 2.0
# Attempts at the next version number before a create gives up with a retryable conflict.
CLAIM_ATTEMPTS = 3


class PromptConflict(Conflict):
    """Another create of the same prompt won the version number: retry (409 with Retry-After)."""


@dataclass(frozen=True)
class NewPrompt:
    name: str
    type: str
    prompt: Any
    config: Any
    labels: list[str]
    tags: list[str] | None
    commit_message: str


@dataclass(frozen=True)
class ServedPrompt:
    """A prompt version as served: JSON document, ETag, and when it last changed."""

    doc: dict[str, Any]
    etag: str
    last_modified: dt.datetime


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_new(body: Any) -> NewPrompt:
    """A create request body, checked (PromptRuleError otherwise)."""
    if not isinstance(body, dict):
        raise PromptRuleError("body", "expected a JSON object")
    name = check_name(body.get("name"))
    kind = body.get("type") or "text"
    if kind not in ("text", "chat"):
        raise PromptRuleError("type", "either 'text' or 'chat'")
    raw = body.get("prompt")
    if kind == "text":
        if not isinstance(raw, str):
            raise PromptRuleError("prompt", "a text prompt is a string")
        prompt: Any = raw
    else:
        prompt = check_chat(raw)
    clash = set(variables(prompt)) & set(placeholders(prompt))
    if clash:
        raise PromptRuleError("prompt", f"a variable and a placeholder share a name: {', '.join(sorted(clash))}")
    config = body.get("config")
    return NewPrompt(
        name=name,
        type=kind,
        prompt=prompt,
        config={} if config is None else config,
        labels=check_labels(body.get("labels")),
        tags=check_tags(body.get("tags")),
        commit_message=check_commit_message(body.get("commitMessage")),
    )


class PromptService:
    """The prompts of every project, on one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache = TtlCache(CACHE_TTL_S)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def invalidate(self) -> None:
        """Forget cached reads (after a write)."""
        self._cache.clear()

    async def _all(self, project: str) -> list[PromptVersion]:
        async def load() -> list[PromptVersion]:
            return await self._store.prompts.versions(project)

        rows: list[PromptVersion] = await self._cache.get("versions", project, load)
        return rows

    async def versions(self, project: str, name: str) -> list[PromptVersion]:
        """Every version of a prompt, oldest first (empty if there is none)."""
        return [v for v in await self._all(project) if v.name == name]

    labels_of = staticmethod(labels_of)

    async def find(
        self, project: str, name: str, version: int | None = None, label: str | None = None
    ) -> tuple[PromptVersion, list[PromptVersion]]:
        """The version asked for (by number, by label, or the ``production`` one) and all of them;
        NotFound otherwise."""
        versions = await self.versions(project, name)
        found = pick_version(versions, version, label)
        if found is None:
            what = f"version {version}" if version is not None else f"label {label or PRODUCTION}"
            raise NotFound(f"Prompt not found: '{name}' with {what}")
        return found, versions

    async def _lookup(self, project: str, ref: Reference) -> Target | None:
        try:
            v, _ = await self.find(project, ref.name, ref.version, ref.label if ref.version is None else None)
        except NotFound:
            return None
        return Target(v.id, v.name, v.version, v.type, orjson.loads(v.prompt))

    async def resolved(self, project: str, v: PromptVersion) -> Resolved:
        """A version's prompt with its references resolved, and the resolution graph."""
        target = Target(v.id, v.name, v.version, v.type, orjson.loads(v.prompt))
        return await resolve(v.name, target, target.prompt, lambda ref: self._lookup(project, ref))

    def document(
        self, v: PromptVersion, versions: Sequence[PromptVersion], resolved: Resolved | None = None
    ) -> dict[str, Any]:
        """Langfuse's JSON of a prompt version."""
        labels = self.labels_of(v, versions)
        return {
            "id": v.id,
            "createdAt": _iso(v.created_at),
            "updatedAt": _iso(v.updated_at),
            "projectId": v.project_id,
            "createdBy": v.created_by,
            "name": v.name,
            "version": v.version,
            "type": v.type,
            "prompt": resolved.prompt if resolved else orjson.loads(v.prompt),
            "config": orjson.loads(v.config),
            "labels": labels,
            "tags": list(v.tags),
            "commitMessage": v.commit_message or None,
            "resolutionGraph": resolved.graph if resolved else None,
            "isActive": PRODUCTION in labels,
        }

    async def serve(
        self, project: str, name: str, version: int | None, label: str | None, resolve_refs: bool = True
    ) -> ServedPrompt:
        """A version as the SDKs fetch it, with an ETag and Last-Modified for conditional GETs."""
        v, versions = await self.find(project, name, version, label)
        resolved = await self.resolved(project, v) if resolve_refs else None
        doc = self.document(v, versions, resolved)
        body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        # The newest change among the version and the prompts it resolved through.
        changed = max(x.updated_at for x in versions)
        return ServedPrompt(doc, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', changed)

    async def create(self, project: str, new: NewPrompt, created_by: str) -> dict[str, Any]:
        """A new version (the newest number + 1). PromptRuleError for a broken rule; PromptConflict
        when concurrent creates kept winning the number."""
        lock = self._locks.setdefault((project, new.name), asyncio.Lock())
        async with lock:
            for _ in range(CLAIM_ATTEMPTS):
                self.invalidate()  # read the newest state: another process may have written
                versions = await self._store.prompts.versions(project, new.name)
                if versions and versions[-1].type != new.type:
                    raise PromptRuleError(
                        "type", f"prompt '{new.name}' is a {versions[-1].type} prompt; a version cannot change it"
                    )
                # References must exist, be text prompts, and make no cycle (checked before writing).
                await resolve(new.name, None, new.prompt, lambda ref: self._lookup(project, ref))
                # Above every number claimed: a deleted newest version's number is taken for good.
                claimed = await self._store.prompts.last_claimed(project, new.name)
                number = max(claimed, max((v.version for v in versions), default=0)) + 1
                if not await self._store.prompts.claim(project, new.name, number):
                    continue
                return await self._write_new(project, new, number, versions, created_by)
        raise PromptConflict(
            f"another version of prompt '{new.name}' was created at the same time; retry the request", retry_after_s=1
        )

    async def _write_new(
        self, project: str, new: NewPrompt, number: int, versions: list[PromptVersion], created_by: str
    ) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        tags = tuple(new.tags) if new.tags is not None else (versions[-1].tags if versions else ())
        row = PromptVersion(
            project_id=project,
            name=new.name,
            version=number,
            id=str(uuid.uuid4()),
            type=new.type,
            prompt=orjson.dumps(new.prompt).decode(),
            config=orjson.dumps(new.config).decode(),
            labels=tuple(new.labels),
            tags=tags,
            commit_message=new.commit_message,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        changed = [row]
        for v in versions:
            # Labels move to the new version; tags are the prompt's, the same on every version.
            labels = tuple(x for x in v.labels if x not in new.labels)
            if labels != v.labels or v.tags != tags:
                changed.append(PromptVersion(**{**v.__dict__, "labels": labels, "tags": tags}))
        written = await self._store.prompts.write(changed)
        self.invalidate()
        all_versions = sorted([written[0], *versions], key=lambda v: v.version)
        return self.document(written[0], all_versions)

    async def set_labels(
        self, project: str, name: str, version: int, new_labels: list[str], replace: bool = False
    ) -> dict[str, Any]:
        """Add labels to one version and take them from every other (PATCH newLabels); with
        ``replace``, the version's labels become exactly ``new_labels``."""
        v, versions = await self.find(project, name, version=version)
        changed = []
        for other in versions:
            if other.version == version:
                labels = tuple(new_labels) if replace else tuple(dict.fromkeys([*other.labels, *new_labels]))
            else:
                labels = tuple(x for x in other.labels if x not in new_labels)
            if labels != other.labels:
                changed.append(PromptVersion(**{**other.__dict__, "labels": labels}))
        written = {w.version: w for w in await self._store.prompts.write(changed)}
        self.invalidate()
        current = [written.get(o.version, o) for o in versions]
        return self.document(written.get(version, v), current)

    async def set_tags(self, project: str, name: str, tags: Any) -> dict[str, Any]:
        """The prompt's tags become ``tags`` on every version; the newest version's document."""
        versions = retagged(await self.versions(project, name), tags, f"Prompt not found: '{name}'")
        written = await self._store.prompts.write(versions)
        self.invalidate()
        return self.document(written[-1], written)

    @staticmethod
    def protected_changes(versions: Sequence[PromptVersion], version: int, new_labels: Sequence[str]) -> set[str]:
        """The protected labels a label change would add to or take from a version."""
        moved = set(new_labels) & PROTECTED_LABELS
        return {label for label in moved if not any(v.version == version and label in v.labels for v in versions)}

    async def delete(self, project: str, name: str, version: int | None = None, label: str | None = None) -> int:
        """Delete a prompt (every version), or one version by number or label; how many went."""
        versions = await self.versions(project, name)
        if version is not None:
            doomed = [v for v in versions if v.version == version]
        elif label is not None:
            doomed = [v for v in versions if label in self.labels_of(v, versions)]
        else:
            doomed = versions
        if not doomed:
            raise NotFound(f"Prompt not found: '{name}'")
        await self._store.prompts.write(doomed, deleted=True)
        self.invalidate()
        return len(doomed)

    async def summaries(self, project: str) -> list[dict[str, Any]]:
        """One entry per prompt: name, type, versions, labels, tags, last change and config."""
        by_name: dict[str, list[PromptVersion]] = {}
        for v in await self._all(project):
            by_name.setdefault(v.name, []).append(v)
        out = []
        for name, versions in sorted(by_name.items()):
            newest = versions[-1]
            labels = sorted({label for v in versions for label in self.labels_of(v, versions)})
            out.append(
                {
                    "name": name,
                    "type": newest.type,
                    "versions": [v.version for v in versions],
                    "labels": labels,
                    "tags": list(newest.tags),
                    "lastUpdatedAt": _iso(max(v.updated_at for v in versions)),
                    "lastConfig": orjson.loads(newest.config),
                    "_versions": versions,
                }
            )
        return out
