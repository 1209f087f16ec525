"""Composing single mails (confirmations, welcome mails, test sends) with our headers.

Bulk delivery builds a byte template once per issue instead (``service.delivery``);
both share the header rules here.
"""

from __future__ import annotations

import email.policy
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from service.db import utcnow
from service.settings import Settings

POLICY = email.policy.SMTP.clone(max_line_length=78)


class HeaderInjection(ValueError):
    """A header value contained CR, LF or NUL."""


def check_header_value(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:  # per recipient: no generator
        raise HeaderInjection("header value contains a line break")
    return value


def new_message_id(settings: Settings) -> str:
    return f"<{uuid.uuid4().hex}@{settings.mail_domain}>"


@dataclass(frozen=True)
class ListHeaders:
    """RFC 2369/2919/8058 headers for mail sent on behalf of a list."""

    list_id: str  # e.g. "nyhetsbrev.innanforskapet.example.se"
    list_name: str
    unsubscribe_url: str  # https one-click URL
    unsubscribe_mailto: str | None = None
    feedback_id: str | None = None

    def apply(self, msg: EmailMessage) -> None:
        msg["List-Id"] = (
            f"{check_header_value(self.list_name)} <{check_header_value(self.list_id)}>"
        )
        targets = [f"<{check_header_value(self.unsubscribe_url)}>"]
        if self.unsubscribe_mailto:
            targets.append(f"<{check_header_value(self.unsubscribe_mailto)}>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if self.feedback_id:
            msg["Feedback-ID"] = check_header_value(self.feedback_id)


def build_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    list_headers: ListHeaders | None = None,
    message_id: str | None = None,
    bulk: bool = False,
    extra_headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative (text first, then HTML) UTF-8 message with our headers."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = check_header_value(settings.mail_from)
    msg["To"] = check_header_value(to)
    if settings.reply_to:
        msg["Reply-To"] = check_header_value(settings.reply_to)
    msg["Subject"] = check_header_value(subject)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or new_message_id(settings)
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    if bulk:
        msg["Precedence"] = "bulk"
    if list_headers is not None:
        list_headers.apply(msg)
    for name, value in (extra_headers or {}).items():
        msg[name] = check_header_value(value)
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)
