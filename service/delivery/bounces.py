"""Inbound mail: DSN bounces (RFC 3464), ARF complaints (RFC 5965) and mailto unsubscribes.

Mail reaches us through an SMTP listener (``innanforskapet bounces listen``) or a polled
IMAP/POP mailbox (``innanforskapet bounces poll``, ``INNAN_BOUNCE_MAILBOX_URL``). The
recipient is found from the VERP return path (``bounce+TOKEN@…``, a signed delivery id),
else from the original Message-ID quoted in the report, else from the reported address.

A hard bounce counts towards ``INNAN_BOUNCE_THRESHOLD``; at the threshold the subscriber
becomes ``bounced`` and the address is suppressed (reason ``hard-bounce``). A complaint
suppresses at once (reason ``complaint``): someone who reported us as spam is never mailed
again. Soft bounces are counted only. Mail to ``unsubscribe@<bounce domain>`` carrying a
List-Unsubscribe token unsubscribes from every list (channel ``mailto``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import imaplib
import ipaddress
import logging
import poplib
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, session_scope, utcnow
from service.delivery import verp
from service.delivery.models import BounceEvent, Delivery
from service.settings import Settings
from subscribers.models import Subscriber
from subscribers.suppression import suppress

log = logging.getLogger(__name__)
T = TypeVar("T")

_TOKEN_RE = re.compile(r"unsubscribe\s+([A-Za-z0-9_\-\.]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    kind: str  # hard, soft, complaint
    address: str | None
    delivery_id: int | None
    message_id: str | None
    detail: str


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _strip_type(value: str | None) -> str | None:
    """``rfc822; a@b.se`` -> ``a@b.se``."""
    if not value:
        return None
    return value.split(";", 1)[-1].strip().strip("<>").lower() or None


def _original_message_id(msg: Message) -> str | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) else payload
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
        if ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = email.message_from_bytes(raw, policy=email.policy.default)
                if headers.get("Message-ID"):
                    return str(headers["Message-ID"]).strip()
    return None


def _is_auto_reply(msg: Message) -> bool:
    """An out-of-office or other auto-reply (RFC 3834) sent to the return path: no bounce."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    return (
        auto.startswith("auto-replied")
        or msg.get("X-Autoreply") is not None
        or msg.get("X-Autorespond") is not None
    )


def classify(settings: Settings, rcpt_tos: list[str], data: bytes) -> list[Finding]:
    """What a report tells us, one finding per affected recipient."""
    msg = _parse(data)
    delivery_id = next(
        (d for d in (verp.delivery_of(settings, r) for r in rcpt_tos) if d is not None), None
    )
    original = _original_message_id(msg)
    findings: list[Finding] = []
    report_type = (
        (msg.get_param("report-type") or "") if msg.get_content_type() == "multipart/report" else ""
    )
    if str(report_type).lower() == "feedback-report":
        address = None
        for part in msg.walk():
            if part.get_content_type() == "message/feedback-report":
                payload = part.get_payload()
                blocks: list[Any] = payload if isinstance(payload, list) else []
                for block in blocks:
                    address = address or _strip_type(block.get("Original-Rcpt-To"))
                if not blocks:
                    raw = part.get_payload(decode=True)
                    text = (
                        raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
                    )
                    found = re.search(r"Original-Rcpt-To:\s*(\S+)", text, re.IGNORECASE)
                    address = _strip_type(found.group(1)) if found else None
        findings.append(Finding("complaint", address, delivery_id, original, "ARF-klagomål"))
        return findings
    if str(report_type).lower() == "delivery-status":
        for part in msg.walk():
            if part.get_content_type() != "message/delivery-status":
                continue
            payload = part.get_payload()
            dsn_blocks: list[Any] = payload[1:] if isinstance(payload, list) else []
            for block in dsn_blocks:
                action = str(block.get("Action", "")).strip().lower()
                status = str(block.get("Status", "")).strip()
                diagnostic = str(block.get("Diagnostic-Code", "")).strip()
                address = _strip_type(block.get("Final-Recipient")) or _strip_type(
                    block.get("Original-Recipient")
                )
                if action == "failed" and status.startswith("5"):
                    kind = "hard"
                elif action in ("failed", "delayed") or status.startswith("4"):
                    kind = "soft"
                else:
                    continue  # delivered, relayed, expanded
                detail = f"{status} {diagnostic}".strip()
                findings.append(Finding(kind, address, delivery_id, original, detail[:2000]))
        if findings:
            return findings
    # Not a standard DSN: Mailman's detectors.
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(msg)
    for raw_address in permanent:
        findings.append(
            Finding(
                "hard",
                raw_address.decode("utf-8", "replace").lower(),
                delivery_id,
                original,
                "permanent",
            )
        )
    for raw_address in temporary:
        findings.append(
            Finding(
                "soft",
                raw_address.decode("utf-8", "replace").lower(),
                delivery_id,
                original,
                "temporary",
            )
        )
    if not findings and delivery_id is not None and not _is_auto_reply(msg):
        findings.append(Finding("soft", None, delivery_id, original, "okänd studs"))
    return findings


