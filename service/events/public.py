"""What the public calendar page shows of an item's registration (see
:mod:`service.public_calendar`): an "Anmäl dig" link and when registration closes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core.dates import format_datetime
from service.events.models import Event
from service.events.service import closing_time
from service.public_calendar import ItemNote


def registration_path(item_id: int) -> str:
    return f"/kalender/{item_id}/anmalan"


async def registration_notes(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, ItemNote]:
    """A note for every item of ``item_ids`` with registration that is not cancelled."""
    rows = await session.execute(
        select(Event, CalendarItem)
        .join(CalendarItem, CalendarItem.id == Event.calendar_item_id)
        .where(Event.calendar_item_id.in_(list(item_ids)), Event.cancelled_at.is_(None))
    )
    notes: dict[int, ItemNote] = {}
    for event, item in rows.all():
        closes = closing_time(event, item)
        notes[item.id] = ItemNote(
            href=registration_path(item.id),
            label="Anmäl dig",
            detail=f"Anmälan stänger {format_datetime(closes)}.",
        )
    return notes
