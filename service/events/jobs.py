"""The events domain's scheduler jobs (run by ``service.delivery.scheduler``).

Each takes ``now`` (tests pass a chosen one), works in the caller's transaction, and is
idempotent: what it has done is recorded in the rows it changes, in the same
transaction as the mails it queues, so running it again (or after a restart) sends
nothing twice.

* :func:`send_reminders`: one reminder ``reminder_days`` before the start per
  confirmed registration (``Registration.reminder_sent_at``);
* :func:`expire_offers`: offers past their deadline are cancelled and the seat goes
  to the next on the waitlist; free seats (e.g. after an erasure) are filled;
* :func:`notify_changes`: a calendar item edited since attendees were told
  (``CalendarItem.sequence`` above ``Event.notified_sequence``) whose time or place
  changed: an update mail with the new .ics to everyone registered; a deleted item:
  the event is cancelled (:func:`service.events.service.cancel_event`);
* :func:`erase_expired`: ``retention_days`` after the event, the attendees' data is
  deleted and only anonymous counts stay on the event (audited); unconfirmed
  registrations older than ``INNAN_UNCONFIRMED_DAYS`` are deleted.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core import audit
from service.db import after_commit, checkpoint_sqlite, utcnow
from service.events import mails
from service.events.models import ACTIVE, Event, Registration
from service.events.service import cancel_event, ends_at, fill_seats, starts_at
from service.mail.models import QueuedMail
from service.settings import Settings

CHANGE_KEYS = ("all_day", "starts_at", "ends_at", "start_date", "end_date", "place")


async def _open_events(session: AsyncSession) -> list[Event]:
    found = await session.execute(
        select(Event).where(Event.cancelled_at.is_(None), Event.erased_at.is_(None))
    )
    return list(found.scalars())


async def send_reminders(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> int:
    """Queue the reminders that are due; returns how many."""
    now = now or utcnow()
    sent = 0
    for event in await _open_events(session):
        item = await mails.item_of(session, event)
        if item is None or event.calendar_item_id is None or not event.reminder_days:
            continue
        start = starts_at(item)
        if not now < start <= now + timedelta(days=event.reminder_days):
            continue
        # Mark and read back in one statement: a second run (or a second leader for a
        # moment) finds nothing left to mark.
        marked = await session.execute(
            update(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.status == "confirmed",
                Registration.reminder_sent_at.is_(None),
            )
            .values(reminder_sent_at=now)
            .returning(Registration.id)
            .execution_options(synchronize_session=False)
        )
        ids = [int(row[0]) for row in marked.all()]
        if not ids:
            continue
        due = await session.execute(
            select(Registration)
            .where(Registration.id.in_(ids))
            .execution_options(populate_existing=True)
        )
        for registration in due.scalars():
            mails.queue(
                session, settings, event, item, registration, "reminder", ics="publish", now=now
            )
            sent += 1
    return sent


async def expire_offers(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> int:
    """Cancel offers past their deadline and pass the seats on; returns offers expired."""
    now = now or utcnow()
    expired = list(
        (
            await session.execute(
                select(Registration)
                .where(Registration.status == "offered", Registration.offer_expires_at <= now)
                .order_by(Registration.offer_expires_at, Registration.id)
            )
        ).scalars()
    )
    from service.events.service import _cancel

    for registration in expired:
        await _cancel(session, settings, registration, by="offer-expired", now=now)
    for event in await _open_events(session):
        await fill_seats(session, settings, event, now=now)
    return len(expired)


async def notify_changes(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> int:
    """Tell attendees about changed or removed events; returns the mails queued."""
    now = now or utcnow()
    queued = 0
    for event in await _open_events(session):
        if event.calendar_item_id is None:
            if event.announced:
                queued += await cancel_event(session, settings, event.id, actor="system", now=now)
            continue
        item = await session.get(CalendarItem, event.calendar_item_id)
        if item is None or item.sequence <= event.notified_sequence:
            continue
        new = mails.snapshot(item)
        old = dict(event.announced)
        event.announced = new
        event.notified_sequence = item.sequence
        if all(old.get(k) == new.get(k) for k in CHANGE_KEYS):
            continue  # a new description or link: nothing to tell
        changed = [k for k in ("starts_at", "start_date", "place") if old.get(k) != new.get(k)]
        registrations = (
            await session.execute(
                select(Registration).where(
                    Registration.event_id == event.id, Registration.status.in_(ACTIVE)
                )
            )
        ).scalars()
        for registration in registrations:
            mails.queue(
                session,
                settings,
                event,
                item,
                registration,
                "update",
                ics="publish",
                sequence=item.sequence,
                changed_place="place" in changed,
                changed_time=any(k != "place" for k in changed) or not changed,
                now=now,
            )
            queued += 1
    await session.flush()
    return queued


async def erase_expired(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """Retention: erase attendee data of events over for ``retention_days`` (keeping
    anonymous counts on the event), and unconfirmed registrations past their link."""
    now = now or utcnow()
    result = {"events": 0, "registrations": 0, "unconfirmed": 0}
    events = (await session.execute(select(Event).where(Event.erased_at.is_(None)))).scalars()
    for event in list(events):
        item = await mails.item_of(session, event)
        over = ends_at(item) if item is not None else (event.cancelled_at or event.updated_at)
        if over + timedelta(days=event.retention_days) > now:
            continue
        rows = list(
            (
                await session.execute(select(Registration).where(Registration.event_id == event.id))
            ).scalars()
        )
        by = Counter(r.status for r in rows)
        event.stats = {
            "registered": sum(n for s, n in by.items() if s != "pending"),
            "confirmed": by["confirmed"],
            "waitlisted": by["waitlisted"],
            "cancelled": by["cancelled"],
            "attended": sum(1 for r in rows if r.attended_at is not None),
            "per_organisation": dict(
                Counter(r.organisation or "Okänd" for r in rows if r.status == "confirmed")
            ),
        }
        event.erased_at = now
        await session.execute(delete(Registration).where(Registration.event_id == event.id))
        await session.execute(
            delete(QueuedMail).where(QueuedMail.reference.startswith(mails.event_prefix(event.id)))
        )
        audit.record(session, "system", "event.erased", "event", event.id, registrations=len(rows))
        result["events"] += 1
        result["registrations"] += len(rows)
    stale = await session.execute(
        delete(Registration)
        .where(
            Registration.status == "pending",
            Registration.created_at < now - timedelta(days=settings.unconfirmed_days),
        )
        .returning(Registration.id)
    )
    result["unconfirmed"] = len(stale.all())
    if any(result.values()):
        audit.record(session, "system", "events.retention", "events", None, **result)
        after_commit(session, checkpoint_sqlite)
    await session.flush()
    return result


async def run_periodic(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """The frequent jobs together (the scheduler runs this every few minutes)."""
    now = now or utcnow()
    return {
        "changes": await notify_changes(session, settings, now=now),
        "offers": await expire_offers(session, settings, now=now),
        "reminders": await send_reminders(session, settings, now=now),
    }
