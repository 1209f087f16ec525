"""A person's rights over their data: export (Art. 15/20), erasure (Art. 17) and the
retention purge, for what this domain holds and for what other domains hold.

Other domains keep rows about a subscriber too (the delivery ledger's SMTP replies,
bounce reports). This package must not import them, so the dependency points one way:
a domain that holds personal data implements :class:`PersonalData` (``export`` adds its
sections to the person's export, ``erase`` removes what names the person) and is named,
as ``"module:attribute"``, in ``service.personal_data.HOLDERS``, the composition root of
personal data (like ``DOMAIN_MODULES`` in ``service.app`` and ``CLI_MODULES`` in
``service.cli``). Nothing registers itself at import time and nothing is kept in module
state: the names are resolved (:func:`load_holders`) by :func:`export_data`,
:func:`erase` and :func:`run_retention` themselves, each time they run. So every path
that exports or erases (the preference centre, the CLI, the scheduler's daily
retention, other domains' calls) covers every holder, and none can forget one; a test
may pass ``holders=`` of its own.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.db import AfterCommit, after_commit, checkpoint_sqlite, utcnow
from service.mail import queue as mailqueue
from service.mail.transport import forget_in_outbox
from service.personal_data import HOLDERS
from service.settings import Settings
from subscribers import suppression
from subscribers.lists import all_lists
from subscribers.models import ActionToken, ConsentEvent, ConsentText, Subscriber, Subscription
from subscribers.people import get_subscriber


@runtime_checkable
class PersonalData(Protocol):
    """Rows another domain keeps about a subscriber. Neither method commits.

    ``export`` returns the sections it adds to the person's export, by name, as JSON
    values (times written with :func:`export_time`). ``erase`` deletes or blanks
    whatever names the person; it runs before the subscriber row is deleted, while the
    domain's rows still point at the person.
    """

    async def export(self, session: AsyncSession, subscriber_id: int) -> dict[str, Any]: ...

    async def erase(self, session: AsyncSession, subscriber_id: int) -> None: ...


def load_holders(names: Sequence[str] = HOLDERS) -> tuple[PersonalData, ...]:
    """The holders named ``"module:attribute"``; TypeError for one that is not a holder."""
    holders = []
    for target in names:
        module_name, _, attribute = target.partition(":")
        holder = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(holder, PersonalData):
            raise TypeError(f"{target} has no export() and erase(): not a PersonalData holder")
        holders.append(holder)
    return tuple(holders)


def _holders(given: Sequence[PersonalData] | None) -> Sequence[PersonalData]:
    return load_holders() if given is None else given


def export_time(value: datetime | None) -> str | None:
    """How an export writes a time (ISO 8601, UTC offset included)."""
    return value.isoformat() if value is not None else None


async def export_data(
    session: AsyncSession,
    subscriber: Subscriber,
    *,
    holders: Sequence[PersonalData] | None = None,
) -> dict[str, Any]:
    """Everything held about one person (Art. 15/20), with the exact consent texts, and
    the sections each holder of personal data adds (``deliveries``, ``bounces``)."""
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
                "occurred_at": export_time(ev.occurred_at),
                "requested_at": export_time(ev.requested_at),
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
                "published_at": export_time(text.published_at),
            }
    pending = (
        await session.execute(
            select(ActionToken).where(
                ActionToken.subscriber_id == subscriber.id, ActionToken.used_at.is_(None)
            )
        )
    ).scalars()
    data: dict[str, Any] = {
        "subscriber": {
            "email": subscriber.email,
            "name": subscriber.name,
            "organisation": subscriber.organisation,
            "role": subscriber.role,
            "language": subscriber.language,
            "status": subscriber.status,
            "created_at": export_time(subscriber.created_at),
            "confirmed_at": export_time(subscriber.confirmed_at),
            "unsubscribed_at": export_time(subscriber.unsubscribed_at),
            "bounced_at": export_time(subscriber.bounced_at),
            "soft_bounces": subscriber.soft_bounces,
            "hard_bounces": subscriber.hard_bounces,
        },
        "subscriptions": [
            {
                "list": lists_by_id[s.list_id].slug if s.list_id in lists_by_id else s.list_id,
                "list_name": lists_by_id[s.list_id].name if s.list_id in lists_by_id else "",
                "status": s.status,
                "created_at": export_time(s.created_at),
                "confirmed_at": export_time(s.confirmed_at),
                "unsubscribed_at": export_time(s.unsubscribed_at),
            }
            for s in subscriber.subscriptions
        ],
        "consent_history": history,
        "consent_texts": texts,
    }
    for holder in _holders(holders):
        for key, section in (await holder.export(session, subscriber.id)).items():
            if key in data:
                raise ValueError(f"two holders of personal data export {key!r}")
            data[key] = section
    data["pending_confirmations"] = [
        {
            "purpose": t.purpose,
            "created_at": export_time(t.created_at),
            "expires_at": export_time(t.expires_at),
        }
        for t in pending
    ]
    return data


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
                "created_at": export_time(sub.created_at),
                "confirmed_at": export_time(sub.confirmed_at),
                "unsubscribed_at": export_time(sub.unsubscribed_at),
            }
        )
    return rows


async def _delete_person(
    session: AsyncSession, subscriber_id: int, holders: Sequence[PersonalData]
) -> None:
    """Delete a person and everything that names them: first what the holders keep (e.g.
    delivery rows stay for the issue's statistics but lose the SMTP reply text, bounce
    reports are deleted, because both may quote the address), then this domain's rows."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        session.expunge(subscriber)
    for holder in holders:
        await holder.erase(session, subscriber_id)
    await session.execute(delete(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id))
    await session.execute(delete(ActionToken).where(ActionToken.subscriber_id == subscriber_id))
    await session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    if subscriber is not None:  # queued and logged mails to the person, composed or not
        await mailqueue.forget(session, subscriber_id, subscriber.email)


async def erase(
    session: AsyncSession,
    settings: Settings,
    subscriber_id: int,
    *,
    actor: str,
    holders: Sequence[PersonalData] | None = None,
) -> None:
    """Art. 17 erasure; idempotent (an unknown id does nothing)."""
    subscriber = await get_subscriber(session, subscriber_id)
    if subscriber is None:
        return
    await suppression.suppress(session, settings, subscriber.email, "erased")
    await _delete_person(session, subscriber_id, _holders(holders))
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
    session: AsyncSession,
    settings: Settings,
    now: datetime | None = None,
    *,
    holders: Sequence[PersonalData] | None = None,
) -> dict[str, int]:
    """Purge what we may no longer keep; returns counts per category."""
    now = now or utcnow()
    holders = _holders(holders)
    result = {"unconfirmed": 0, "unsubscribed": 0, "bounced": 0, "tokens": 0}
    unconfirmed = await _ids(
        session,
        Subscriber.status == "pending",
        Subscriber.created_at < now - timedelta(days=settings.unconfirmed_days),
    )
    for subscriber_id, _email in unconfirmed:
        await _delete_person(session, subscriber_id, holders)
    result["unconfirmed"] = len(unconfirmed)
    for status, days, stamp in (
        ("unsubscribed", settings.unsubscribed_days, Subscriber.unsubscribed_at),
        ("bounced", settings.bounced_days, Subscriber.bounced_at),
    ):
        gone = await _ids(session, Subscriber.status == status, stamp < now - timedelta(days=days))
        for subscriber_id, email in gone:
            await suppression.suppress(session, settings, email, status)
            await _delete_person(session, subscriber_id, holders)
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
