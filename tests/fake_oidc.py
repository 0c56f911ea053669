"""A local OpenID Connect provider for the single sign-on tests: discovery, a key set, an
authorization endpoint that signs in whoever the test says at once, and a token endpoint that
checks the client's secret, the redirect URI and PKCE before it signs an ID token (RS256).
``Provider.misbehave`` makes its next ID token wrong in one way."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_openai import on_loopback

CLIENT_ID = "tracehouse-test"
CLIENT_SECRET = "s3cret-of-the-client"


def _rsa() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    url: str = ""
    email: str = "bob@acme.test"
    name: str = "Bob"
    email_verified: bool | None = True
    misbehave: str = ""  # audience, issuer, expired, foreign-key, nonce, no-email, refuse-code, deny
    groups: Any = None  # the ID token's "groups" claim, when set (a list, or anything to test with)
    scopes_asked: list[str] = field(default_factory=list)
    key: Any = field(default_factory=_rsa)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "sub": "sub-" + self.email, "aud": CLIENT_ID, "iat": now,
                                  "exp": now + 300, "nonce": nonce, "email": self.email, "name": self.name}  # fmt: skip
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        if self.groups is not None:
            claims["groups"] = self.groups
        key, what = self.key, self.misbehave
        if what == "audience":
            claims["aud"] = "someone-else"
        elif what == "issuer":
            claims["iss"] = "https://evil.example"
        elif what == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif what == "foreign-key":
            key = _rsa()
        elif what == "nonce":
            claims["nonce"] = "another"
        elif what == "no-email":
            del claims["email"]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@contextlib.asynccontextmanager
async def fake_oidc() -> AsyncIterator[Provider]:
    provider = Provider()

    async def discovery(request: web.Request) -> web.Response:
        base = provider.url
        return web.json_response({"issuer": base, "authorization_endpoint": base + "/authorize",
                                  "token_endpoint": base + "/token", "jwks_uri": base + "/jwks"})  # fmt: skip

    async def jwks(request: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def authorize(request: web.Request) -> web.Response:
        q = request.query
        if provider.misbehave == "deny":
            target = q["redirect_uri"] + "?" + urlencode({"error": "access_denied", "error_description":
                                                          "the user said no", "state": q["state"]})  # fmt: skip
            return web.Response(status=302, headers={"Location": target})
        code = secrets.token_urlsafe(16)
        provider.scopes_asked.append(q.get("scope", ""))
        provider.codes[code] = {k: q.get(k, "") for k in ("redirect_uri", "nonce", "code_challenge", "client_id",
                                                          "code_challenge_method", "scope")}  # fmt: skip
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return web.Response(status=302, headers={"Location": target})

    async def token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        provider.token_requests.append({"form": form, "authorization": request.headers.get("Authorization", "")})
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = provider.codes.pop(str(form.get("code", "")), None)
        if grant is None or provider.misbehave == "refuse-code":
            return web.json_response({"error": "invalid_grant", "error_description": "unknown code"}, status=400)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest())
        if (grant["redirect_uri"] != form.get("redirect_uri") or grant["code_challenge_method"] != "S256"
                or challenge.rstrip(b"=").decode() != grant["code_challenge"]):  # fmt: skip
            return web.json_response({"error": "invalid_grant", "error_description": "PKCE or redirect"}, status=400)
        return web.json_response(
            {"access_token": "at", "token_type": "Bearer", "id_token": provider.id_token(grant["nonce"])}
        )

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks", jwks)
    app.router.add_get("/authorize", authorize)
    app.router.add_post("/token", token)
    async with on_loopback(app) as address:
        provider.url = address
        yield provider
