"""Sending mail over SMTP, from a URL: ``smtp://user:pass@host:587`` (STARTTLS whenever the
server offers it, and required before a password is sent) or ``smtps://user:pass@host:465``
(TLS from the start). Certificates are verified. smtplib runs in a thread: the server's event
loop never waits on a mail server."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from mail.messages import Mail
from tracehouse.errors import ConfigError

__all__ = ["MailError", "Mailer", "SmtpTarget", "parse_smtp_url"]


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


class MailError(Exception):
    """The mail was not sent; the message says why, for the person who asked for it."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    user: str = ""
    password: str = ""


def parse_smtp_url(url: str) -> SmtpTarget:
    """An SMTP server from its URL; ConfigError for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"the SMTP URL is not valid: {exc}") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("the SMTP URL looks like smtp://user:password@host:587 or smtps://user:password@host:465")
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        parts.hostname,
        port or (465 if implicit else 587),
        implicit,
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


class Mailer:
    """Sends one mail at a time to one SMTP server."""

    def __init__(self, target: SmtpTarget, sender: str, timeout_s: float = 15.0, tls: ssl.SSLContext | None = None):
        self.target = target
        self.sender = sender
        self._timeout_s = timeout_s
        self._tls = tls or ssl.create_default_context()

    async def send(self, mail: Mail) -> None:
        """Send ``mail``; MailError if the server is unreachable or refuses it."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.target.host)
        message.set_content(mail.text)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(self._why(exc)) from None

    def _why(self, exc: Exception) -> str:
        """The failure in words an admin can act on (never the password)."""
        server = f"{self.target.host}:{self.target.port}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = "; ".join(f"{to} ({_reply(code, text)})" for to, (code, text) in exc.recipients.items())
            return f"the mail server {server} refused {refused}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"the mail server {server} answered {_reply(exc.smtp_code, exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPException):
            return f"the mail server {server}: {exc}"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        return f"could not reach the mail server {server} ({reason})"

    def _send(self, message: EmailMessage) -> None:
        t = self.target
        if t.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=self._timeout_s, context=self._tls)
        else:
            client = smtplib.SMTP(t.host, t.port, timeout=self._timeout_s)
        with client:
            client.ehlo()
            if not t.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=self._tls)
                client.ehlo()
            elif not t.implicit_tls and t.user:
                # A password never goes over a connection that is not encrypted.
                raise smtplib.SMTPNotSupportedError("the server offers no STARTTLS; use smtps:// or a server that does")
            if t.user:
                client.login(t.user, t.password)
            client.send_message(message)