async def _locate(
    session: AsyncSession, finding: Finding
) -> tuple[Delivery | None, Subscriber | None]:
    delivery = None
    if finding.delivery_id is not None:
        delivery = await session.get(Delivery, finding.delivery_id)
    if delivery is None and finding.message_id:
        delivery = (
            await session.execute(select(Delivery).where(Delivery.message_id == finding.message_id))
        ).scalar_one_or_none()
    subscriber = None
    if delivery is not None and delivery.subscriber_id is not None:
        subscriber = await session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None and finding.address:
        subscriber = (
            await session.execute(select(Subscriber).where(Subscriber.email == finding.address))
        ).scalar_one_or_none()
    return delivery, subscriber


async def process(
    session: AsyncSession, settings: Settings, rcpt_tos: list[str], data: bytes
) -> list[str]:
    """Handle one inbound mail; returns what was done (for logs and tests)."""
    done: list[str] = []
    domain = verp.bounce_domain(settings).lower()
    if any(r.lower().strip("<>") == f"unsubscribe@{domain}" for r in rcpt_tos):
        from subscribers.service import unsubscribe_by_token

        msg = _parse(data)
        haystack = str(msg.get("Subject", ""))
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            haystack += "\n" + str(body.get_content())
        match = _TOKEN_RE.search(unquote(haystack))
        if match and await unsubscribe_by_token(
            session, settings, match.group(1), channel="mailto"
        ):
            done.append("unsubscribed")
        else:
            done.append("unsubscribe-token-invalid")
        return done
    now = utcnow()
    findings = classify(settings, rcpt_tos, data)
    source = hashlib.sha256(data).hexdigest()
    if findings and await session.scalar(
        select(BounceEvent.id).where(BounceEvent.source_sha256 == source).limit(1)
    ):
        return ["already-counted"]  # this very mail was processed before: count it once
    for finding in findings:
        delivery, subscriber = await _locate(session, finding)
        session.add(
            BounceEvent(
                subscriber_id=subscriber.id if subscriber else None,
                delivery_id=delivery.id if delivery else None,
                kind=finding.kind,
                detail=finding.detail,
                source_sha256=source,
            )
        )
        if subscriber is None:
            done.append(f"{finding.kind}:unknown")
            continue
        if finding.kind == "soft":
            subscriber.soft_bounces += 1
            done.append(f"soft:{subscriber.id}")
            continue
        subscriber.hard_bounces += 1
        if finding.kind == "complaint" or subscriber.hard_bounces >= settings.bounce_threshold:
            subscriber.status = "bounced"
            subscriber.bounced_at = now
            reason = "complaint" if finding.kind == "complaint" else "hard-bounce"
            await suppress(session, settings, subscriber.email, reason)
            done.append(f"suppressed:{subscriber.id}")
        else:
            done.append(f"hard:{subscriber.id}")
        if delivery is not None:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id)
                .values(state="bounced", last_reply=finding.detail or finding.kind, updated_at=now)
            )
    await session.flush()
    return done


async def process_one(settings: Settings, rcpt_tos: list[str], data: bytes) -> list[str]:
    """Process one mail in its own transaction (listener and poller)."""
    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            return await process(session, settings, rcpt_tos, data)
    finally:
        await engine.dispose()


