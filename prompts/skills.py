"""Skill management (Langfuse's, 2026-11): versioned agent skills, each a root ``SKILL.md`` with a
YAML header (``name``, ``description``) and supporting text files.

A version is created from its complete set of files; the header's ``name`` picks the skill (a new
name starts at version 1). Files may be sent as text or named by the SHA-256 of a text stored in
the project before (base64, as the SDKs send it); a text is stored once per project whatever the
versions holding it. The newest version carries ``latest``; other labels (``production``, the one
fetched by default) move between versions as a prompt's do; tags are the skill's, on every version.
Broken rules raise ``PromptRuleError`` with the field, which the API answers as Langfuse's 400.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import mimetypes
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from prompts.rules import (
    PRODUCTION,
    PromptRuleError,
    check_commit_message,
    check_labels,
    labels_of,
    pick_version,
    retagged,
)
from storage import Store
from storage.skills import SkillVersion
from tracehouse.errors import Conflict, NotFound
from tracehouse.ttl_cache import TtlCache

__all__ = [
    "MAX_FILES",
    "MAX_TOTAL_BYTES",
    "SKILL_FILE",
    "NewSkill",
    "SkillConflict",
    "SkillService",
    "content_hash",
    "parse_new_skill",
]

SKILL_FILE = "SKILL.md"
MAX_FILES = 200
MAX_TOTAL_BYTES = 1_000_000
MAX_PATH = 512
MAX_NAME = 128
MAX_DESCRIPTION = 1024
MAX_HASHES = 50
CACHE_TTL_S = 2.0
CLAIM_ATTEMPTS = 3
# Files' texts kept in memory: a text never changes under its hash, so an agent fetching its skill
# on every run is answered without the store once (15-20 ms a read there).
TEXT_CACHE_BYTES = 64 * 1024 * 1024
TEXT_CACHE_LARGEST = 1024 * 1024  # a larger text is read from the store each time
_TYPES = {
    ".md": "text/markdown",
    ".py": "text/x-python",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".sh": "text/x-shellscript",
    ".ts": "text/typescript",
    ".js": "text/javascript",
}


class SkillConflict(Conflict):
    """Another create of the same skill won the version number: retry (409 with Retry-After)."""


@dataclass(frozen=True)
class FileIn:
    """A file of a new version: its text, or the hash of a text stored before."""

    path: str
    content: str | None
    sha256_hash: str | None


@dataclass(frozen=True)
class NewSkill:
    files: list[FileIn]
    commit_message: str
    labels: list[str]


def content_hash(text: str) -> str:
    """A text's canonical hash: base64 of the SHA-256 of its UTF-8 bytes."""
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _check_path(path: Any, field: str) -> str:
    if not isinstance(path, str) or not path:
        raise PromptRuleError(field, "a file needs a path")
    if len(path) > MAX_PATH:
        raise PromptRuleError(field, f"at most {MAX_PATH} characters")
    if path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise PromptRuleError(field, f"{path!r}: a relative POSIX path, without '.', '..', empty segments or '\\'")
    if any(ord(c) < 32 for c in path):
        raise PromptRuleError(field, f"{path!r}: no control characters")
    return path


def _check_hash(value: Any, field: str) -> str:
    try:
        ok = isinstance(value, str) and len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok or base64.b64encode(base64.b64decode(value)).decode() != value:
        raise PromptRuleError(field, "a canonical base64-encoded SHA-256 (44 characters)")
    return str(value)


