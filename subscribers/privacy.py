"""A person's rights over their data: export (Art. 15/20), erasure (Art. 17) and the
retention purge.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.db import AfterCommit, after_commit, checkpoint_sqlite, utcnow
from service.delivery.models import BounceEvent, Delivery
from service.mail import queue as mailqueue
from service.mail.transport import forget_in_outbox
from service.settings import Settings
from subscribers import suppression
from subscribers.lists import all_lists
from subscribers.models import ActionToken, ConsentEvent, ConsentText, Subscriber, Subscription
from subscribers.people import get_subscriber


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_data(session: AsyncSession, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about one person (Art. 15/20), with the exact consent texts."""
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    events = (
        await session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber.id)
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        )
    ).scalars()
    text_ids: set[int] = set()
    history = []
    for ev in events:
        for ref in (ev.consent_text_id, ev.privacy_notice_id):
            if ref is not None:
                text_ids.add(ref)
        history.append(
            {
                "event": ev.event,
                "list": ev.list_slug,
                "purpose": ev.purpose,
                "lawful_basis": ev.lawful_basis,
                "source": ev.source,
                "channel": ev.channel,
                "language": ev.language,
                "occurred_at": _iso(ev.occurred_at),
                "requested_at": _iso(ev.requested_at),
                "consent_text_id": ev.consent_text_id,
                "privacy_notice_id": ev.privacy_notice_id,
            }
        )
    texts = {}
    if text_ids:
        for text in (
            await session.execute(select(ConsentText).where(ConsentText.id.in_(text_ids)))
        ).scalars():
            texts[str(text.id)] = {
                "kind": text.kind,
                "version": text.version,
                "language": text.language,
                "title": text.title,
                "body": text.body,
                "published_at": _iso(text.published_at),
            }
    pending = (
        await session.execute(
            select(ActionToken).where(
                ActionToken.subscriber_id == subscriber.id, ActionToken.used_at.is_(None)
            )
        )
    ).scalars()
    deliveries = (
        await session.execute(
            select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
        )
    ).scalars()
    bounces = (
        await session.execute(
            select(BounceEvent)
            .where(BounceEvent.subscriber_id == subscriber.id)
            .order_by(BounceEvent.id)
        )
    ).scalars()
    return {
        "subscriber": {
            "email": subscriber.email,
            "name": subscriber.name,
            "organisation": subscriber.organisation,
            "role": subscriber.role,
            "language": subscriber.language,
            "status": subscriber.status,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "bounced_at": _iso(subscriber.bounced_at),
            "soft_bounces": subscriber.soft_bounces,
            "hard_bounces": subscriber.hard_bounces,
        },
        "subscriptions": [
            {
                "list": lists_by_id[s.list_id].slug if s.list_id in lists_by_id else s.list_id,
                "list_name": lists_by_id[s.list_id].name if s.list_id in lists_by_id else "",
                "status": s.status,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
            }
            for s in subscriber.subscriptions
        ],
        "consent_history": history,
        "consent_texts": texts,
        "deliveries": [
            {
                "issue_id": d.issue_id,
                "state": d.state,
                "attempts": d.attempts,
                "sent_at": _iso(d.sent_at),
                "last_reply": d.last_reply,
            }
            for d in deliveries
        ],
        "bounces": [
            {"kind": b.kind, "received_at": _iso(b.received_at), "detail": b.detail}
            for b in bounces
        ],
        "pending_confirmations": [
            {
                "purpose": t.purpose,
                "created_at": _iso(t.created_at),
                "expires_at": _iso(t.expires_at),
            }
            for t in pending
        ],
    }