class ListenerHandler:
    """aiosmtpd handler: accept mail for our bounce domain and process it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not address.lower().endswith("@" + verp.bounce_domain(self.settings).lower()):
            return "550 5.1.1 Not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            done = await process_one(
                self.settings, list(envelope.rcpt_tos), bytes(envelope.content)
            )
        except Exception:
            log.exception("bounce processing failed")
            return "451 4.3.0 Could not process, try again later"
        log.info("inbound mail processed: %s", ", ".join(done) or "nothing to do")
        return "250 OK"


def make_listener(settings: Settings, host: str, port: int) -> Any:
    from aiosmtpd.controller import Controller

    return Controller(ListenerHandler(settings), hostname=host, port=port)


# --- Polling a mailbox (``innanforskapet bounces poll``) -------------------------------------

SETTING = "INNAN_BOUNCE_MAILBOX_URL"
# IMAP keyword set on mail that is not ours to handle (a person's reply, an out-of-office):
# the message stays in the mailbox, unread, for a person, and later polls skip it.
NOT_BOUNCE_KEYWORD = "$NotBounce"
MAILBOX_TIMEOUT = 60.0


class MailboxError(Exception):
    """The bounce mailbox could not be read: bad URL, server down, login refused, no folder."""


@dataclass(frozen=True)
class PollResult:
    handled: int = 0  # bounces, complaints and unsubscribes: processed, then deleted
    left: int = 0  # anything else: left in the mailbox for a person
    failed: int = 0  # processing raised; left in the mailbox, tried again next poll


class _Mailbox(Protocol):
    """One open mailbox session. Deletions take effect at ``close``."""

    where: str

    def keys(self) -> list[str]: ...
    def fetch(self, key: str) -> bytes | None: ...
    def delete(self, key: str) -> None: ...
    def keep(self, key: str) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"servern visade ett certifikat som inte går att lita på ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS misslyckades ({exc.reason or exc})"
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text or type(exc).__name__


def _tls_context() -> ssl.SSLContext:
    """Certificate and host name verified against the system's CAs (``SSL_CERT_FILE``).

    imaplib's and poplib's own default context verifies nothing, so a man in the middle
    could read the mailbox password; ours is ``ssl.create_default_context()``.
    """
    return ssl.create_default_context()


PLAINTEXT_SETTING = "INNAN_BOUNCE_MAILBOX_ALLOW_PLAINTEXT"


def _is_loopback(sock: socket.socket) -> bool:
    """The peer is this machine: a password sent in clear text never crosses a network."""
    address = ipaddress.ip_address(sock.getpeername()[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _refuse_plaintext(where: str, offer: str, sock: socket.socket, allow: bool) -> None:
    """Raise before the password is sent in clear text to another host, unless allowed."""
    if allow or _is_loopback(sock):
        return
    raise MailboxError(
        f"Studsbrevlådan {where} erbjuder inte {offer}, så lösenordet skulle skickas "
        f"okrypterat över nätet; inget har skickats ({SETTING}). Använd imaps:// eller "
        f"pop3s://, slå på {offer} på servern, eller sätt {PLAINTEXT_SETTING}=true om "
        "nätet dit är betrott."
    )


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Imap:
    def __init__(
        self, scheme: str, host: str, port: int | None, where: str, allow_plaintext: bool
    ) -> None:
        self.where = where
        self.allow_plaintext = allow_plaintext
        self.conn: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(
                host, port or 993, ssl_context=_tls_context(), timeout=MAILBOX_TIMEOUT
            )
            if scheme == "imaps"
            else imaplib.IMAP4(host, port or 143, timeout=MAILBOX_TIMEOUT)
        )

    def open(self, user: str, password: str, folder: str) -> None:
        if not isinstance(self.conn, imaplib.IMAP4_SSL):
            if "STARTTLS" in self.conn.capabilities:
                self.conn.starttls(_tls_context())  # before the password
            else:
                _refuse_plaintext(self.where, "STARTTLS", self.conn.sock, self.allow_plaintext)
        self.conn.login(user, password)
        typ, data = self.conn.select(_imap_quote(folder))
        if typ != "OK":
            reply = data[0] if data and isinstance(data[0], bytes) else b""
            raise MailboxError(
                f"Mappen {folder!r} finns inte i studsbrevlådan {self.where} ({SETTING}): "
                f"{reply.decode('utf-8', 'replace')}"
            )

    def keys(self) -> list[str]:
        typ, data = self.conn.uid("SEARCH", "UNDELETED", "UNKEYWORD", NOT_BOUNCE_KEYWORD)
        if typ != "OK":
            raise imaplib.IMAP4.error(data[0] if data else typ)
        return [uid.decode() for uid in (data[0] or b"").split()]

    def fetch(self, key: str) -> bytes | None:
        # BODY.PEEK: mail we leave for a person stays unread.
        _typ, data = self.conn.uid("FETCH", key, "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0]:
                return bytes(item[1])
        return None  # expunged by someone else meanwhile

    def delete(self, key: str) -> None:
        self.conn.uid("STORE", key, "+FLAGS.SILENT", "(\\Deleted)")

    def keep(self, key: str) -> None:
        # Servers without keyword support answer NO; the message is then looked at again
        # next time, which changes nothing.
        self.conn.uid("STORE", key, "+FLAGS.SILENT", f"({NOT_BOUNCE_KEYWORD})")

    def close(self) -> None:
        try:
            if self.conn.state == "SELECTED":
                self.conn.close()  # expunges what we flagged \Deleted
        finally:
            self.conn.logout()

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # e.g. the socket a failed TLS handshake left
            self.conn.shutdown()


class _Pop3:
    def __init__(
        self, scheme: str, host: str, port: int | None, where: str, allow_plaintext: bool
    ) -> None:
        self.where = where
        self.allow_plaintext = allow_plaintext
        self.conn: poplib.POP3 = (
            poplib.POP3_SSL(host, port or 995, context=_tls_context(), timeout=MAILBOX_TIMEOUT)
            if scheme == "pop3s"
            else poplib.POP3(host, port or 110, timeout=MAILBOX_TIMEOUT)
        )

    def open(self, user: str, password: str, folder: str) -> None:
        if not isinstance(self.conn, poplib.POP3_SSL):
            try:
                capabilities = self.conn.capa()
            except poplib.error_proto:
                capabilities = {}  # a server without CAPA offers no STLS either
            if "STLS" in capabilities:
                self.conn.stls(_tls_context())  # before the password
            else:
                _refuse_plaintext(self.where, "STLS", self.conn.sock, self.allow_plaintext)
        self.conn.user(user)
        self.conn.pass_(password)

    def keys(self) -> list[str]:
        count, _size = self.conn.stat()
        return [str(n) for n in range(1, count + 1)]

    def fetch(self, key: str) -> bytes | None:
        _resp, lines, _octets = self.conn.retr(int(key))  # dot-unstuffed by poplib
        return b"".join(line + b"\r\n" for line in lines)

    def delete(self, key: str) -> None:
        self.conn.dele(int(key))

    def keep(self, key: str) -> None:
        """POP3 has no flags: the message stays and is looked at again next poll."""

    def close(self) -> None:
        self.conn.quit()  # the server deletes what we marked only now

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


# ssl.SSLError (an untrusted certificate, say) is an OSError.
_PROTOCOL_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto)


def _open_mailbox(url: str, *, allow_plaintext: bool) -> _Mailbox:
    """Connect and log in; every failure is a MailboxError naming the setting (no password).

    Over imap:// and pop3:// the connection is upgraded with STARTTLS/STLS before the
    login; a server that does not offer it gets the password only if it is this machine
    (a loopback address) or ``allow_plaintext`` is set.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps", "pop3", "pop3s") or not parts.hostname:
        raise MailboxError(
            f"{SETTING} ska se ut som imaps://användare:lösenord@värd/INBOX, imap://…, "
            "pop3s://… eller pop3://…"
        )
    try:
        port = parts.port
    except ValueError:
        raise MailboxError(f"{SETTING} har ett ogiltigt portnummer.") from None
    user = unquote(parts.username or "")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    where = f"{scheme}://{parts.hostname}{f':{port}' if port else ''}"
    if scheme.startswith("imap"):
        where += f"/{folder}"
    cls = _Imap if scheme.startswith("imap") else _Pop3
    try:
        box = cls(scheme, parts.hostname, port, where, allow_plaintext)
    except _PROTOCOL_ERRORS as exc:
        raise MailboxError(
            f"Kunde inte ansluta till studsbrevlådan {where} ({SETTING}): {_reason(exc)}"
        ) from exc
    try:
        box.open(user, unquote(parts.password or ""), folder)
    except MailboxError:
        _close_quietly(box)
        raise
    except (*_PROTOCOL_ERRORS, UnicodeError) as exc:
        box.abort()
        raise MailboxError(
            f"Studsbrevlådan {where} tog inte emot inloggningen som {user!r} ({SETTING}): "
            f"{_reason(exc)}"
        ) from exc
    return box


