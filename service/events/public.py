"""What the public calendar and a newsletter's calendar block show of an item's
registration (see :mod:`service.public_calendar`): "Anmäl dig" with the seats left and
the closing date, "Fullbokat – skriv upp dig på reservlistan", when it opens, or why it
is shut.

The seats change with every confirmation, so the notes are fingerprinted by the
events' counters (:func:`fingerprint_select`; ``Event.updated_at`` is set by every
UPDATE of the row, the seat counter's too), and a note says when the clock alone
changes it (registration opens or closes, the event starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core.dates import format_date, format_datetime, local
from service.db import utcnow
from service.events.models import Event
from service.events.service import Availability, availability, starts_at
from service.public_calendar import ItemNote

WAITLIST_LABEL = "Fullbokat – skriv upp dig på reservlistan"


def registration_path(item_id: int) -> str:
    return f"/kalender/{item_id}/anmalan"


def seats_text(left: int | None) -> str:
    """``12 platser kvar``, ``1 plats kvar``; empty when unlimited."""
    if left is None:
        return ""
    return "1 plats kvar" if left == 1 else f"{left} platser kvar"


def closing_text(closes_at: datetime | None) -> str:
    """``Sista anmälningsdag 1 oktober 2026`` when registration closes at midnight (as
    an item's registration deadline makes it), else ``Anmälan stänger … kl. 12.00``."""
    if closes_at is None:
        return ""
    moment = local(closes_at)
    if (moment.hour, moment.minute) == (0, 0):
        return f"Sista anmälningsdag {format_date((moment - timedelta(days=1)).date())}"
    return f"Anmälan stänger {format_datetime(closes_at)}"


def _sentences(*parts: str) -> str:
    return " ".join(f"{p}." for p in parts if p)


def note_of(item_id: int, state: Availability, changes_at: datetime | None) -> ItemNote:
    """The note for an item whose registration is in ``state``."""
    href = registration_path(item_id)
    closing = closing_text(state.closes_at)
    # A newsletter links to the form while it takes (or will take) registrations.
    mail = {"mail_href": href, "mail_label": "Anmäl dig"}
    if state.state == "open":
        detail = _sentences(seats_text(state.seats_left), closing)
        return ItemNote(href, "Anmäl dig", detail, changes_at, **mail)
    if state.state == "waitlist":
        return ItemNote(href, WAITLIST_LABEL, _sentences(closing), changes_at, **mail)
    if state.state == "not_open" and state.opens_at is not None:
        opens = f"Anmälan öppnar {format_datetime(state.opens_at)}"
        return ItemNote("", opens + ".", _sentences(closing), changes_at, **mail)
    if state.state == "full":
        return ItemNote("", "Fullbokat.", "Det finns inga platser kvar.", changes_at)
    if state.state == "cancelled":
        return ItemNote("", "Evenemanget är inställt.", "", changes_at)
    return ItemNote("", "Anmälan är stängd.", "", changes_at)


def _next_change(
    event: Event, item: CalendarItem, state: Availability, now: datetime
) -> datetime | None:
    moments = (event.opens_at, state.closes_at, starts_at(item))
    return min((m for m in moments if m is not None and m > now), default=None)


async def registration_notes(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, ItemNote]:
    """A note for every item of ``item_ids`` that has registration turned on."""
    now = utcnow()
    rows = await session.execute(
        select(Event, CalendarItem)
        .join(CalendarItem, CalendarItem.id == Event.calendar_item_id)
        .where(Event.calendar_item_id.in_(list(item_ids)))
    )
    notes: dict[int, ItemNote] = {}
    for event, item in rows.all():
        state = availability(event, item, now)
        notes[item.id] = note_of(item.id, state, _next_change(event, item, state, now))
    return notes


def fingerprint_select() -> Select[int, datetime, int, int]:
    """Count, latest change, seats taken and cancellations of the events: every write
    that changes a note changes one of them."""
    return select(
        func.count(Event.id),
        func.max(Event.updated_at),
        func.sum(Event.seats_taken),
        func.count(Event.cancelled_at),
    )