def parse_new_skill(body: Any, labels_allowed: bool = False) -> NewSkill:
    """A create request body, checked (PromptRuleError otherwise). Langfuse's API takes no labels
    (they are set after); the UI's route may give them."""
    if not isinstance(body, dict):
        raise PromptRuleError("body", "expected a JSON object")
    files = body.get("files")
    if not isinstance(files, list) or not files:
        raise PromptRuleError("files", f"a list of files, {SKILL_FILE} among them")
    if len(files) > MAX_FILES:
        raise PromptRuleError("files", f"at most {MAX_FILES} files, {SKILL_FILE} included")
    out: list[FileIn] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise PromptRuleError(f"files.{i}", "a file is {path, content} or {path, sha256Hash}")
        path = _check_path(f.get("path"), f"files.{i}.path")
        if path in seen:
            raise PromptRuleError(f"files.{i}.path", f"{path!r} is given twice")
        seen.add(path)
        content = f.get("content")
        if content is not None:
            if not isinstance(content, str):
                raise PromptRuleError(f"files.{i}.content", "UTF-8 text")
            out.append(FileIn(path, content, None))
        elif "sha256Hash" in f:
            out.append(FileIn(path, None, _check_hash(f["sha256Hash"], f"files.{i}.sha256Hash")))
        else:
            raise PromptRuleError(f"files.{i}", "a file needs its content or the sha256Hash of a stored one")
    if SKILL_FILE not in seen:
        raise PromptRuleError("files", f"a skill needs a root {SKILL_FILE} with a YAML header (name, description)")
    labels = check_labels(body.get("labels")) if labels_allowed else []
    return NewSkill(out, check_commit_message(body.get("commitMessage")), labels)


