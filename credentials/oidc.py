"""Single sign-on with an OpenID Connect provider (Okta, Microsoft Entra ID, Google, Keycloak,
Auth0, Authentik, Dex...): the authorization-code flow with PKCE, and the ID token checked
against the provider's published keys.

The provider is found from its issuer URL (``/.well-known/openid-configuration``), kept for an
hour; its keys are fetched again when a token names one not seen yet (a key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tracehouse.errors import Unauthenticated

__all__ = ["OidcClient", "OidcConfig", "OidcError", "Start"]

TIMEOUT_S = 10.0
DISCOVERY_TTL_S = 3600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]


class OidcError(Unauthenticated):
    """A sign-in the provider or its token did not allow, said in words a person can act on."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    name: str = "SSO"
    domains: tuple[str, ...] = ()  # email domains allowed to sign in; empty: any
    only: bool = False  # the only way in: no sign-in or joining with a password
    scopes: str = "openid email profile"
    groups_claim: str = "groups"  # the ID token's list of the person's groups


@dataclass(frozen=True)
class Start:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    name: str
    groups: tuple[str, ...] | None = None  # None: the provider did not say (no groups claim)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._keys: dict[str | None, Any] = {}

    async def _get(self, url: str) -> Any:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session,
                session.get(url, headers={"Accept": "application/json"}) as r,
            ):
                if r.status != 200:
                    raise OidcError(f"the sign-in provider answered {r.status} for {url}")
                return await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"the sign-in provider could not be reached at {url}: {exc}") from None

    async def discovery(self) -> dict[str, Any]:
        """The provider's configuration (endpoints, key set), checked to name its own issuer."""
        if self._discovery is None or time.monotonic() - self._discovered_at > DISCOVERY_TTL_S:
            doc = await self._get(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if not isinstance(doc, dict) or doc.get("issuer", "").rstrip("/") != self.config.issuer.rstrip("/"):
                raise OidcError("the sign-in provider's configuration names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise OidcError(f"the sign-in provider's configuration has no {key}")
            self._discovery, self._discovered_at = doc, time.monotonic()
        return self._discovery

    async def start(self, redirect_uri: str) -> Start:
        """The provider's sign-in page for this request, with a fresh state, nonce and PKCE verifier."""
        doc = await self.discovery()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in doc["authorization_endpoint"] else "?"
        return Start(doc["authorization_endpoint"] + separator + urlencode(query), state, nonce, verifier)

    async def _key(self, kid: str | None) -> Any:
        import jwt  # here, not at the top: PyJWT and its crypto cost every server ~8 MB, used only with SSO

        if kid not in self._keys:
            doc = await self.discovery()
            jwks = await self._get(doc["jwks_uri"])
            keys = jwks.get("keys") if isinstance(jwks, dict) else None
            if not isinstance(keys, list):
                raise OidcError("the sign-in provider's key set is not a JWKS")
            self._keys = {}
            for item in keys:
                if isinstance(item, dict) and item.get("use", "sig") == "sig":
                    try:
                        self._keys[item.get("kid")] = jwt.PyJWK(item).key
                    except jwt.PyJWTError:
                        continue  # a key of a kind this process cannot use: others may do
        if kid not in self._keys:
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            raise OidcError("the ID token is signed with a key the sign-in provider does not publish")
        return self._keys[kid]

    async def finish(self, code: str, redirect_uri: str, nonce: str, verifier: str) -> Identity:
        """Trade the code for tokens, check the ID token and return who signed in."""
        doc = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth = aiohttp.BasicAuth(self.config.client_id, self.config.client_secret)
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session,
                session.post(doc["token_endpoint"], data=form, auth=auth, headers={"Accept": "application/json"}) as r,
            ):
                tokens = await r.json(content_type=None)
                if r.status != 200:
                    detail = (
                        (tokens.get("error_description") or tokens.get("error")) if isinstance(tokens, dict) else ""
                    )
                    raise OidcError(f"the sign-in provider refused the code ({r.status}: {detail or 'no reason'})")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"the sign-in provider's token endpoint could not be reached: {exc}") from None
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("the sign-in provider gave no ID token")
        import jwt  # see _key

        try:
            header = jwt.get_unverified_header(id_token)
            key = await self._key(header.get("kid"))
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.config.client_id,
                issuer=doc["issuer"],
                leeway=60,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"the ID token is not valid: {exc}") from None
        if claims.get("nonce") != nonce:
            raise OidcError("the ID token was not issued for this sign-in (nonce)")
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise OidcError("the sign-in provider gave no email address (is the 'email' scope allowed?)")
        if claims.get("email_verified") is False:
            raise OidcError(f"the sign-in provider has not verified {email}")
        email = email.strip().lower()
        domain = email.rsplit("@", 1)[1]
        if self.config.domains and domain not in self.config.domains:
            raise OidcError(f"accounts of {domain} may not sign in here")
        name = claims.get("name") or claims.get("preferred_username") or email
        listed = claims.get(self.config.groups_claim)
        if isinstance(listed, str):  # some providers give a lone group as a string
            listed = [listed]
        # Not a list: the provider did not say (Entra ID leaves the claim out past 200 groups).
        groups = tuple(g for g in listed if isinstance(g, str)) if isinstance(listed, list) else None
        return Identity(str(claims["sub"]), email, str(name)[:200], groups)
