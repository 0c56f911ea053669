"""One-time links for people: invitations to an organization, and password resets by an admin.

``POST /api/v1/organizations/{org}/invitations`` makes a link (shown once, valid 7 days) that
lets its holder create an account, or join with the one they have; ``.../members/{user}/
password-reset`` makes a link (valid a day) that sets a new password. Anyone holding a link may
look at it and use it once: ``/api/v1/invitations/{token}`` and ``.../accept``. With a mail
server configured (``TRACEHOUSE_SMTP_URL``) the link is also emailed to its person.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from mail import Mail, Mailer, MailError, invitation_mail, reset_mail
from query_api.admin import PUBLIC_URL_KEY, STORE_KEY
from query_api.audit_scope import note_actor, note_detail, note_scope
from query_api.auth import USERS_KEY, refuse_passwords, start_session
from query_api.organizations_api import caller_in_organization, check_grant, parse_role_or_400, roles_for
from query_api.provisioning import grant_default_access
from query_api.requests import read_model
from query_api.responses import json_response
from storage import Store
from storage.invitations import INVITE, RESET, Invitation
from storage.users import Users
from tracehouse.errors import Forbidden, InvalidInput, NotFound
from tracehouse.roles import Permission, Role, allowed

__all__ = ["MAILER_KEY", "PUBLIC_URL_KEY", "invitation_routes", "join", "public_base"]

log = logging.getLogger(__name__)
MAILER_KEY = web.AppKey("mailer", Mailer)


class NewInvitation(BaseModel):
    email: str = Field(min_length=3, max_length=400)
    role: str = Field("MEMBER", description="The organization role; NONE with a project role for one project.")
    project_id: str = Field("", max_length=100)
    project_role: str = Field("", max_length=20)


class Acceptance(BaseModel):
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field("", max_length=200)


def public_base(request: web.Request) -> str:
    """The address people open the UI at: TRACEHOUSE_PUBLIC_URL, else this request's."""
    return request.app.get(PUBLIC_URL_KEY) or f"{request.scheme}://{request.host}"


def _link(request: web.Request, token: str) -> str:
    return f"{public_base(request)}/invite/{token}"


async def join(store: Store, user_id: str, inv: Invitation) -> None:
    """Give an account the roles of an invitation it accepted: its organization role unless it has
    one already, and its project role if it names a project."""
    current = (await store.organizations.roles_of(user_id)).organizations.get(inv.organization_id)
    if current is None or current == Role.NONE:
        await store.organizations.set_role(inv.organization_id, user_id, Role(inv.role))
    if inv.project_id:
        await store.organizations.set_project_role(inv.project_id, user_id, Role(inv.project_role))


async def _locale(request: web.Request, user_id: str) -> str:
    """The language of a mail: the person's chosen UI language, else the request's."""
    chosen = await request.app[USERS_KEY].locale(user_id)
    return chosen or request.headers.get("Accept-Language", "")


async def _deliver(request: web.Request, mail: Mail) -> dict[str, Any]:
    """Email the link if a mail server is configured. A failure is reported, not raised: the
    link exists and is shown, so whoever made it can pass it on themselves."""
    mailer = request.app.get(MAILER_KEY)
    if mailer is None:
        return {"emailed": False}
    try:
        await mailer.send(mail)
    except MailError as exc:
        log.warning("could not email a link to %s: %s", mail.to, exc)
        return {"emailed": False, "email_error": str(exc)}
    return {"emailed": True}


def _json(inv: Invitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "kind": inv.kind,
        "email": inv.email,
        "role": inv.role,
        "project_id": inv.project_id or None,
        "project_role": inv.project_role or None,
        "created_at": inv.created_at.isoformat(),
        "expires_at": inv.expires_at.isoformat(),
    }


async def create_invitation(request: web.Request) -> web.Response:
    store, user, org, caller = await caller_in_organization(request)
    body = await read_model(request, NewInvitation)
    role = parse_role_or_400(body.role)
    check_grant(caller, None, role)
    project_role = ""
    if body.project_id or body.project_role:
        if body.project_id not in {p.id for p in await store.organizations.projects_of(org.id)}:
            raise InvalidInput(f"no project {body.project_id!r} in this organization")
        project_role = parse_role_or_400(body.project_role or "MEMBER").value
        if project_role == Role.OWNER:
            raise InvalidInput("OWNER is an organization role; a project role is ADMIN, MEMBER, VIEWER or NONE")
    if role == Role.NONE and not project_role:
        raise InvalidInput("an invitation with organization role NONE needs a project and a project role")
    token, inv = await store.invitations.create(
        INVITE, org.id, body.email, role.value, user.id, project_id=body.project_id, project_role=project_role
    )
    note_detail(request, email=inv.email, role=inv.role)
    url = _link(request, token)
    mail = invitation_mail(
        inv.email, user.name or user.email, org.name, url, inv.expires_at, await _locale(request, user.id)
    )
    return json_response({**_json(inv), "url": url, **await _deliver(request, mail)}, status=201)


