"""Sign-in for people: first-run admin, login, cookies, CSRF, passwords hashed with scrypt."""

import time

import aiohttp

from storage.users import Users
from tracehouse.server import Running

PASSWORD = "correct horse battery staple"


async def test_first_run_login_logout_and_csrf(live: Running) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        async with s.get(live.api_url + "/api/v1/auth/me") as r:
            # The receiver's ports as bound (the test server asks for any free ones), for the snippets.
            otlp = {
                "http_port": int(live.otlp_http_url.rsplit(":", 1)[1]),
                "grpc_port": int(live.otlp_grpc_address.rsplit(":", 1)[1]),
            }
            assert r.status == 200 and await r.json() == {
                "user": None,
                "setup_required": True,
                "open": True,
                "sso": None,
                "otlp": otlp,
            }
        async with s.post(
            live.api_url + "/api/v1/auth/setup",
            json={"email": "Admin@Example.com", "name": "Ada", "password": PASSWORD},
        ) as r:
            assert r.status == 200 and (await r.json())["user"]["is_admin"] is True
            cookies = r.headers.getall("Set-Cookie")
        session_cookie = next(c for c in cookies if c.startswith("th_session="))
        csrf_cookie = next(c for c in cookies if c.startswith("th_csrf="))
        assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
        assert "HttpOnly" not in csrf_cookie
        async with s.post(
            live.api_url + "/api/v1/auth/setup", json={"email": "x@example.com", "password": PASSWORD}
        ) as r:
            assert r.status == 403
        async with s.get(live.api_url + "/api/v1/auth/me") as r:
            assert r.status == 200 and (await r.json())["user"]["email"] == "admin@example.com"

        # A key now exists: scripts need it, but the signed-in person reads with the cookie.
        await live.store.projects.create_key("default")
        live.changed()
        async with s.get(live.api_url + "/api/v1/traces") as r:
            assert r.status == 200

        async with s.post(live.api_url + "/api/v1/auth/logout") as r:
            assert r.status == 403  # no X-CSRF-Token
        csrf = next(c.value for c in jar if c.key == "th_csrf")
        async with s.post(live.api_url + "/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        jar.clear()
        async with s.get(live.api_url + "/api/v1/traces") as r:
            assert r.status == 401

        async with s.post(
            live.api_url + "/api/v1/auth/login", json={"email": "admin@example.com", "password": "wrong password"}
        ) as r:
            assert r.status == 401
        async with s.post(
            live.api_url + "/api/v1/auth/login", json={"email": "ADMIN@example.com", "password": PASSWORD}
        ) as r:
            assert r.status == 200
        async with s.post(live.api_url + "/api/v1/auth/login", data=b"{garbage") as r:
            assert r.status == 400

    # A forged or tampered session token is no session.
    token = next(c.value for c in jar if c.key == "th_session")
    user_id, expires, nonce, mac = token.split(".")
    for forged in (
        f"{user_id}.{int(expires) + 999}.{nonce}.{mac}",
        f"usr-other.{expires}.{nonce}.{mac}",
        f"{user_id}.{expires}.{nonce[::-1]}.{mac}",
        f"{user_id}.{expires}.{mac}",  # the older format, without a nonce
        "garbage",
    ):
        async with (
            aiohttp.ClientSession(cookies={"th_session": forged}) as s,
            s.get(live.api_url + "/api/v1/auth/me") as r,
        ):
            assert (await r.json())["user"] is None


async def test_passwords_are_hashed_and_only_the_first_account_is_admin(live: Running) -> None:
    users = Users(live.store.backend)
    first = await users.create("one@example.com", "One", PASSWORD)
    second = await users.create("two@example.com", "Two", PASSWORD)
    assert first.is_admin and not second.is_admin
    rows = await live.store.backend.query("SELECT password_hash FROM users FINAL WHERE email != ''")
    assert all(r["password_hash"].startswith("scrypt$32768$8$1$") for r in rows)
    dump = await live.store.backend.query("SELECT toString(tuple(*)) AS row FROM users")
    assert not any(PASSWORD in r["row"] for r in dump)


async def test_signing_out_ends_the_token_itself(live: Running) -> None:
    """Deleting the cookie is not enough: a copy of the token (another tab, a stolen cookie) must be
    refused after sign-out, while the same person's other sessions go on."""
    users = Users(live.store.backend)
    await users.create("ada@example.com", "Ada", PASSWORD)

    async def sign_in() -> tuple[str, str]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.post(
                live.api_url + "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
            ) as r:
                assert r.status == 200
            return next(c.value for c in s.cookie_jar if c.key == "th_session"), next(
                c.value for c in s.cookie_jar if c.key == "th_csrf"
            )

    async def me(token: str) -> dict:
        headers = {"Cookie": f"th_session={token}"}
        async with aiohttp.ClientSession() as s, s.get(live.api_url + "/api/v1/auth/me", headers=headers) as r:
            return (await r.json())["user"]

    laptop, csrf = await sign_in()
    phone, _ = await sign_in()
    assert laptop != phone
    assert (await me(laptop))["email"] == "ada@example.com"
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            live.api_url + "/api/v1/auth/logout",
            headers={"Cookie": f"th_session={laptop}; th_csrf={csrf}", "X-CSRF-Token": csrf},
        ) as r,
    ):
        assert r.status == 200
    assert await me(laptop) is None  # the token is refused, not only the cookie dropped
    assert (await me(phone))["email"] == "ada@example.com"
    assert await users.check(laptop) is None
    await users.end("garbage")  # ending what is no session is a no-op
    await users.end(laptop)  # ... and so is ending it twice
    assert (await me(phone))["email"] == "ada@example.com"
    # A token of the format before nonces (signed in before an upgrade) still holds, and ends too.
    [row] = await live.store.backend.query("SELECT id, password_hash FROM users FINAL WHERE email = 'ada@example.com'")
    expires = str(int(time.time()) + 3600)
    legacy = f"{row['id']}.{expires}.{await users._mac(row['id'], expires, None, row['password_hash'])}"
    assert (await me(legacy))["email"] == "ada@example.com"
    await users.end(legacy)
    assert await me(legacy) is None
