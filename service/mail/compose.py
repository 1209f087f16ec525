"""Composing single mails (confirmations, welcome mails, test sends) with our headers.

Bulk delivery builds a byte template once per issue instead (``service.delivery``);
both share the header rules here.
"""

from __future__ import annotations

import email.policy
import uuid
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime

from service.db import utcnow
from service.errors import ValidationFailed
from service.mail.addresses import header_form
from service.settings import Settings

POLICY = email.policy.SMTP.clone(max_line_length=78)
# For a recipient whose address stays beyond ASCII (RFC 6532 headers; sent with SMTPUTF8).
POLICY_UTF8 = email.policy.SMTPUTF8.clone(max_line_length=78)


class HeaderInjection(ValidationFailed, ValueError):
    """A header value contained a line break (CR, LF, or any other character that
    ``str.splitlines`` breaks at: U+2028, U+2029, NEL, VT, FF, FS/GS/RS) or NUL.

    A ``ValidationFailed`` (422, Swedish): e.g. a subject saved before such characters
    were refused shows the editor what to change instead of a server error.
    """

    def __init__(self) -> None:
        message = (
            "Ämnesraden eller ett annat brevhuvud innehåller en radbrytning eller ett annat "
            "osynligt styrtecken. Skriv om texten utan det och försök igen."
        )
        super().__init__(message, fields={"subject": message})


# What splitlines() (and so the email package's header folding) treats as a line break.
_LINE_BREAKS = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def check_header_value(value: str) -> str:
    if not _LINE_BREAKS.isdisjoint(value):  # per recipient: no generator, no regex
        raise HeaderInjection()
    return value


def encode_subject(subject: str) -> bytes:
    """The ``Subject`` header's value as written on the wire (RFC 2047, folded).

    The email package's own folding of a long non-ASCII subject can drop the space
    between an encoded word and the next ("samverkan & ”innanförskap”" arrived as
    "samverkan &”innanförskap”"), so the subject is encoded with
    :class:`email.header.Header`, which keeps every space inside its encoded words.
    """
    check_header_value(subject)
    if subject.isascii():  # as is: at most 200 characters (issue validation), under 998
        return subject.encode("ascii")
    header = Header(subject, "utf-8", maxlinelen=76, header_name="Subject")
    return header.encode(linesep="\r\n").encode("ascii")


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
    to = header_form(check_header_value(to))
    msg = EmailMessage(policy=POLICY if to.isascii() else POLICY_UTF8)
    msg["From"] = check_header_value(settings.mail_from)
    msg["To"] = to
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
    """The message as sent (CRLF); UTF-8 headers only for an SMTPUTF8 recipient.

    The subject is written first, encoded by :func:`encode_subject`.
    """
    utf8 = isinstance(msg.policy, email.policy.EmailPolicy) and msg.policy.utf8
    subject = msg.get("Subject")
    if subject is None:
        return msg.as_bytes(policy=POLICY_UTF8 if utf8 else POLICY)
    del msg["Subject"]
    try:
        rest = msg.as_bytes(policy=POLICY_UTF8 if utf8 else POLICY)
    finally:
        msg["Subject"] = subject
    return b"Subject: " + encode_subject(str(subject)) + b"\r\n" + rest
