"""People who sign in to the UI: stored in ClickHouse, passwords hashed with scrypt (memory-hard).

The first account created becomes the admin, as in Langfuse. Sign-in sessions are signed
tokens (HMAC-SHA256) whose key lives in the store, so that every query process of a
deployment accepts the same sessions; a token ended by signing out is listed in the store too,
so that every process refuses it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from storage.api import Backend
from storage.projects import Versions
from storage.tables import ENDED_SESSIONS, USER_PREFERENCES, USERS
from tracehouse.errors import Conflict, InvalidInput, Unauthenticated

__all__ = ["LOCALES", "SESSION_TTL_S", "User", "Users", "hash_password", "verify_password"]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB per hash: memory-hard
SESSION_TTL_S = 7 * 86_400
_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}$")
SIGNING_KEY_ID = "__session_signing_key__"
# The UI's languages; "" leaves the choice to the browser.
LOCALES = ("", "en", "zh-CN")


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    is_admin: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 2**20)
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 2**20
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


NO_PASSWORD = "!"  # no scrypt hash: no password matches it


@functools.cache
def _equaliser() -> str:
    """A hash to verify against when there is none, so that a wrong email costs what a wrong password does."""
    return hash_password("timing-equaliser")


def _check_password(password: str) -> None:
    if len(password) < 8 or len(password) > 1000:
        raise InvalidInput("the password needs 8 to 1000 characters")


class Users:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._key: bytes | None = None
        self._versions = Versions()

    async def _rows(self, where: str, params: dict[str, object], extra: str = "") -> list[dict[str, Any]]:
        """Accounts matching ``where``; ``extra``: more result columns (from code, never input)."""
        return await self._backend.query(
            f"SELECT id, email, name, password_hash, is_admin{extra} FROM users FINAL "
            f"WHERE is_deleted = 0 AND {where} ORDER BY created_at",
            params,
        )

    async def count(self) -> int:
        rows = await self._rows("id != {k:String}", {"k": SIGNING_KEY_ID})
        return len(rows)

    async def create(self, email: str, name: str, password: str | None) -> User:
        """Create an account; the first one is the admin. ``None``: no password (single sign-on
        and SCIM accounts; a reset link gives one)."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidInput("a valid email address is needed")
        if password is not None:
            _check_password(password)
        if await self._rows("email = {e:String}", {"e": email}):
            raise Conflict(f"an account for {email} exists already")
        admin = await self.count() == 0
        user = User("usr-" + secrets.token_hex(8), email, name.strip()[:200] or email, admin)
        stored = NO_PASSWORD if password is None else await asyncio.to_thread(hash_password, password)
        await self._put(user.id, email, user.name, stored, admin)
        return user

    async def _put(self, id: str, email: str, name: str, password_hash: str, admin: bool) -> None:
        now = self._versions.next()
        row = {
            "id": id,
            "email": email,
            "name": name,
            "password_hash": password_hash,
            "is_admin": int(admin),
            "created_at": now,
            "updated_at": now,
            "is_deleted": 0,
        }
        await self._backend.insert(USERS.name, pa.Table.from_pylist([row], schema=USERS.arrow_schema()))

    async def authenticate(self, email: str, password: str) -> User:
        rows = await self._rows("email = {e:String}", {"e": email.strip().lower()})
        usable = bool(rows) and rows[0]["password_hash"] != NO_PASSWORD
        # The same scrypt work whether the account exists, has a password or not (no timing
        # oracle), and in a thread: ~100 ms of it would stall every request of this process.
        stored = rows[0]["password_hash"] if usable else await asyncio.to_thread(_equaliser)
        if not await asyncio.to_thread(verify_password, password, stored) or not usable:
            raise Unauthenticated("wrong email or password")
        r = rows[0]
        return User(r["id"], r["email"], r["name"], bool(r["is_admin"]))

    async def find(self, email: str) -> User | None:
        """The account with this email, or None."""
        rows = await self._rows("email = {e:String}", {"e": email.strip().lower()})
        if not rows:
            return None
        r = rows[0]
        return User(r["id"], r["email"], r["name"], bool(r["is_admin"]))

    async def get_many(self, user_ids: Iterable[str]) -> dict[str, User]:
        """The accounts of these ids, by id, in one query (an organization's members, a page of them)."""
        ids = sorted({i for i in user_ids if i != SIGNING_KEY_ID})
        if not ids:
            return {}
        rows = await self._rows("id IN {ids:Array(String)}", {"ids": ids})
        return {r["id"]: User(r["id"], r["email"], r["name"], bool(r["is_admin"])) for r in rows}

    async def list_all(self) -> list[User]:
        """Every account, oldest first (the instance admin is the first)."""
        rows = await self._rows("id != {k:String}", {"k": SIGNING_KEY_ID})
        return [User(r["id"], r["email"], r["name"], bool(r["is_admin"])) for r in rows]

    async def get(self, user_id: str) -> User | None:
        rows = await self._rows("id = {i:String}", {"i": user_id})
        if not rows or user_id == SIGNING_KEY_ID:
            return None
        r = rows[0]
        return User(r["id"], r["email"], r["name"], bool(r["is_admin"]))

    async def signing_key(self) -> bytes:
        """The deployment's secret for signed tokens (sessions, media links): one for every process."""
        return await self._signing_key()

    async def _signing_key(self) -> bytes:
        if self._key is None:
            rows = await self._rows("id = {k:String}", {"k": SIGNING_KEY_ID})
            if not rows:
                # Kept as a reserved row of the users table: one datastore, shared by every process.
                await self._put(SIGNING_KEY_ID, "", "", secrets.token_urlsafe(48), False)
                rows = await self._rows("id = {k:String}", {"k": SIGNING_KEY_ID})
            self._key = rows[0]["password_hash"].encode()
        return self._key

    async def set_password(self, user_id: str, password: str) -> None:
        """Give an account a new password. Every session signed in before ends with it."""
        _check_password(password)
        rows = await self._rows("id = {i:String}", {"i": user_id})
        if not rows or user_id == SIGNING_KEY_ID:
            raise InvalidInput(f"no account {user_id!r}")
        r = rows[0]
        stored = await asyncio.to_thread(hash_password, password)
        await self._put(r["id"], r["email"], r["name"], stored, bool(r["is_admin"]))

    async def change_password(self, user: User, current: str, new: str) -> None:
        """The signed-in person's own change: the current password first."""
        try:
            await self.authenticate(user.email, current)
        except Unauthenticated:
            raise InvalidInput("the current password is wrong") from None
        await self.set_password(user.id, new)

    async def locale(self, user_id: str) -> str:
        """The UI language this person chose ("" when they left it to the browser)."""
        rows = await self._backend.query(
            "SELECT locale AS p_locale FROM user_preferences FINAL WHERE user_id = {u:String} AND is_deleted = 0",
            {"u": user_id},
        )
        return str(rows[0]["p_locale"]) if rows else ""

    async def set_locale(self, user_id: str, locale: str) -> None:
        """Remember this person's UI language (one of LOCALES)."""
        if locale not in LOCALES:
            raise InvalidInput(f"locale: one of {', '.join(repr(x) for x in LOCALES)}")
        now = self._versions.next()
        row = {"user_id": user_id, "locale": locale, "created_at": now, "updated_at": now, "is_deleted": 0}
        await self._backend.insert(
            USER_PREFERENCES.name, pa.Table.from_pylist([row], schema=USER_PREFERENCES.arrow_schema())
        )

    async def _mac(self, user_id: str, expires: str, nonce: str | None, password_hash: str) -> str:
        # The password hash is signed in: a new password ends every older session.
        body = (
            f"{user_id}.{expires}.{password_hash}" if nonce is None else f"{user_id}.{expires}.{nonce}.{password_hash}"
        )
        return hmac.new(await self._signing_key(), body.encode(), hashlib.sha256).hexdigest()

    async def issue(self, user: User) -> str:
        """A session token for ``user``, valid for SESSION_TTL_S, until the password changes or
        until it is ended (``end``). Each sign-in has its own: ending one leaves the others."""
        rows = await self._rows("id = {i:String}", {"i": user.id})
        expires = str(int(time.time()) + SESSION_TTL_S)
        nonce = secrets.token_hex(8)
        return f"{user.id}.{expires}.{nonce}.{await self._mac(user.id, expires, nonce, rows[0]['password_hash'])}"

    async def check(self, token: str) -> User | None:
        """The user of a valid, unexpired session token, or None."""
        parts = token.split(".")
        if len(parts) == 4:
            user_id, expires, nonce, mac = parts
        elif len(parts) == 3:  # issued before tokens had a nonce
            (user_id, expires, mac), nonce = parts, None
        else:
            return None
        if not (expires.isascii() and expires.isdigit()) or int(expires) < time.time() or user_id == SIGNING_KEY_ID:
            return None
        rows = await self._rows(
            "id = {i:String}",
            {"i": user_id, "h": _token_hash(token)},
            extra=", (SELECT count() FROM ended_sessions WHERE token_hash = {h:String}) AS ended",
        )
        good = await self._mac(user_id, expires, nonce, rows[0]["password_hash"]) if rows else ""
        if not rows or not hmac.compare_digest(good.encode(), mac.encode()):
            return None
        r = rows[0]
        if r["ended"]:
            return None  # signed out
        return User(r["id"], r["email"], r["name"], bool(r["is_admin"]))

    async def end(self, token: str) -> None:
        """End a session before it expires (its holder signs out): ``check`` refuses it from now on."""
        if await self.check(token) is None:
            return
        expires = int(token.split(".")[1])
        row = {"token_hash": _token_hash(token), "expires_at": dt.datetime.fromtimestamp(expires, dt.UTC)}
        await self._backend.insert(
            ENDED_SESSIONS.name, pa.Table.from_pylist([row], schema=ENDED_SESSIONS.arrow_schema())
        )
