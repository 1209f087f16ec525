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
import email
import email.policy
import imaplib
import logging
import poplib
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, session_scope, utcnow
from service.delivery import verp
from service.delivery.models import BounceEvent, Delivery
from service.settings import Settings
from subscribers.models import Subscriber
from subscribers.suppression import suppress

log = logging.getLogger(__name__)

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
    if not findings and delivery_id is not None:
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
    for finding in classify(settings, rcpt_tos, data):
        delivery, subscriber = await _locate(session, finding)
        session.add(
            BounceEvent(
                subscriber_id=subscriber.id if subscriber else None,
                delivery_id=delivery.id if delivery else None,
                kind=finding.kind,
                detail=finding.detail,
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


def _fetch_mailbox(url: str) -> list[tuple[list[str], bytes, Any]]:
    """(recipients, raw, delete-callback) for every message in the mailbox."""
    parts = urlsplit(url)
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    out: list[tuple[list[str], bytes, Any]] = []
    if parts.scheme in ("imap", "imaps"):
        imap: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(parts.hostname or "", parts.port or 993)
            if parts.scheme == "imaps"
            else imaplib.IMAP4(parts.hostname or "", parts.port or 143)
        )
        imap.login(user, password)
        imap.select(parts.path.lstrip("/") or "INBOX")
        _typ, ids = imap.search(None, "ALL")
        for num in ids[0].split():
            _typ, fetched = imap.fetch(num, "(RFC822)")
            raw = fetched[0][1] if fetched and isinstance(fetched[0], tuple) else b""
            out.append(([], bytes(raw), lambda n=num: imap.store(n, "+FLAGS", "\\Deleted")))
        out.append(([], b"", lambda: (imap.expunge(), imap.logout())))
        return out
    if parts.scheme in ("pop3", "pop3s"):
        pop: poplib.POP3 = (
            poplib.POP3_SSL(parts.hostname or "", parts.port or 995)
            if parts.scheme == "pop3s"
            else poplib.POP3(parts.hostname or "", parts.port or 110)
        )
        pop.user(user)
        pop.pass_(password)
        count = len(pop.list()[1])
        for i in range(1, count + 1):
            raw = b"\r\n".join(pop.retr(i)[1])
            out.append(([], raw, lambda n=i: pop.dele(n)))
        out.append(([], b"", lambda: pop.quit()))
        return out
    raise ValueError("INNAN_BOUNCE_MAILBOX_URL must start with imap(s):// or pop3(s)://")


def _recipients_of(raw: bytes) -> list[str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    found: list[str] = []
    for header in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        for value in msg.get_all(header, []):
            found.extend(a.strip().strip("<>") for a in str(value).split(","))
    return [f.split("<")[-1].strip(">") for f in found if "@" in f]


async def poll(settings: Settings) -> int:
    """Read and process every message in the bounce mailbox; returns how many."""
    if not settings.bounce_mailbox_url:
        return 0
    items = await asyncio.to_thread(_fetch_mailbox, settings.bounce_mailbox_url)
    handled = 0
    for _rcpts, raw, delete in items:
        if not raw:
            await asyncio.to_thread(delete)
            continue
        await process_one(settings, _recipients_of(raw), raw)
        await asyncio.to_thread(delete)
        handled += 1
    return handled
