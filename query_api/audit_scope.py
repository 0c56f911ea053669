"""Which project or organization a request changes, as its handler resolved it: the audit log's
middleware (query_api.audit_api) reads it once the change has succeeded."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["AuditScope", "note_actor", "note_detail", "note_scope", "noted_scope"]


@dataclass
class AuditScope:
    project_id: str = ""
    organization_id: str = ""
    details: dict[str, str] = field(default_factory=dict)  # what the route's parameters do not say
    # The person who made the change, (user id, email): the one a session belongs to (noted when
    # the handler checks it), or the one a link names (an invitation accepted).
    actor: tuple[str, str] | None = None


_KEY = web.RequestKey("audit_scope", AuditScope)


def _noted(request: web.Request) -> AuditScope:
    if _KEY not in request:
        request[_KEY] = AuditScope()
    return request[_KEY]


def note_scope(request: web.Request, project_id: str = "", organization_id: str = "") -> None:
    """Say which project (and organization) this request is about; the last call wins."""
    noted = _noted(request)
    noted.project_id, noted.organization_id = project_id, organization_id


def note_detail(request: web.Request, **details: str) -> None:
    """Name what the change made or touched beyond its route's parameters (a new key's public
    key, a new project's name, an invited email). Never a secret."""
    _noted(request).details.update({k: str(v) for k, v in details.items()})


def note_actor(request: web.Request, user_id: str, email: str) -> None:
    """Name the person who made this change (a session's, or a link's for a request without one)."""
    _noted(request).actor = (user_id, email)


def noted_scope(request: web.Request) -> AuditScope:
    """What handlers noted (a copy; empty if nothing)."""
    if _KEY not in request:
        return AuditScope()
    noted = request[_KEY]
    return AuditScope(noted.project_id, noted.organization_id, dict(noted.details), noted.actor)
