"""An issue as a mail: its MIME message encoded once, personalised per recipient by splicing.

This is the one path from a rendered issue to the bytes a recipient gets, for real sends
(the delivery worker), test sends and the editor's preview alike: the same headers,
list headers and Feedback-ID (:meth:`IssueTemplate.build` from a :class:`MailSource`),
the same personalisation (:class:`Personal`).

Building and serialising an ``EmailMessage`` per recipient costs milliseconds (the email
package's quoted-printable encoder is pure Python). Instead the whole message is encoded
once per issue: the text and HTML bodies are split at the placeholders of
``service.issues.placeholders``; every static piece is quoted-printable encoded once and
ends with a soft line break, so each placeholder value starts on a line of its own and
only the (short) values are encoded per recipient. Per recipient we splice in ``To``,
``Message-ID``, ``List-Unsubscribe`` and the placeholder values.

Every chunk starts at the beginning of a line, so SMTP dot-stuffing of the static chunks
is done once, here, and the wire form handed to the SMTP client needs no per-message
regex passes (see ``SmtpTransport.send_prepared``).
"""

from __future__ import annotations

import binascii
import html
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from service.db import utcnow
from service.issues import placeholders
from service.mail.addresses import header_form
from service.mail.compose import POLICY, check_header_value, encode_subject
from service.mail.dkim import DkimSigner
from service.mail.wire import stuff, unstuff
from service.settings import Settings


def _qp(text: str) -> bytes:
    """Quoted-printable of one line (no line breaks in ``text``), UTF-8, CRLF soft breaks.

    ``binascii.b2a_qp`` is the C encoder, a tenth of the cost of the email package's
    pure-Python ``quoprimime.body_encode``, which matters for the per-recipient values. It
    encodes a little more (a lone "." as ``=2E``); a test checks that what it gives decodes
    to the line. Its soft breaks are bare LF: made CRLF.
    """
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"=\n", b"=\r\n")


def _body_chunks(body: str) -> list[bytes | str]:
    """Encoded static chunks (bytes) and placeholder names (str), each starting a line."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    out: list[bytes | str] = []
    for piece in placeholders.PATTERN.split(body):
        if not piece:
            continue
        if piece in placeholders.ALL:
            out.append(piece)
            continue
        lines = piece.split("\n")
        encoded = b"\r\n".join(_qp(line) for line in lines)
        if lines[-1]:
            encoded += b"=\r\n"  # soft break: the next value starts on a line of its own
        out.append(encoded)
    return out


@dataclass(frozen=True)
class MailSource:
    """What an issue's mail is made of: the rendering (with placeholders) and its list."""

    issue_id: int
    slug: str
    subject: str
    text: str
    html: str
    list_slug: str
    list_name: str


def subject_of(subject: str, title: str) -> str:
    """An issue's subject line: its subject, else its title."""
    return (subject or title).strip()


@dataclass(frozen=True)
class Personal:
    """What differs per recipient."""

    to: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    name: str
    prefs_url: str


