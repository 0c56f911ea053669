"""The rules a prompt version must keep (Langfuse's, so that its SDKs and users meet no surprise).

Every check raises ``PromptRuleError`` with the field it is about, which the API answers as
Langfuse's 400 ``{"message": "Invalid request data", "error": [issues]}``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tracehouse.errors import NotFound

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "LATEST",
    "PRODUCTION",
    "PROTECTED_LABELS",
    "PromptRuleError",
    "check_chat",
    "check_commit_message",
    "check_labels",
    "check_name",
    "check_tags",
    "labels_of",
    "pick_version",
    "placeholders",
    "retagged",
    "variables",
]

LATEST = "latest"
PRODUCTION = "production"
# Labels only ADMIN and above may move (tracehouse.roles: MANAGE_PROTECTED_LABELS).
PROTECTED_LABELS = frozenset({PRODUCTION})

_LABEL = re.compile(r"^[a-z0-9_\-.]+$")
_RESERVED_NAMES = frozenset({"new", "metrics", "prompt-detail"})
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_NAME = 500
MAX_LABEL = 36
MAX_COMMIT_MESSAGE = 500
MAX_TAGS = 50
MAX_TAG = 100


class Labelled(Protocol):
    """A stored version of a prompt or a skill: its number and its own labels."""

    @property
    def version(self) -> int: ...

    @property
    def labels(self) -> tuple[str, ...]: ...


V = TypeVar("V", bound=Labelled)


def labels_of(version: Labelled, versions: Sequence[Labelled]) -> list[str]:
    """A version's labels, ``latest`` included on the newest version."""
    labels = list(version.labels)
    if versions and version.version == max(v.version for v in versions):
        labels.append(LATEST)
    return labels


def pick_version(versions: Sequence[V], version: int | None, label: str | None) -> V | None:
    """The version asked for: by number, else the newest with ``label`` (default ``production``)."""
    if version is not None:
        return next((v for v in versions if v.version == version), None)
    wanted = label or PRODUCTION
    return next((v for v in reversed(versions) if wanted in labels_of(v, versions)), None)


class PromptRuleError(ValueError):
    """A broken rule: ``path`` names the field, ``message`` says what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def issue(self) -> dict[str, Any]:
        """The error as one of Langfuse's validation issues."""
        return {"code": "custom", "path": [self.path], "message": self.message}


def check_name(name: Any) -> str:
    """A prompt name: folders are ``/``-separated segments, none empty; no ``|``; not reserved."""
    if not isinstance(name, str) or not name.strip():
        raise PromptRuleError("name", "a prompt needs a name")
    if len(name) > MAX_NAME:
        raise PromptRuleError("name", f"at most {MAX_NAME} characters")
    if "|" in name:
        raise PromptRuleError("name", "a prompt name may not contain '|'")
    if name in _RESERVED_NAMES:
        raise PromptRuleError("name", f"'{name}' is a reserved name")
    if any(not part.strip() for part in name.split("/")):
        raise PromptRuleError("name", "folders in a name may not be empty (no leading, trailing or double '/')")
    return name


def check_labels(labels: Any, field: str = "labels") -> list[str]:
    """Labels as given, deduplicated in order. ``latest`` is set automatically and refused here."""
    if labels is None:
        return []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise PromptRuleError(field, "expected a list of strings")
    out: list[str] = []
    for label in labels:
        if label == LATEST:
            raise PromptRuleError(field, "the 'latest' label is set automatically on the newest version")
        if len(label) > MAX_LABEL or not _LABEL.match(label):
            raise PromptRuleError(
                field, f"label {label!r}: lowercase letters, digits, '_', '-' and '.' only, at most {MAX_LABEL}"
            )
        if label not in out:
            out.append(label)
    return out


def check_tags(tags: Any) -> list[str] | None:
    """Tags as given (None: omitted, the previous version's are kept)."""
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
        raise PromptRuleError("tags", "expected a list of strings")
    if len(tags) > MAX_TAGS or any(not t.strip() or len(t) > MAX_TAG for t in tags):
        raise PromptRuleError("tags", f"at most {MAX_TAGS} tags of 1 to {MAX_TAG} characters")
    return sorted(set(tags))


Versioned = TypeVar("Versioned", bound="DataclassInstance")


def retagged(versions: Sequence[Versioned], tags: Any, missing: str) -> list[Versioned]:
    """Every version of a prompt or skill with ``tags`` (checked first), which are the prompt's or
    skill's own, the same on each; NotFound(``missing``) when there is no version."""
    checked = check_tags(tags)
    if checked is None:
        raise PromptRuleError("tags", "expected a list of strings (empty: no tags)")
    if not versions:
        raise NotFound(missing)
    return [dataclasses.replace(v, tags=tuple(checked)) for v in versions]


def check_commit_message(message: Any) -> str:
    if message is None:
        return ""
    if not isinstance(message, str) or len(message) > MAX_COMMIT_MESSAGE:
        raise PromptRuleError("commitMessage", f"a string of at most {MAX_COMMIT_MESSAGE} characters")
    return message


def check_chat(messages: Any) -> list[dict[str, Any]]:
    """A chat prompt: messages ``{role, content}`` and placeholders ``{type: "placeholder", name}``."""
    if not isinstance(messages, list):
        raise PromptRuleError("prompt", "a chat prompt is a list of messages")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise PromptRuleError(f"prompt.{i}", "a message is an object")
        if m.get("type") == "placeholder":
            name = m.get("name")
            if not isinstance(name, str) or not name.strip():
                raise PromptRuleError(f"prompt.{i}.name", "a placeholder needs a name")
            out.append({"type": "placeholder", "name": name})
            continue
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str) or not role.strip():
            raise PromptRuleError(f"prompt.{i}.role", "a message needs a role")
        if not isinstance(content, str):
            raise PromptRuleError(f"prompt.{i}.content", "a message's content is a string")
        out.append({"role": role, "content": content})
    return out


def variables(prompt: str | list[dict[str, Any]]) -> list[str]:
    """The ``{{variable}}`` names of a text or chat prompt, in order of first use."""
    texts = [prompt] if isinstance(prompt, str) else [m.get("content", "") for m in prompt if "role" in m]
    seen: list[str] = []
    for text in texts:
        for name in _VARIABLE.findall(text):
            if name not in seen:
                seen.append(name)
    return seen


def placeholders(prompt: str | list[dict[str, Any]]) -> list[str]:
    """The placeholder names of a chat prompt."""
    if isinstance(prompt, str):
        return []
    return [m["name"] for m in prompt if m.get("type") == "placeholder"]
