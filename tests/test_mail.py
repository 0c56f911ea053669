"""Invitation and password-reset links by email, through a real SMTP server (aiosmtpd) in the
tests' process: what arrives, in which language, and what happens when the mail server fails."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mail import parse_smtp_url
from tests.conftest import serving
from tests.test_organizations_api import PASSWORD, Person, first_admin
from tracehouse.errors import ConfigError


class Inbox:
    """An SMTP server's handler: keeps every message, or refuses recipients it is told to."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def link_in(message: Message) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https://traces\.example\.com/invite/\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def test_smtp_urls() -> None:
    assert parse_smtp_url("smtp://mailer:p%40ss@mail.example.com").port == 587
    target = parse_smtp_url("smtps://mail.example.com")
    assert (target.port, target.implicit_tls, target.user) == (465, True, "")
    assert parse_smtp_url("smtp://u:p%40ss@h:2525").password == "p@ss"
    for bad in ("http://mail.example.com", "smtp://", "mail.example.com:25", "smtp://h:99999", ""):
        with pytest.raises(ConfigError):
            parse_smtp_url(bad)


async def test_invitations_and_resets_are_emailed(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    async with serving(
        tmp_path / "data", smtp_url=f"smtp://127.0.0.1:{port}", public_url="https://traces.example.com/"
    ) as live:
        admin = await first_admin(live)
        people: list[Person] = [admin]
        try:
            status, org = await admin.call("POST", "/api/v1/organizations", {"name": "acme"})
            assert status == 201
            invitations = f"/api/v1/organizations/{org['id']}/invitations"
            status, inv = await admin.call("POST", invitations, {"email": "bo@example.com", "role": "MEMBER"})
            assert status == 201 and inv["emailed"] is True and "email_error" not in inv, inv
            [mail] = inbox.to("bo@example.com")
            assert mail["Subject"] == "Ada invited you to acme on Tracehouse"
            assert mail["From"] == "Tracehouse <tracehouse@localhost>"
            # The emailed link is the one shown, on the public address, and it works.
            assert link_in(mail) == inv["url"]
            token = inv["url"].rsplit("/", 1)[1]
            bo = Person(live)
            people.append(bo)
            status, _ = await bo.call("POST", f"/api/v1/invitations/{token}/accept", {"password": PASSWORD})
            assert status == 200
            status, me = await bo.call("GET", "/api/v1/auth/me")
            assert me["user"]["email"] == "bo@example.com"

            # A reset goes to the member, in the language they chose for the UI.
            assert (await bo.call("PUT", "/api/v1/auth/preferences", {"locale": "zh-CN"}))[0] == 200
            status, member = await admin.call("GET", f"/api/v1/organizations/{org['id']}/members")
            bo_id = next(m["user_id"] for m in member["data"] if m["email"] == "bo@example.com")
            status, reset = await admin.call(
                "POST", f"/api/v1/organizations/{org['id']}/members/{bo_id}/password-reset"
            )
            assert status == 201 and reset["emailed"] is True
            mail = inbox.to("bo@example.com")[-1]
            assert mail["Subject"] == "为你的 Tracehouse 账号设置新密码"
            assert link_in(mail) == reset["url"]

            # A mailbox the server refuses: the invitation is made and shown, the failure said.
            inbox.refuse.add("nobody@example.com")
            status, inv = await admin.call("POST", invitations, {"email": "nobody@example.com", "role": "VIEWER"})
            assert status == 201 and inv["emailed"] is False, inv
            assert "550" in inv["email_error"] and inv["url"].startswith("https://traces.example.com/invite/")
            status, pending = await admin.call("GET", invitations)
            assert "nobody@example.com" in {i["email"] for i in pending["data"]}
        finally:
            for person in people:
                await person.close()


async def test_a_mail_server_that_fails_costs_the_link_nothing(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    closed = free_port()  # nothing listens there
    for url, words in (
        (f"smtp://127.0.0.1:{closed}", f"127.0.0.1:{closed}"),
        # A password is never sent in the clear: this server offers no STARTTLS.
        (f"smtp://mailer:secret@127.0.0.1:{port}", "STARTTLS"),
    ):
        async with serving(tmp_path / f"data-{len(words)}", smtp_url=url) as live:
            admin = await first_admin(live)
            try:
                status, org = await admin.call("POST", "/api/v1/organizations", {"name": "acme"})
                status, inv = await admin.call(
                    "POST", f"/api/v1/organizations/{org['id']}/invitations", {"email": "cy@example.com"}
                )
                assert status == 201 and inv["emailed"] is False and words in inv["email_error"], inv
                assert "secret" not in inv["email_error"]
                # The link still works: the admin passes it on.
                assert inv["url"].startswith(live.api_url + "/invite/")
                cy = Person(live)
                token = inv["url"].rsplit("/", 1)[1]
                assert (await cy.call("POST", f"/api/v1/invitations/{token}/accept", {"password": PASSWORD}))[0] == 200
                await cy.close()
            finally:
                await admin.close()
    assert inbox.messages == []


async def test_without_a_mail_server_links_are_shown_only(live: Any) -> None:
    admin = await first_admin(live)
    try:
        status, org = await admin.call("POST", "/api/v1/organizations", {"name": "acme"})
        status, inv = await admin.call(
            "POST", f"/api/v1/organizations/{org['id']}/invitations", {"email": "di@example.com"}
        )
        assert status == 201 and inv["emailed"] is False and "email_error" not in inv
    finally:
        await admin.close()


async def test_a_bad_smtp_url_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SMTP URL"):
        async with serving(tmp_path / "data", smtp_url="http://mail.example.com"):
            pass


def test_the_ui_says_whether_the_link_was_emailed(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    from playwright.sync_api import expect

    from tests.conftest import start_server
    from tests.test_ui import browser_page
    from tests.test_ui_first_run import api, sign_up

    inbox, port = smtp
    inbox.refuse.add("gone@example.com")
    server = start_server(tmp_path / "data", env={"TRACEHOUSE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    errors: list[str] = []
    try:
        with browser_page(errors) as page:
            sign_up(page, server.api_url)
            page.get_by_role("heading", name="Set up Tracehouse").wait_for()
            status, org = api(page, "POST", "/api/v1/organizations", {"name": "acme"})
            assert status == 201
            page.goto(server.api_url + f"/organization/{org['id']}/settings")
            page.get_by_label("Invite email").fill("eve@example.com")
            page.get_by_role("button", name="Create invitation link").click()
            note = page.locator(".created p").first
            expect(note).to_have_text("An email with this link went to eve@example.com. The link is shown only now.")
            [mail] = inbox.to("eve@example.com")
            assert page.locator(".snippet pre").first.inner_text() in mail.get_body(("plain",)).get_content()
            page.get_by_label("Invite email").fill("gone@example.com")
            page.get_by_role("button", name="Create invitation link").click()
            expect(note).to_contain_text("The email to gone@example.com could not be sent")
            expect(note).to_contain_text("Send this link to gone@example.com. It is shown only now.")
            page.screenshot(path=str(tmp_path / "invite-mail.png"))
    finally:
        server.stop()
    assert not errors, errors
