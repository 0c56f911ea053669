"""One-time links: invitations to an organization and password resets made by an admin.

The link carries a random token; only its sha256 is stored, so the store never holds a usable
link. A link expires, and its first use spends it. Two people racing to use one link within
one process are serialised by a lock; the row written on use is the newest version either way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import pyarrow as pa

from storage.api import Backend
from storage.projects import Versions
from storage.tables import INVITATIONS
from tracehouse.errors import NotFound

__all__ = ["INVITE", "RESET", "Invitation", "Invitations"]

INVITE = "invite"
RESET = "reset"
LIFETIMES = {INVITE: dt.timedelta(days=7), RESET: dt.timedelta(days=1)}


@dataclass(frozen=True)
class Invitation:
    id: str
    kind: str
    organization_id: str
    email: str
    role: str
    project_id: str
    project_role: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None

    @property
    def pending(self) -> bool:
        return self.used_at is None and self.expires_at > dt.datetime.now(dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitations:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._versions = Versions()
        self._using = asyncio.Lock()

    async def create(
        self,
        kind: str,
        organization_id: str,
        email: str,
        role: str,
        created_by: str,
        project_id: str = "",
        project_role: str = "",
    ) -> tuple[str, Invitation]:
        """A new link's token (to show once) and its record."""
        token = secrets.token_urlsafe(32)
        now = self._versions.next()
        invitation = Invitation(
            id="inv-" + secrets.token_hex(8),
            kind=kind,
            organization_id=organization_id,
            email=email.strip().lower(),
            role=role,
            project_id=project_id,
            project_role=project_role,
            created_by=created_by,
            created_at=now,
            expires_at=now + LIFETIMES[kind],
            used_at=None,
        )
        await self._write(_digest(token), invitation, now)
        return token, invitation

    async def _write(self, token_hash: str, inv: Invitation, version: dt.datetime, deleted: bool = False) -> None:
        row = {
            "token_hash": token_hash,
            **{k: getattr(inv, k) for k in Invitation.__dataclass_fields__},
            "updated_at": version,
            "is_deleted": int(deleted),
        }
        await self._backend.insert(INVITATIONS.name, pa.Table.from_pylist([row], schema=INVITATIONS.arrow_schema()))

    async def _rows(self, where: str, params: dict[str, object]) -> list[tuple[str, Invitation]]:
        fields = ", ".join(Invitation.__dataclass_fields__)
        rows = await self._backend.query(
            f"SELECT token_hash, {fields} FROM invitations FINAL WHERE is_deleted = 0 AND {where} ORDER BY created_at",
            params,
        )
        return [(r.pop("token_hash"), Invitation(**r)) for r in rows]

    async def lookup(self, token: str) -> Invitation:
        """The pending link of this token; NotFound if unknown, used or expired (one answer for all)."""
        rows = await self._rows("token_hash = {t:String}", {"t": _digest(token)})
        if not rows or not rows[0][1].pending:
            raise NotFound("this link is unknown, used already or expired: ask for a new one")
        return rows[0][1]

    async def spend(self, token: str) -> Invitation:
        """Mark a pending link used and return it; NotFound as ``lookup`` otherwise."""
        async with self._using:
            invitation = await self.lookup(token)
            now = self._versions.next()
            used = Invitation(**{**invitation.__dict__, "used_at": now})
            await self._write(_digest(token), used, now)
            return used

    async def spend_for(self, email: str) -> list[Invitation]:
        """Mark every pending invitation to ``email`` used and return them: its owner proved the
        address another way (single sign-on with a verified email)."""
        async with self._using:
            rows = await self._rows(
                "email = {e:String} AND kind = {k:String}", {"e": email.strip().lower(), "k": INVITE}
            )
            spent = []
            for token_hash, invitation in rows:
                if invitation.pending:
                    now = self._versions.next()
                    used = Invitation(**{**invitation.__dict__, "used_at": now})
                    await self._write(token_hash, used, now)
                    spent.append(used)
            return spent

    async def pending(self, organization_id: str) -> list[Invitation]:
        """An organization's invitations that may still be used."""
        rows = await self._rows(
            "organization_id = {o:String} AND kind = {k:String}", {"o": organization_id, "k": INVITE}
        )
        return [inv for _, inv in rows if inv.pending]

    async def revoke(self, organization_id: str, invitation_id: str) -> None:
        """Withdraw a pending link of this organization."""
        rows = await self._rows(
            "organization_id = {o:String} AND id = {i:String}", {"o": organization_id, "i": invitation_id}
        )
        if not rows:
            raise NotFound(f"no invitation {invitation_id!r} in this organization")
        token_hash, invitation = rows[0]
        await self._write(token_hash, invitation, self._versions.next(), deleted=True)
