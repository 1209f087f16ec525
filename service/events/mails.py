"""The registration mails: built here, put in the transactional mail queue, sent by the
delivery worker (so they get the same headers and DKIM signature as every other mail).

Each mail's texts are templates under ``templates/mail/events/``. Mails about a
booked seat carry the event as an .ics (``text/calendar``, METHOD:PUBLISH, the calendar
item's stable UID and its SEQUENCE, so a calendar replaces its copy on an update) and
a cancellation carries METHOD:CANCEL. Every queued row has the reference
``event:<event id>:reg:<registration id>`` (an information mail: ``event:<id>:info:<n>``),
so a registration's mails can be found, and erased, with it.

The confirmation-link mail (``registration-confirm``) is *composed* by the worker
(:func:`compose_confirm`, registered in ``service.delivery.outbound.COMPOSERS``): the
web request writes the registration and one queue row, whatever the address.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.ical import item_attachment
from service.calendar.models import CalendarItem
from service.core.dates import format_datetime, format_when
from service.db import utcnow
from service.events import links
from service.events.messages import MESSAGES
from service.events.models import ACTIVE, Event, Registration
from service.mail import queue as mailqueue
from service.mail import texts
from service.security.signing import hash_token, new_token
from service.settings import Settings

CONFIRM_KIND = "registration-confirm"
KINDS = {
    "confirm": CONFIRM_KIND,
    "already": CONFIRM_KIND,  # the answer to a second registration of the same address
    "confirmed": "registration-confirmed",
    "waitlisted": "registration-waitlisted",
    "offer": "registration-offer",
    "update": "registration-update",
    "cancelled": "registration-cancelled",
    "reminder": "registration-reminder",
    "info": "event-info",
}
RECONFIRM_INTERVAL = timedelta(hours=1)  # at most one confirmation link per hour and event
ICS_NAME = "evenemang.ics"


def registration_reference(registration: Registration) -> str:
    return f"event:{registration.event_id}:reg:{registration.id}"


def info_reference(event_id: int, number: int) -> str:
    return f"event:{event_id}:info:{number}"


def event_prefix(event_id: int) -> str:
    return f"event:{event_id}:"


# ---------------------------------------------------------------------- the item


def snapshot(item: CalendarItem) -> dict[str, Any]:
    """What attendees are told about the item (kept on ``Event.announced``)."""
    return {
        "uid": item.uid,
        "title": item.title,
        "all_day": bool(item.all_day),
        "starts_at": item.starts_at.isoformat() if item.starts_at else None,
        "ends_at": item.ends_at.isoformat() if item.ends_at else None,
        "start_date": item.start_date.isoformat(),
        "end_date": item.end_date.isoformat() if item.end_date else None,
        "place": item.place or "",
    }


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def from_snapshot(data: dict[str, Any]) -> CalendarItem:
    """A transient item (never added to a session) as attendees last heard of it."""
    return CalendarItem(
        id=0,
        uid=str(data.get("uid") or ""),
        title=str(data.get("title") or ""),
        all_day=bool(data.get("all_day")),
        starts_at=_moment(data.get("starts_at")),
        ends_at=_moment(data.get("ends_at")),
        start_date=date.fromisoformat(str(data["start_date"])),
        end_date=date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
        place=str(data.get("place") or ""),
        link="",
        organiser="",
        description="",
        sequence=0,
    )


def is_gone(item: CalendarItem) -> bool:
    """Whether ``item`` is the announced copy of a deleted calendar item."""
    return not item.id


async def item_of(session: AsyncSession, event: Event) -> CalendarItem | None:
    """The event's calendar item, or as it was announced once the item is deleted."""
    if event.calendar_item_id is not None:
        item = await session.get(CalendarItem, event.calendar_item_id)
        if item is not None:
            return item
    return from_snapshot(event.announced) if event.announced.get("start_date") else None


# ---------------------------------------------------------------------- building


def _context(
    settings: Settings, event: Event, item: CalendarItem, registration: Registration
) -> dict[str, Any]:
    return {
        "title": item.title,
        "when": format_when(item),
        "place": item.place,
        "name": registration.name,
        "status": registration.status,
        "manage_url": links.manage_url(settings, registration.id, registration.manage_version),
    }