async def export_all(session: AsyncSession) -> list[dict[str, Any]]:
    """One row per subscriber: status, lists and consent times (for operators/editors)."""
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    rows = []
    subscribers = (await session.execute(select(Subscriber).order_by(Subscriber.id))).scalars()
    for sub in subscribers:
        active = sorted(
            lists_by_id[s.list_id].slug
            for s in sub.subscriptions
            if s.status == "active" and s.list_id in lists_by_id
        )
        rows.append(
            {
                "email": sub.email,
                "name": sub.name,
                "organisation": sub.organisation,
                "role": sub.role,
                "status": sub.status,
                "lists": active,
                "created_at": _iso(sub.created_at),
                "confirmed_at": _iso(sub.confirmed_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
        )
    return rows


async def _delete_person(session: AsyncSession, subscriber_id: int) -> None:
    """Delete a person and everything that names them. Delivery rows stay for the issue's
    statistics (their subscriber_id becomes NULL) but lose the SMTP reply text, and bounce
    reports are deleted, because both may quote the address."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        session.expunge(subscriber)
    await session.execute(
        update(Delivery).where(Delivery.subscriber_id == subscriber_id).values(last_reply=None)
    )
    await session.execute(delete(BounceEvent).where(BounceEvent.subscriber_id == subscriber_id))
    await session.execute(delete(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id))
    await session.execute(delete(ActionToken).where(ActionToken.subscriber_id == subscriber_id))
    await session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    if subscriber is not None:  # queued and logged mails to the person, composed or not
        await mailqueue.forget(session, subscriber_id, subscriber.email)


async def erase(
    session: AsyncSession, settings: Settings, subscriber_id: int, *, actor: str
) -> None:
    """Art. 17 erasure; idempotent (an unknown id does nothing)."""
    subscriber = await get_subscriber(session, subscriber_id)
    if subscriber is None:
        return
    await suppression.suppress(session, settings, subscriber.email, "erased")
    await _delete_person(session, subscriber_id)
    audit.record(session, actor, "subscriber.erased", "subscriber", subscriber_id)
    await session.flush()
    after_commit(session, _scrub(settings, subscriber.email))


def _scrub(settings: Settings, address: str) -> AfterCommit:
    """After an erasure is committed: no copy of the person's data left in the SQLite
    WAL, nor in the outbox transport's files."""

    async def scrub(session: AsyncSession) -> None:
        await checkpoint_sqlite(session)
        if settings.smtp_url is None:
            await asyncio.to_thread(forget_in_outbox, settings.outbox_dir, address)

    return scrub


async def _ids(session: AsyncSession, *conditions: Any) -> list[tuple[int, str]]:
    found = await session.execute(select(Subscriber.id, Subscriber.email).where(*conditions))
    return [(int(row[0]), str(row[1])) for row in found]


async def run_retention(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Purge what we may no longer keep; returns counts per category."""
    now = now or utcnow()
    result = {"unconfirmed": 0, "unsubscribed": 0, "bounced": 0, "tokens": 0}
    unconfirmed = await _ids(
        session,
        Subscriber.status == "pending",
        Subscriber.created_at < now - timedelta(days=settings.unconfirmed_days),
    )
    for subscriber_id, _email in unconfirmed:
        await _delete_person(session, subscriber_id)
    result["unconfirmed"] = len(unconfirmed)
    for status, days, stamp in (
        ("unsubscribed", settings.unsubscribed_days, Subscriber.unsubscribed_at),
        ("bounced", settings.bounced_days, Subscriber.bounced_at),
    ):
        gone = await _ids(session, Subscriber.status == status, stamp < now - timedelta(days=days))
        for subscriber_id, email in gone:
            await suppression.suppress(session, settings, email, status)
            await _delete_person(session, subscriber_id)
        result[status] = len(gone)
    tokens = await session.execute(
        delete(ActionToken).where(ActionToken.expires_at < now - timedelta(days=1))
    )
    result["tokens"] = int(tokens.rowcount or 0)  # type: ignore[attr-defined]
    if any(result.values()):
        audit.record(session, "system", "retention.run", "subscribers", None, **result)
        after_commit(session, checkpoint_sqlite)
    await session.flush()
    return result
