"""Putting single mails in the transactional mail queue, and reading it back.

Every mail that is not a newsletter goes through here: a domain calls :func:`enqueue`
(a built message) or :func:`enqueue_composed` (a payload for a registered composer) in
the same transaction as the change that calls for it; the delivery worker
(:mod:`service.delivery.outbound`) sends it after commit. Functions here only touch the
database; nothing here talks to a mail server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.db import utcnow
from service.mail.compose import to_bytes
from service.mail.models import FINAL_STATES, OPEN_STATES, QueuedMail
from service.settings import Settings


@dataclass(frozen=True)
class Composed:
    """What a composer made of a payload: the message, and whom it concerns."""

    message: EmailMessage
    subscriber_id: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A composer decided no mail is due (e.g. one was sent to the address an hour ago)."""

    reason: str


# A composer runs in the worker, inside a short write transaction of its own.
Composer = Callable[[AsyncSession, Settings, dict[str, Any]], Awaitable[Composed | Skipped]]


def _subject(message: EmailMessage) -> str:
    return str(message.get("Subject", ""))[:300]


def enqueue(
    session: AsyncSession,
    message: EmailMessage,
    *,
    kind: str,
    subscriber_id: int | None = None,
    editor_id: int | None = None,
    issue_id: int | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> QueuedMail:
    """Queue a built message (sent after the caller commits). Its ``To`` is the recipient."""
    return enqueue_bytes(
        session,
        to_bytes(message),
        recipient=str(message["To"]),
        subject=_subject(message),
        kind=kind,
        subscriber_id=subscriber_id,
        editor_id=editor_id,
        issue_id=issue_id,
        reference=reference,
        now=now,
    )


def enqueue_bytes(
    session: AsyncSession,
    message: bytes,
    *,
    recipient: str,
    subject: str,
    kind: str,
    subscriber_id: int | None = None,
    editor_id: int | None = None,
    issue_id: int | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> QueuedMail:
    """Queue a serialised message (CRLF, unsigned) for ``recipient``."""
    return _queued(
        session,
        now,
        kind=kind,
        recipient=recipient,
        subject=subject[:300],
        subscriber_id=subscriber_id,
        editor_id=editor_id,
        issue_id=issue_id,
        reference=reference,
        message=message,
    )


def enqueue_composed(
    session: AsyncSession,
    *,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    reference: str | None = None,
    now: datetime | None = None,
) -> QueuedMail:
    """Queue work for the composer registered for ``kind`` (it builds the mail later)."""
    return _queued(
        session, now, kind=kind, recipient=recipient, payload=payload, reference=reference
    )


def _queued(session: AsyncSession, now: datetime | None, **columns: Any) -> QueuedMail:
    moment = now or utcnow()
    row = QueuedMail(state="queued", attempts=0, created_at=moment, updated_at=moment, **columns)
    session.add(row)
    return row


async def sent_or_pending(
    session: AsyncSession,
    *,
    kind: str,
    subscriber_id: int,
    since: datetime,
    exclude_id: int | None = None,
) -> bool:
    """Whether a ``kind`` mail to the subscriber was sent since ``since`` or still waits.

    Mails that failed for good do not count: the person may ask again at once.
    """
    query = (
        select(QueuedMail.id)
        .where(
            QueuedMail.kind == kind,
            QueuedMail.subscriber_id == subscriber_id,
            or_(
                QueuedMail.state.in_(OPEN_STATES),
                (QueuedMail.state == "sent") & (QueuedMail.sent_at >= since),
            ),
        )
        .limit(1)
    )
    if exclude_id is not None:
        query = query.where(QueuedMail.id != exclude_id)
    return (await session.execute(query)).first() is not None


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]  # by state, since ``since``
    problems: list[QueuedMail]  # waiting for a retry, or failed
    recent: list[QueuedMail]  # the newest rows, any state
    since: datetime


async def overview(
    session: AsyncSession, *, days: int = 7, limit: int = 50, now: datetime | None = None
) -> Overview:
    """What the editors' page and ``mail status`` show."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    counts = {
        str(state): int(n)
        for state, n in (
            await session.execute(
                select(QueuedMail.state, func.count())
                .where(QueuedMail.created_at >= since)
                .group_by(QueuedMail.state)
            )
        ).all()
    }
    problems = list(
        (
            await session.execute(
                select(QueuedMail)
                .where(QueuedMail.state.in_(("retry", "failed")))
                .order_by(QueuedMail.id.desc())
                .limit(limit)
            )
        ).scalars()
    )
    recent = list(
        (
            await session.execute(select(QueuedMail).order_by(QueuedMail.id.desc()).limit(limit))
        ).scalars()
    )
    return Overview(counts=counts, problems=problems, recent=recent, since=since)


async def for_issue(session: AsyncSession, issue_id: int, *, limit: int = 20) -> list[QueuedMail]:
    """The latest test sends of an issue, newest first."""
    rows = await session.execute(
        select(QueuedMail)
        .where(QueuedMail.issue_id == issue_id)
        .order_by(QueuedMail.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def retry_now(
    session: AsyncSession, ids: Sequence[int], *, actor: str, now: datetime | None = None
) -> int:
    """Send failed or waiting mails again now (those whose message is still kept)."""
    now = now or utcnow()
    result = await session.execute(
        update(QueuedMail)
        .where(
            QueuedMail.id.in_(list(ids)),
            QueuedMail.state.in_(("retry", "failed", "queued")),
            (QueuedMail.message.is_not(None)) | (QueuedMail.payload.is_not(None)),
        )
        .values(state="queued", next_attempt_at=None, attempts=0, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(session, actor, "mail.retry", "mail_queue", None, ids=list(ids), count=count)
    return count


async def cancel(
    session: AsyncSession, ids: Sequence[int], *, actor: str, now: datetime | None = None
) -> int:
    """Give up mails that have not been sent (a mail being sent right now is not stopped)."""
    now = now or utcnow()
    result = await session.execute(
        update(QueuedMail)
        .where(QueuedMail.id.in_(list(ids)), QueuedMail.state.in_(("queued", "retry", "failed")))
        .values(
            state="cancelled",
            message=None,
            payload=None,
            last_reply="avbrutet av redaktör",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(session, actor, "mail.cancel", "mail_queue", None, ids=list(ids), count=count)
    return count


async def forget(session: AsyncSession, subscriber_id: int | None, address: str) -> int:
    """Erasure: delete every queued or logged mail of the person or to ``address``
    (including signup work not yet composed, which has no subscriber id)."""
    condition = QueuedMail.recipient == address
    if subscriber_id is not None:
        condition = condition | (QueuedMail.subscriber_id == subscriber_id)
    result = await session.execute(delete(QueuedMail).where(condition))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge(session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> int:
    """Retention: delete finished rows older than ``INNAN_MAIL_LOG_DAYS``."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.mail_log_days)
    result = await session.execute(
        delete(QueuedMail).where(QueuedMail.state.in_(FINAL_STATES), QueuedMail.updated_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
