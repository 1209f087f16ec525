"""What the events domain keeps about a subscriber, for their export and erasure.

Registrations are not tied to a subscriber row (anyone may register): they are matched
by the subscriber's (normalised) address. An export lists them with their answers; an
erasure (or the subscribers' retention purge) deletes them and their queued mails, and
gives a held seat back (the events job :func:`service.events.jobs.expire_offers` passes
it on to the waitlist). Named in ``service.personal_data.HOLDERS``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.events import mails
from service.events.models import HOLDS_SEAT, Event, Registration
from service.mail.models import QueuedMail
from subscribers.models import Subscriber
from subscribers.service import PersonalData, export_time


async def _address(session: AsyncSession, subscriber_id: int) -> str | None:
    found = await session.execute(select(Subscriber.email).where(Subscriber.id == subscriber_id))
    email = found.scalar_one_or_none()
    return str(email) if email is not None else None


class EventRecords:
    """The :class:`~subscribers.privacy.PersonalData` holder of the events domain."""

    async def export(self, session: AsyncSession, subscriber_id: int) -> dict[str, Any]:
        email = await _address(session, subscriber_id)
        if email is None:
            return {"event_registrations": []}
        rows = await session.execute(
            select(Registration, Event)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.email == email)
            .order_by(Registration.id)
        )
        return {
            "event_registrations": [
                {
                    "event": event.announced.get("title", ""),
                    "event_uid": event.announced.get("uid", ""),
                    "status": r.status,
                    "name": r.name,
                    "organisation": r.organisation,
                    "role": r.role,
                    "phone": r.phone,
                    "needs": r.needs,
                    "answers": r.answers,
                    "consent_text_id": r.consent_text_id,
                    "newsletter": r.newsletter,
                    "created_at": export_time(r.created_at),
                    "confirmed_at": export_time(r.confirmed_at),
                    "cancelled_at": export_time(r.cancelled_at),
                    "attended_at": export_time(r.attended_at),
                }
                for r, event in rows.all()
            ]
        }

    async def erase(self, session: AsyncSession, subscriber_id: int) -> None:
        email = await _address(session, subscriber_id)
        if email is None:
            return
        found = await session.execute(select(Registration).where(Registration.email == email))
        for registration in list(found.scalars()):
            if registration.status in HOLDS_SEAT:
                await session.execute(
                    update(Event)
                    .where(Event.id == registration.event_id, Event.seats_taken > 0)
                    .values(seats_taken=Event.seats_taken - 1)
                    .execution_options(synchronize_session=False)
                )
            await session.execute(
                delete(QueuedMail).where(
                    QueuedMail.reference == mails.registration_reference(registration)
                )
            )
        await session.execute(delete(Registration).where(Registration.email == email))


RECORDS: PersonalData = EventRecords()
