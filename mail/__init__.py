"""Email to people: invitation and password-reset links, over SMTP when a server is configured."""

from mail.messages import Mail, invitation_mail, reset_mail
from mail.smtp import Mailer, MailError, SmtpTarget, parse_smtp_url

__all__ = ["Mail", "MailError", "Mailer", "SmtpTarget", "invitation_mail", "parse_smtp_url", "reset_mail"]
