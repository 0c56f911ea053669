"""The emails Tracehouse sends, in the UI's languages (English and Simplified Chinese)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Mail", "invitation_mail", "reset_mail"]


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


def _chinese(locale: str) -> bool:
    return locale.lower().startswith("zh")


def _day(when: dt.datetime, locale: str) -> str:
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y年%m月%d日 %H:%M UTC") if _chinese(locale) else when.strftime("%d %B %Y, %H:%M UTC")


def invitation_mail(to: str, inviter: str, organization: str, url: str, expires: dt.datetime, locale: str = "") -> Mail:
    """An invitation to an organization: the link works once, until ``expires``."""
    if _chinese(locale):
        return Mail(
            to,
            f"{inviter} 邀请你加入 Tracehouse 上的组织“{organization}”",
            f"{inviter} 邀请你加入 Tracehouse 上的组织“{organization}”。\n\n"
            f"打开下面的链接，设置密码（已有账号则输入你的密码）即可加入：\n{url}\n\n"
            f"此链接只能使用一次，{_day(expires, locale)} 前有效。如果你没有预料到这封邮件，忽略它即可。\n",
        )
    return Mail(
        to,
        f"{inviter} invited you to {organization} on Tracehouse",
        f"{inviter} invited you to the organization {organization} on Tracehouse.\n\n"
        f"Open this link to join: choose a password, or enter yours if you have an account.\n{url}\n\n"
        f"The link works once, until {_day(expires, locale)}. If you did not expect this email, ignore it.\n",
    )


def reset_mail(to: str, url: str, expires: dt.datetime, locale: str = "") -> Mail:
    """A password-reset link an admin made for this person."""
    if _chinese(locale):
        return Mail(
            to,
            "为你的 Tracehouse 账号设置新密码",
            "管理员为你的 Tracehouse 账号生成了一个重置密码的链接。打开它即可设置新密码：\n"
            f"{url}\n\n此链接只能使用一次，{_day(expires, locale)} 前有效。如果你没有请求重置，请告诉你的管理员。\n",
        )
    return Mail(
        to,
        "Set a new password for Tracehouse",
        "An administrator made a link for you to set a new password for your Tracehouse account:\n"
        f"{url}\n\nThe link works once, until {_day(expires, locale)}. If you did not ask for this, tell your "
        "administrator.\n",
    )