def parse_header(text: str) -> tuple[str, str, dict[str, Any]]:
    """SKILL.md's YAML header: its name, description and every field (PromptRuleError otherwise)."""
    field = f"files.{SKILL_FILE}"
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        raise PromptRuleError(field, f"{SKILL_FILE} starts with a YAML header between '---' lines (name, description)")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise PromptRuleError(field, "the YAML header has no closing '---' line")
    try:
        header = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise PromptRuleError(field, f"the YAML header is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(header, dict):
        raise PromptRuleError(field, "the YAML header is a mapping with name and description")
    name, description = header.get("name"), header.get("description")
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise PromptRuleError(f"{field}.name", "the header names the skill: a string without surrounding spaces")
    if len(name) > MAX_NAME or "/" in name or any(ord(c) < 32 for c in name):
        raise PromptRuleError(f"{field}.name", f"at most {MAX_NAME} characters, no '/' or control characters")
    if not isinstance(description, str) or not description.strip():
        raise PromptRuleError(f"{field}.description", "the header describes the skill: a string")
    if len(description) > MAX_DESCRIPTION:
        raise PromptRuleError(f"{field}.description", f"at most {MAX_DESCRIPTION} characters")
    # Dates and other YAML types become JSON (their text) so that the header is served as sent.
    plain = orjson.loads(orjson.dumps(header, default=str, option=orjson.OPT_NON_STR_KEYS))
    return name, description, plain


def _content_type(path: str) -> str:
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot > path.rfind("/") else ""
    return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "text/plain"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SkillService:
    """The skills of every project, on one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache = TtlCache(CACHE_TTL_S)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._texts: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._text_bytes = 0

    def invalidate(self) -> None:
        """Forget cached reads (after a write)."""
        self._cache.clear()

    async def _texts_of(self, project: str, hashes: Sequence[str]) -> dict[str, str]:
        """Stored texts by hash (those the project lacks left out), from memory when read before."""
        out: dict[str, str] = {}
        missing: list[str] = []
        for digest in hashes:
            text = self._texts.get((project, digest))
            if text is None:
                missing.append(digest)
            else:
                self._texts.move_to_end((project, digest))
                out[digest] = text
        if missing:
            found = await self._store.skills.contents(project, missing)
            for digest, text in found.items():
                self._remember(project, digest, text)
            out.update(found)
        return out

    def _remember(self, project: str, digest: str, text: str) -> None:
        key = (project, digest)
        if key in self._texts or len(text) > TEXT_CACHE_LARGEST:
            return
        self._texts[key] = text
        self._text_bytes += len(text)
        while self._text_bytes > TEXT_CACHE_BYTES:
            _, dropped = self._texts.popitem(last=False)
            self._text_bytes -= len(dropped)

    async def _all(self, project: str) -> list[SkillVersion]:
        async def load() -> list[SkillVersion]:
            return await self._store.skills.versions(project)

        rows: list[SkillVersion] = await self._cache.get("skills", project, load)
        return rows

    async def versions(self, project: str, name: str) -> list[SkillVersion]:
        """Every version of a skill, oldest first (empty if there is none)."""
        return [v for v in await self._all(project) if v.name == name]

    labels_of = staticmethod(labels_of)

    async def find(
        self, project: str, name: str, version: int | None = None, label: str | None = None
    ) -> tuple[SkillVersion, list[SkillVersion]]:
        """The version asked for (by number, by label, or the ``production`` one) and all of them."""
        versions = await self.versions(project, name)
        found = pick_version(versions, version, label)
        if found is None:
            what = f"version {version}" if version is not None else f"label {label or PRODUCTION}"
            raise NotFound(f"Skill not found: '{name}' with {what}")
        return found, versions

    async def document(
        self, v: SkillVersion, versions: Sequence[SkillVersion], include_content: bool = False
    ) -> dict[str, Any]:
        """Langfuse's JSON of a skill version (its files' texts inline with ``include_content``)."""
        files: list[dict[str, Any]] = orjson.loads(v.files)
        texts = await self._texts_of(v.project_id, [f["sha256Hash"] for f in files]) if include_content else {}
        out_files = []
        for f in files:
            entry = {**f, "blobId": base64.b64decode(f["sha256Hash"]).hex()}
            if include_content:
                entry["content"] = texts.get(f["sha256Hash"], "")
            out_files.append(entry)
        return {
            "id": v.id,
            "createdAt": _iso(v.created_at),
            "updatedAt": _iso(v.updated_at),
            "projectId": v.project_id,
            "createdBy": v.created_by,
            "name": v.name,
            "description": v.description,
            "frontmatter": orjson.loads(v.frontmatter),
            "version": v.version,
            "tags": list(v.tags),
            "labels": self.labels_of(v, versions),
            "commitMessage": v.commit_message or None,
            "files": out_files,
        }

    async def create(self, project: str, new: NewSkill, created_by: str) -> dict[str, Any]:
        """A new version of the skill SKILL.md names (the newest number + 1). PromptRuleError for a
        broken rule; SkillConflict when concurrent creates kept winning the number."""
        referenced = [f.sha256_hash for f in new.files if f.sha256_hash is not None]
        stored = await self._texts_of(project, referenced)
        texts: dict[str, str] = {}
        manifest: list[dict[str, Any]] = []
        for i, f in enumerate(new.files):
            if f.content is not None:
                digest, text = content_hash(f.content), f.content
            else:
                assert f.sha256_hash is not None
                digest = f.sha256_hash
                if digest not in stored:
                    raise PromptRuleError(f"files.{i}.sha256Hash", f"no file of this project has the hash {digest}")
                text = stored[digest]
            texts[f.path] = text
            manifest.append(
                {
                    "id": str(uuid.uuid4()),
                    "path": f.path,
                    "sha256Hash": digest,
                    "contentType": _content_type(f.path),
                    "contentLength": len(text.encode()),
                }
            )
        if sum(m["contentLength"] for m in manifest) > MAX_TOTAL_BYTES:
            raise PromptRuleError("files", f"at most {MAX_TOTAL_BYTES:,} bytes of text per version")
        name, description, header = parse_header(texts[SKILL_FILE])
        # The texts first: a version row never names a text the store lacks.
        await self._store.skills.put_contents(
            project, {m["sha256Hash"]: texts[m["path"]] for m in manifest if m["sha256Hash"] not in stored}
        )
        lock = self._locks.setdefault((project, name), asyncio.Lock())
        async with lock:
            for _ in range(CLAIM_ATTEMPTS):
                self.invalidate()  # the newest state: another process may have written
                versions = await self._store.skills.versions(project, name)
                claimed = await self._store.skills.last_claimed(project, name)
                number = max(claimed, max((v.version for v in versions), default=0)) + 1
                if not await self._store.skills.claim(project, name, number):
                    continue
                now = dt.datetime.now(dt.UTC)
                tags = versions[-1].tags if versions else ()
                row = SkillVersion(
                    project_id=project,
                    name=name,
                    version=number,
                    id=str(uuid.uuid4()),
                    description=description,
                    frontmatter=orjson.dumps(header).decode(),
                    files=orjson.dumps(manifest).decode(),
                    labels=tuple(new.labels),
                    tags=tags,
                    commit_message=new.commit_message,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                )
                changed = [row]
                for v in versions:  # labels given move to the new version
                    labels = tuple(x for x in v.labels if x not in new.labels)
                    if labels != v.labels:
                        changed.append(SkillVersion(**{**v.__dict__, "labels": labels}))
                written = await self._store.skills.write(changed)
                self.invalidate()
                return await self.document(written[0], [*versions, written[0]])
        raise SkillConflict(
            f"another version of skill '{name}' was created at the same time; retry the request", retry_after_s=1
        )

    async def set_labels(self, project: str, name: str, version: int, labels: list[str]) -> dict[str, Any]:
        """The version's labels become exactly ``labels``, taken from every other version."""
        v, versions = await self.find(project, name, version=version)
        changed = []
        for other in versions:
            new = tuple(labels) if other.version == version else tuple(x for x in other.labels if x not in labels)
            if new != other.labels:
                changed.append(SkillVersion(**{**other.__dict__, "labels": new}))
        written = {w.version: w for w in await self._store.skills.write(changed)}
        self.invalidate()
        current = [written.get(o.version, o) for o in versions]
        return await self.document(written.get(version, v), current)

    async def set_tags(self, project: str, name: str, tags: Any) -> dict[str, Any]:
        """The skill's tags become ``tags`` on every version; the newest version's document."""
        versions = retagged(await self.versions(project, name), tags, f"Skill not found: '{name}'")
        written = await self._store.skills.write(versions)
        self.invalidate()
        return await self.document(written[-1], written)

    async def delete_version(self, project: str, name: str, version: int | None = None) -> int:
        """Delete one version (``latest`` falls to the one before), or with none the whole skill;
        how many versions went."""
        if version is None:
            doomed = await self.versions(project, name)
            if not doomed:
                raise NotFound(f"Skill not found: '{name}'")
        else:
            doomed = [(await self.find(project, name, version=version))[0]]
        await self._store.skills.write(doomed, deleted=True)
        self.invalidate()
        return len(doomed)

    async def contents(self, project: str, hashes: Sequence[str]) -> list[dict[str, str]]:
        """Stored texts by hash, in the order asked (NotFound for a hash the project lacks)."""
        if not hashes or len(hashes) > MAX_HASHES:
            raise PromptRuleError("sha256Hashes", f"one to {MAX_HASHES} comma-separated hashes")
        checked = [_check_hash(h, "sha256Hashes") for h in hashes]
        texts = await self._texts_of(project, list(dict.fromkeys(checked)))
        missing = [h for h in checked if h not in texts]
        if missing:
            raise NotFound(f"No skill file of this project has the hash {missing[0]}")
        return [{"sha256Hash": h, "content": texts[h]} for h in dict.fromkeys(checked)]

    async def summaries(self, project: str) -> list[dict[str, Any]]:
        """One entry per skill (Langfuse's SkillMeta), by name, with ``_versions`` for the UI."""
        by_name: dict[str, list[SkillVersion]] = {}
        for v in await self._all(project):
            by_name.setdefault(v.name, []).append(v)
        out = []
        for name, versions in sorted(by_name.items()):
            newest = versions[-1]
            production = next((v.version for v in versions if PRODUCTION in v.labels), None)
            out.append(
                {
                    "name": name,
                    "description": newest.description,
                    "tags": list(newest.tags),
                    "latestVersion": newest.version,
                    "latestVersionCreatedAt": _iso(newest.created_at),
                    "latestVersionLastUpdatedAt": _iso(newest.updated_at),
                    "productionVersion": production,
                    "_versions": versions,
                }
            )
        return out