@dataclass(frozen=True)
class IssueTemplate:
    """An issue's message, encoded once. ``wire(personal)`` gives the DATA bytes."""

    head: bytes  # static headers, each ending in CRLF
    text_chunks: tuple[bytes | str, ...]  # dot-stuffed static bytes, or a placeholder name
    html_chunks: tuple[bytes | str, ...]
    boundary: bytes

    @classmethod
    def build(
        cls, settings: Settings, source: MailSource, *, subject_prefix: str = ""
    ) -> IssueTemplate:
        subject = subject_prefix + source.subject
        list_id = f"{source.list_slug}.{settings.mail_domain}"
        list_name = source.list_name or settings.org_name
        feedback_id = f"{source.slug or source.issue_id}:{source.list_slug}:innanforskapet"
        headers = EmailMessage(policy=POLICY)
        headers["From"] = check_header_value(settings.mail_from)
        if settings.reply_to:
            headers["Reply-To"] = check_header_value(settings.reply_to)
        headers["Date"] = format_datetime(utcnow())
        headers["MIME-Version"] = "1.0"
        headers["Auto-Submitted"] = "auto-generated"
        headers["Precedence"] = "bulk"
        headers["List-Id"] = f"{check_header_value(list_name)} <{check_header_value(list_id)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["Feedback-ID"] = check_header_value(feedback_id)
        head = b"Subject: " + encode_subject(subject) + b"\r\n"
        head += headers.as_bytes(policy=POLICY).split(b"\r\n\r\n", 1)[0] + b"\r\n"
        boundary = f"=============innan{uuid.uuid4().hex}==".encode("ascii")
        head += b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n'

        def stuffed(chunks: list[bytes | str]) -> tuple[bytes | str, ...]:
            return tuple(stuff(c) if isinstance(c, bytes) else c for c in chunks)

        return cls(
            head=head,
            text_chunks=stuffed(_body_chunks(source.text)),
            html_chunks=stuffed(_body_chunks(source.html)),
            boundary=boundary,
        )

    @staticmethod
    def _encode(value: str) -> bytes:
        return stuff(_qp(value) + b"=\r\n") if value else b""

    def _values(self, p: Personal) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """Encoded placeholder values for the text and the HTML part."""
        raw = {
            placeholders.NAME: placeholders.name_fragment(p.name),
            placeholders.PREFS_URL: p.prefs_url,
            placeholders.UNSUBSCRIBE_URL: p.unsubscribe_url,
        }
        text: dict[str, bytes] = {}
        markup: dict[str, bytes] = {}
        for key, value in raw.items():
            value = " ".join(value.splitlines())
            encoded = self._encode(value)
            text[key] = encoded
            escaped = html.escape(value, quote=True)
            markup[key] = encoded if escaped == value else self._encode(escaped)
        return text, markup

    def personal_headers(self, p: Personal) -> bytes:
        for value in (p.to, p.message_id, p.unsubscribe_url, p.unsubscribe_mailto or ""):
            check_header_value(value)
        unsub = f"<{p.unsubscribe_url}>"
        if p.unsubscribe_mailto:
            unsub += f",\r\n <{p.unsubscribe_mailto}>"
        # An address beyond ASCII after IDNA goes only to an SMTPUTF8 server (the transport
        # sees to that), whose headers may be UTF-8 (RFC 6532).
        return (
            f"To: {header_form(p.to)}\r\nMessage-ID: {p.message_id}\r\n"
            f"List-Unsubscribe: {unsub}\r\n"
        ).encode()

    def body(self, p: Personal) -> bytes:
        """The dot-stuffed body (everything after the headers' blank line)."""
        return b"".join(self._body_parts(p))

    def _body_parts(self, p: Personal) -> list[bytes]:
        b = self.boundary
        parts = [
            b"--" + b + b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ]
        text_values, html_values = self._values(p)
        parts.extend(text_values[c] if isinstance(c, str) else c for c in self.text_chunks)
        parts.append(
            b"\r\n--" + b + b'\r\nContent-Type: text/html; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        parts.extend(html_values[c] if isinstance(c, str) else c for c in self.html_chunks)
        parts.append(b"\r\n--" + b + b"--\r\n")
        return parts

    def wire(self, p: Personal, *, signer: DkimSigner | None = None) -> bytes:
        """DATA bytes: CRLF line endings, dot-stuffed, terminated by ``.\\r\\n``."""
        if signer is None:  # one copy of the ~50 KB message, not one per concatenation
            parts = [self.personal_headers(p), self.head, b"\r\n"]
            parts += self._body_parts(p)
            parts.append(b".\r\n")
            return b"".join(parts)
        message = self.personal_headers(p) + self.head + b"\r\n" + self.body(p)
        signature = signer.sign(unstuff(message + b".\r\n"))
        return signature + message + b".\r\n"

    def message_bytes(self, p: Personal) -> bytes:
        """The message as a recipient receives it (no dot-stuffing)."""
        return unstuff(self.wire(p))


@dataclass(frozen=True)
class Shown:
    """A message as its reader sees it: decoded headers and the two parts."""

    headers: list[tuple[str, str]]
    text: str
    html: str


def shown(message: bytes) -> Shown:
    """Parse ``message`` (as received) into what the editor's preview shows."""
    import email
    import email.policy

    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    html_ = html_part.get_content()
    return Shown(
        headers=[(name, str(value)) for name, value in parsed.items() if name != "Content-Type"],
        text=str(text).replace("\r\n", "\n"),
        html=str(html_),
    )
