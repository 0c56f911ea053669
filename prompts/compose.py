"""Prompt composition: ``@@@langfusePrompt:name=X|version=N@@@`` (or ``|label=L``) inside a prompt's
text is replaced by the referenced text prompt, itself resolved, at most ``MAX_DEPTH`` deep.

References are checked when a version is created (the referenced prompt exists and is a text
prompt, no cycle, not too deep) and resolved when it is read, so a reference by label follows
the label as it moves.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prompts.rules import PromptRuleError

__all__ = ["MAX_DEPTH", "Reference", "Resolved", "references", "resolve"]

MAX_DEPTH = 5
_TAG = re.compile(r"@@@langfusePrompt:(.*?)@@@")


@dataclass(frozen=True)
class Reference:
    """One reference: by ``version`` or by ``label``."""

    name: str
    version: int | None = None
    label: str | None = None

    def describe(self) -> str:
        return f"{self.name} version {self.version}" if self.version is not None else f"{self.name} label {self.label}"


@dataclass(frozen=True)
class Target:
    """What a reference found: the referenced version's id, version, type and stored prompt."""

    id: str
    name: str
    version: int
    type: str
    prompt: Any


Lookup = Callable[[Reference], Awaitable[Target | None]]


@dataclass
class Resolved:
    prompt: Any
    graph: dict[str, Any] | None


def _parse(body: str) -> Reference | None:
    parts = body.split("|")
    if len(parts) != 2 or not parts[0].startswith("name=") or not parts[0][5:]:
        return None
    name = parts[0][5:]
    key, _, value = parts[1].partition("=")
    if key == "version" and value.isdigit():
        return Reference(name, version=int(value))
    if key == "label" and value:
        return Reference(name, label=value)
    return None


def references(prompt: Any) -> list[Reference]:
    """The well-formed references of a text or chat prompt (malformed tags stay text)."""
    texts = [prompt] if isinstance(prompt, str) else [m.get("content", "") for m in prompt if isinstance(m, dict)]
    found: list[Reference] = []
    for text in texts:
        for body in _TAG.findall(text if isinstance(text, str) else ""):
            ref = _parse(body)
            if ref is not None and ref not in found:
                found.append(ref)
    return found


async def resolve(root_name: str, root: Target | None, prompt: Any, lookup: Lookup) -> Resolved:
    """``prompt`` with every reference replaced, and Langfuse's ``resolutionGraph`` (None without
    references). ``root`` is the version being read, or None for one being created (then every
    reference is checked, and a reference back to ``root_name`` is a cycle).
    PromptRuleError for a missing, non-text or cyclic reference, or one nested too deep."""
    graph: dict[str, list[dict[str, Any]]] = {}
    root_key = root.id if root else "new"

    async def expand(text: str, parent_key: str, path: tuple[str, ...], depth: int) -> str:
        refs = [r for r in references(text)]
        if not refs:
            return text
        if depth > MAX_DEPTH:
            raise PromptRuleError("prompt", f"prompt references are nested more than {MAX_DEPTH} deep")
        replacements: dict[str, str] = {}
        for ref in refs:
            if ref.name in path:
                raise PromptRuleError("prompt", f"circular prompt reference: {' -> '.join((*path, ref.name))}")
            target = await lookup(ref)
            if target is None:
                raise PromptRuleError("prompt", f"referenced prompt not found: {ref.describe()}")
            if target.type != "text" or not isinstance(target.prompt, str):
                raise PromptRuleError("prompt", f"referenced prompt {ref.describe()} is not a text prompt")
            graph.setdefault(parent_key, []).append({"id": target.id, "name": target.name, "version": target.version})
            inner = await expand(target.prompt, target.id, (*path, ref.name), depth + 1)
            tag = f"name={ref.name}|" + (f"version={ref.version}" if ref.version is not None else f"label={ref.label}")
            replacements[tag] = inner

        def substitute(m: re.Match[str]) -> str:
            return replacements.get(m.group(1), m.group(0))

        return _TAG.sub(substitute, text)

    path = (root_name,)
    if isinstance(prompt, str):
        resolved: Any = await expand(prompt, root_key, path, 1)
    else:
        resolved = []
        for m in prompt:
            if "content" in m and isinstance(m["content"], str):
                resolved.append({**m, "content": await expand(m["content"], root_key, path, 1)})
            else:
                resolved.append(m)
    if not graph:
        return Resolved(resolved, None)
    root_ref = {"id": root.id, "name": root.name, "version": root.version} if root else {"name": root_name}
    return Resolved(resolved, {"root": root_ref, "dependencies": graph})