def build(
    settings: Settings,
    event: Event,
    item: CalendarItem,
    registration: Registration,
    template: str,
    *,
    ics: str | None = None,  # "publish" or "cancel"
    sequence: int | None = None,
    **context: Any,
) -> EmailMessage:
    """The mail ``template`` (``templates/mail/events/<template>.*``) to ``registration``."""
    message = texts.build(
        settings,
        to=registration.email,
        template=f"events/{template}",
        context={**_context(settings, event, item, registration), **context},
    )
    if ics is not None:
        body = item_attachment(
            settings,
            item,
            sequence=item.sequence if sequence is None else sequence,
            cancelled=ics == "cancel",
        )
        message.add_attachment(
            body,
            maintype="text",
            subtype="calendar",
            filename=ICS_NAME,
            params={"method": "CANCEL" if ics == "cancel" else "PUBLISH", "charset": "utf-8"},
        )
    return message


def queue(
    session: AsyncSession,
    settings: Settings,
    event: Event,
    item: CalendarItem,
    registration: Registration,
    template: str,
    *,
    reference: str | None = None,
    now: datetime | None = None,
    **kwargs: Any,
) -> None:
    """Build the mail and queue it in the caller's transaction."""
    message = build(settings, event, item, registration, template, **kwargs)
    mailqueue.enqueue(
        session,
        message,
        kind=KINDS[template],
        reference=reference or registration_reference(registration),
        now=now,
    )


def queue_seat_mail(
    session: AsyncSession,
    settings: Settings,
    event: Event,
    item: CalendarItem,
    registration: Registration,
    *,
    now: datetime,
) -> None:
    """The mail that tells a person the seat decision just made for them."""
    if registration.status == "confirmed":
        queue(session, settings, event, item, registration, "confirmed", ics="publish", now=now)
    elif registration.status == "offered" and registration.offer_expires_at is not None:
        queue(
            session,
            settings,
            event,
            item,
            registration,
            "offer",
            expires=format_datetime(registration.offer_expires_at),
            now=now,
        )
    elif registration.status == "waitlisted":
        queue(session, settings, event, item, registration, "waitlisted", now=now)


# ---------------------------------------------------------------------- composer


async def compose_confirm(
    session: AsyncSession, settings: Settings, payload: dict[str, Any]
) -> mailqueue.Composed | mailqueue.Skipped:
    """Compose the confirmation-link mail of a registration (in the worker).

    The same address registering again for the same event: if it already holds a
    registration (confirmed, offered, waitlisted) it gets that registration's personal
    link instead, and the new row is dropped; if a confirmation link went to it less
    than an hour ago, nothing is sent and the new row is dropped (the earlier link
    still works); older unconfirmed rows of the address give way to the new one.
    """
    now = utcnow()
    registration = await session.get(Registration, int(payload["registration_id"]))
    if registration is None or registration.status != "pending":
        return mailqueue.Skipped(MESSAGES["registration_gone"])
    event = await session.get(Event, registration.event_id)
    item = await item_of(session, event) if event is not None else None
    if event is None or item is None or event.cancelled_at is not None:
        await session.delete(registration)
        return mailqueue.Skipped(MESSAGES["cancelled"])
    others = list(
        (
            await session.execute(
                select(Registration).where(
                    Registration.event_id == event.id,
                    Registration.email == registration.email,
                    Registration.id != registration.id,
                    Registration.status.in_((*ACTIVE, "pending")),
                )
            )
        ).scalars()
    )
    active = next((r for r in others if r.status in ACTIVE), None)
    if active is not None:
        await session.delete(registration)
        message = build(settings, event, item, active, "already")
        return mailqueue.Composed(message=message)
    recent = [
        r
        for r in others
        if r.confirm_token_hash is not None and r.created_at > now - RECONFIRM_INTERVAL
    ]
    if recent:
        await session.delete(registration)
        return mailqueue.Skipped(MESSAGES["throttled"])
    if others:
        await session.execute(
            delete(Registration).where(Registration.id.in_([r.id for r in others]))
        )
    raw = new_token()
    registration.confirm_token_hash = hash_token(raw)
    registration.confirm_expires_at = now + timedelta(days=settings.unconfirmed_days)
    message = build(
        settings,
        event,
        item,
        registration,
        "confirm",
        confirm_url=links.confirm_url(settings, raw),
        days=settings.unconfirmed_days,
    )
    return mailqueue.Composed(message=message)