def check_mailbox(url: str, *, allow_plaintext: bool) -> tuple[str, int]:
    """Log in and count the waiting messages without changing anything (check-config)."""
    box = _open_mailbox(url, allow_plaintext=allow_plaintext)
    try:
        waiting = len(box.keys())
    except (*_PROTOCOL_ERRORS, UnicodeError) as exc:
        box.abort()
        raise MailboxError(
            f"Studsbrevlådan {box.where} gick inte att läsa: {_reason(exc)}"
        ) from exc
    box.abort()
    return box.where, waiting


def _recipients_of(raw: bytes) -> list[str]:
    """Envelope recipients as the delivering MTA/MDA recorded them, then the To header."""
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    values: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        values.extend(str(v) for v in headers.get_all(name, []))
    return [address for _name, address in getaddresses(values) if "@" in address]


def _handled(done: list[str]) -> bool:
    """Did ``process`` act on the mail? Else a person should read it."""
    return any(item != "unsubscribe-token-invalid" for item in done)


async def poll(settings: Settings) -> PollResult:
    """Process every new message in the bounce mailbox once.

    Each message is processed in its own transaction and deleted only after that commit,
    so a crash never loses a bounce; a mail read again after such a crash is recognised
    (``BounceEvent.source_sha256``) and not counted twice. Mail that is not a
    bounce, complaint or unsubscribe stays in the mailbox (IMAP: unread, keyword
    ``$NotBounce``, skipped by later polls; POP3: left on the server).
    Raises MailboxError when the mailbox cannot be read.
    """
    if not settings.bounce_mailbox_url:
        return PollResult()
    box = await asyncio.to_thread(
        _open_mailbox,
        settings.bounce_mailbox_url,
        allow_plaintext=settings.bounce_mailbox_allow_plaintext,
    )
    handled = left = failed = 0
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    try:
        for key in await _io(box.keys):
            raw = await _io(box.fetch, key)
            if raw is None:
                continue
            try:
                async with session_scope(factory) as session:
                    done = await process(session, settings, _recipients_of(raw), raw)
            except (DBAPIError, OSError):
                raise  # the database is away: stop; the mail waits for the next poll
            except Exception:
                log.exception("could not process message %r from %s", key, box.where)
                failed += 1
                continue
            if _handled(done):
                await _io(box.delete, key)
                handled += 1
            else:
                await _io(box.keep, key)
                left += 1
                log.info("message %r in %s is no bounce; left for a person", key, box.where)
        await _io(box.close)
    except _Broken as broken:
        await asyncio.to_thread(box.abort)
        raise MailboxError(
            f"Förbindelsen med studsbrevlådan {box.where} ({SETTING}) bröts: "
            f"{_reason(broken.error)}. Brev som inte hann tas bort kan behandlas igen nästa gång."
        ) from broken.error
    except BaseException:
        await asyncio.to_thread(_close_quietly, box)
        raise
    finally:
        await engine.dispose()
    return PollResult(handled=handled, left=left, failed=failed)


class _Broken(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


async def _io(fn: Callable[..., T], *args: Any) -> T:
    """A blocking mailbox call in a thread; protocol/socket errors become ``_Broken``."""
    try:
        return await asyncio.to_thread(fn, *args)
    except _PROTOCOL_ERRORS as exc:
        raise _Broken(exc) from exc


def _close_quietly(box: _Mailbox) -> None:
    """Commit the deletions of what was processed before an error, whatever happens."""
    try:
        box.close()
    except _PROTOCOL_ERRORS:
        box.abort()