async def list_invitations(request: web.Request) -> web.Response:
    store, _, org, caller = await caller_in_organization(request)
    if not allowed(caller, Permission.MANAGE_MEMBERS):
        raise Forbidden(f"your role ({caller.value}) may not manage members")
    return json_response({"data": [_json(i) for i in await store.invitations.pending(org.id)]})


async def revoke_invitation(request: web.Request) -> web.Response:
    store, _, org, caller = await caller_in_organization(request)
    if not allowed(caller, Permission.MANAGE_MEMBERS):
        raise Forbidden(f"your role ({caller.value}) may not manage members")
    await store.invitations.revoke(org.id, request.match_info["invitation_id"])
    return web.Response(status=204)


async def create_reset(request: web.Request) -> web.Response:
    """A password-reset link for a member. The caller must manage members in every organization
    the member belongs to (and be an owner where the member is one): a reset hands over the account."""
    store, user, org, _ = await caller_in_organization(request)
    users: Users = request.app[USERS_KEY]
    target = await users.get(request.match_info["user_id"])
    if target is None or target.id not in {m.user_id for m in await store.organizations.members(org.id)}:
        raise NotFound(f"{request.match_info['user_id']!r} is not a member of this organization")
    if target.is_admin and not user.is_admin:
        raise Forbidden("only the instance admin may reset the instance admin's password")
    mine = await roles_for(request, user)
    theirs = await store.organizations.roles_of(target.id)
    projects = {p.id: p for p in await store.projects.list_projects()}
    scopes = [(o, r) for o, r in theirs.organizations.items()]
    scopes += [(projects[p].organization_id, r) for p, r in theirs.projects.items() if p in projects]
    for organization_id, role in scopes:
        check_grant(mine.organizations.get(organization_id, Role.NONE), role, role)
    token, inv = await store.invitations.create(RESET, org.id, target.email, "", user.id)
    url = _link(request, token)
    mail = reset_mail(inv.email, url, inv.expires_at, await _locale(request, target.id))
    return json_response({**_json(inv), "url": url, **await _deliver(request, mail)}, status=201)


async def show_invitation(request: web.Request) -> web.Response:
    """What a link is for, to whoever holds it: nothing about anyone else."""
    store = request.app[STORE_KEY]
    inv = await store.invitations.lookup(request.match_info["token"])
    org = await store.organizations.get_organization(inv.organization_id)
    exists = await request.app[USERS_KEY].find(inv.email) is not None
    return json_response({**_json(inv), "organization": {"id": org.id, "name": org.name}, "account_exists": exists})


async def accept_invitation(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    users: Users = request.app[USERS_KEY]
    token = request.match_info["token"]
    body = await read_model(request, Acceptance)
    inv = await store.invitations.lookup(token)
    if inv.kind == INVITE:
        refuse_passwords(request)  # then signing in with single sign-on accepts it
    account = await users.find(inv.email)
    # Check everything that can fail before the link is spent, so a typo does not burn it.
    if inv.kind == INVITE and account is not None:
        await users.authenticate(inv.email, body.password)
    elif not 8 <= len(body.password) <= 1000:
        raise InvalidInput("the password needs 8 to 1000 characters")
    if inv.kind == RESET and account is None:
        raise NotFound("the account of this link no longer exists")
    inv = await store.invitations.spend(token)
    if inv.kind == RESET:
        assert account is not None
        await users.set_password(account.id, body.password)
        return await start_session(request, account)
    created = account is None
    if account is None:
        account = await users.create(inv.email, body.name or inv.email, body.password)
    await join(store, account.id, inv)
    note_scope(request, inv.project_id, inv.organization_id)
    note_actor(request, account.id, account.email)
    note_detail(
        request, email=account.email, role=inv.role, **({"project_role": inv.project_role} if inv.project_role else {})
    )
    if created:
        await grant_default_access(request.app, store, account.id)
    return await start_session(request, account)


def invitation_routes() -> list[web.RouteDef]:
    base = "/api/v1/organizations/{organization}"
    return [
        web.post(base + "/invitations", create_invitation),
        web.get(base + "/invitations", list_invitations),
        web.delete(base + "/invitations/{invitation_id}", revoke_invitation),
        web.post(base + "/members/{user_id}/password-reset", create_reset),
        web.get("/api/v1/invitations/{token}", show_invitation),
        web.post("/api/v1/invitations/{token}/accept", accept_invitation),
    ]
