"""Calendar items (Kalendarium): create, edit, delete, list.

Timed items are entered as local date + time in Europe/Stockholm and stored in UTC;
all-day items are a date range. ``uid`` is stable (``<uuid4>@<mail_domain>``) and
``sequence`` is bumped on each edit, as iCalendar expects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core import audit
from service.core.dates import STOCKHOLM
from service.core.text import MULTI_LINE_MESSAGE, SINGLE_LINE_MESSAGE, has_control_chars
from service.db import is_row_id
from service.errors import NotFound, ValidationFailed
from service.settings import Settings


@dataclass
class ItemFields:
    title: str
    start_date: date | str | None = None
    start_time: time | str | None = None
    end_date: date | str | None = None
    end_time: time | str | None = None
    all_day: bool = False
    place: str = ""
    link: str = ""
    registration_deadline: date | str | None = None
    organiser: str = ""
    description: str = ""


def _date(errors: dict[str, str], key: str, value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[key] = "Ange datumet som ÅÅÅÅ-MM-DD."
        return None


def _time(errors: dict[str, str], key: str, value: time | str | None) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        errors[key] = "Ange klockslaget som TT:MM."
        return None


def _local(d: date, t: time) -> datetime:
    return datetime.combine(d, t).replace(tzinfo=STOCKHOLM).astimezone(UTC)


def validate(f: ItemFields) -> dict[str, object]:
    errors: dict[str, str] = {}
    title = (f.title or "").strip()
    if not title:
        errors["title"] = "Ange en rubrik (tema)."
    elif len(title) > 200:
        errors["title"] = "Högst 200 tecken."
    elif has_control_chars(title):
        errors["title"] = SINGLE_LINE_MESSAGE
    limits = {"place": 300, "organiser": 200, "description": 5000, "link": 1000}
    texts = {k: (getattr(f, k) or "").strip() for k in limits}
    for key, maximum in limits.items():
        if len(texts[key]) > maximum:
            errors[key] = f"Högst {maximum} tecken."
        elif key == "description" and has_control_chars(texts[key], multiline=True):
            errors[key] = MULTI_LINE_MESSAGE
        elif key != "description" and has_control_chars(texts[key]):
            errors[key] = SINGLE_LINE_MESSAGE
    link = texts["link"]
    if link and "link" not in errors:
        parts = urlsplit(link)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            errors["link"] = "Länken måste börja med http:// eller https://."
    start_date = _date(errors, "start_date", f.start_date)
    end_date = _date(errors, "end_date", f.end_date)
    deadline = _date(errors, "registration_deadline", f.registration_deadline)
    start_time = _time(errors, "start_time", f.start_time)
    end_time = _time(errors, "end_time", f.end_time)
    if start_date is None and "start_date" not in errors:
        errors["start_date"] = "Ange startdatum."
    starts_at = ends_at = None
    if start_date is not None and not errors:
        if f.all_day:
            if end_date is not None and end_date < start_date:
                errors["end_date"] = "Slutdatum kan inte vara före startdatum."
        else:
            if start_time is None:
                errors["start_time"] = "Ange starttid, eller markera heldag."
            else:
                starts_at = _local(start_date, start_time)
                if end_time is not None:
                    ends_at = _local(end_date or start_date, end_time)
                elif end_date is not None:
                    errors["end_time"] = "Ange sluttid för slutdatumet."
                if ends_at is not None and ends_at <= starts_at:
                    errors["end_time"] = "Slutet måste komma efter starten."
    if errors:
        raise ValidationFailed(
            "Kalenderpunkten innehåller fel. Rätta de markerade fälten.", fields=errors
        )
    return {
        "title": title,
        "all_day": bool(f.all_day),
        "start_date": start_date,
        "end_date": end_date if f.all_day else None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "registration_deadline": deadline,
        **texts,
    }


async def list_items(session: AsyncSession) -> list[CalendarItem]:
    stmt = select(CalendarItem).order_by(CalendarItem.start_date.desc(), CalendarItem.id)
    return list((await session.execute(stmt)).scalars())


async def get_item(session: AsyncSession, item_id: int) -> CalendarItem:
    item = await session.get(CalendarItem, item_id) if is_row_id(item_id) else None
    if item is None:
        raise NotFound("Kalenderpunkten finns inte.")
    return item


async def create_item(
    session: AsyncSession, settings: Settings, f: ItemFields, *, actor: str
) -> CalendarItem:
    clean = validate(f)
    item = CalendarItem(uid=f"{uuid.uuid4()}@{settings.mail_domain}", sequence=0, **clean)
    session.add(item)
    await session.flush()
    audit.record(session, actor, "calendar.create", "calendar_item", item.id, title=item.title)
    return item


async def update_item(
    session: AsyncSession, item_id: int, f: ItemFields, *, actor: str
) -> CalendarItem:
    item = await get_item(session, item_id)
    clean = validate(f)
    for key, value in clean.items():
        setattr(item, key, value)
    item.sequence = (item.sequence or 0) + 1
    await session.flush()
    audit.record(session, actor, "calendar.edit", "calendar_item", item.id)
    return item


async def delete_item(session: AsyncSession, item_id: int, *, actor: str) -> None:
    item = await get_item(session, item_id)
    audit.record(session, actor, "calendar.delete", "calendar_item", item.id, title=item.title)
    await session.delete(item)
    await session.flush()


def local_parts(item: CalendarItem) -> dict[str, str]:
    """Form values for an existing item (local Stockholm date/time)."""
    out = {
        "start_date": item.start_date.isoformat(),
        "start_time": "",
        "end_date": "",
        "end_time": "",
    }
    if item.all_day:
        out["end_date"] = item.end_date.isoformat() if item.end_date else ""
    elif item.starts_at is not None:
        start = item.starts_at.astimezone(STOCKHOLM)
        out["start_time"] = start.strftime("%H:%M")
        if item.ends_at is not None:
            end = item.ends_at.astimezone(STOCKHOLM)
            out["end_time"] = end.strftime("%H:%M")
            if end.date() != start.date():
                out["end_date"] = end.date().isoformat()
    return out
