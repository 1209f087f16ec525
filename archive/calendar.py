"""The public calendar: upcoming items grouped by month, past items paged, cached feeds.

"Upcoming" means the item has not ended before today (Europe/Stockholm). The .ics of the
whole calendar and the RSS of upcoming items are cached in ``kv_cache`` and rebuilt only
when an item changes (count + latest ``updated_at`` + the date, for the RSS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from archive.ical import CALENDAR_NAME, build_calendar, item_description
from archive.service import CachedBody, cached_body
from service.calendar.models import CalendarItem
from service.core.dates import MONTHS, STOCKHOLM, format_when
from service.db import utcnow
from service.errors import NotFound
from service.settings import Settings

PAST_PER_PAGE = 20
RSS_LIMIT = 50


@dataclass(frozen=True)
class MonthGroup:
    label: str  # "oktober 2026"
    items: list[CalendarItem]


@dataclass(frozen=True)
class PastPage:
    items: list[CalendarItem]
    page: int
    pages: int
    total: int


def today() -> date:
    return utcnow().astimezone(STOCKHOLM).date()


def _upcoming(day: date) -> ColumnElement[bool]:
    return or_(
        CalendarItem.start_date >= day,
        CalendarItem.end_date >= day,
    )


def _past(day: date) -> ColumnElement[bool]:
    return (CalendarItem.start_date < day) & (
        CalendarItem.end_date.is_(None) | (CalendarItem.end_date < day)
    )


async def upcoming(session: AsyncSession, *, limit: int = 500) -> list[MonthGroup]:
    items = (
        await session.scalars(
            select(CalendarItem)
            .where(_upcoming(today()))
            .order_by(CalendarItem.start_date, CalendarItem.starts_at, CalendarItem.id)
            .limit(limit)
        )
    ).all()
    groups: list[MonthGroup] = []
    for item in items:
        label = f"{MONTHS[item.start_date.month - 1]} {item.start_date.year}"
        if not groups or groups[-1].label != label:
            groups.append(MonthGroup(label=label, items=[]))
        groups[-1].items.append(item)
    return groups


async def past(session: AsyncSession, *, page: int = 1, per_page: int = PAST_PER_PAGE) -> PastPage:
    condition = _past(today())
    total = int(await session.scalar(select(func.count(CalendarItem.id)).where(condition)) or 0)
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        raise NotFound("Den sidan finns inte i kalendern.")
    items = (
        await session.scalars(
            select(CalendarItem)
            .where(condition)
            .order_by(
                CalendarItem.start_date.desc(),
                CalendarItem.starts_at.desc(),
                CalendarItem.id.desc(),
            )
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ).all()
    return PastPage(items=list(items), page=page, pages=pages, total=total)


async def item(session: AsyncSession, item_id: int) -> CalendarItem:
    found = await session.get(CalendarItem, item_id)
    if found is None:
        raise NotFound("Aktiviteten finns inte i kalendern.")
    return found


def fingerprint_select() -> Select[int, datetime, int]:
    """Count, latest change and SEQUENCE sum of the calendar items."""
    return select(
        func.count(CalendarItem.id),
        func.max(CalendarItem.updated_at),
        func.sum(CalendarItem.sequence),
    )


def fingerprint_text(row: Sequence[Any]) -> str:
    """The fingerprint string of a :func:`fingerprint_select` row."""
    count, updated, sequences = row
    return f"{count}:{updated}:{sequences}"


async def calendar_fingerprint(session: AsyncSession) -> str:
    return fingerprint_text((await session.execute(fingerprint_select())).one())


async def calendar_ics(session: AsyncSession, settings: Settings) -> CachedBody:
    """Every item as one iCalendar body, rebuilt only when an item changed."""

    async def build() -> bytes:
        items = await session.scalars(
            select(CalendarItem).order_by(CalendarItem.start_date, CalendarItem.id)
        )
        return build_calendar(settings, items.all())

    return await cached_body(
        session, "archive:calendar:ics", await calendar_fingerprint(session), build
    )


def item_filename(found: CalendarItem) -> str:
    """``2026-10-04-finsam-kalendern-12.ics`` (ASCII only, safe in a header)."""
    return f"{found.start_date.isoformat()}-finsam-kalendern-{found.id}.ics"


def item_ics(settings: Settings, found: CalendarItem) -> bytes:
    return build_calendar(settings, [found], name=f"{CALENDAR_NAME}: {found.title}")


async def calendar_rss(session: AsyncSession, settings: Settings) -> CachedBody:
    """RSS 2.0 of upcoming items (soonest first), rebuilt when items or the date change."""
    day = today()
    fingerprint = f"{await calendar_fingerprint(session)}:{day.isoformat()}"

    async def build() -> bytes:
        items = (
            await session.scalars(
                select(CalendarItem)
                .where(_upcoming(day))
                .order_by(CalendarItem.start_date, CalendarItem.starts_at, CalendarItem.id)
                .limit(RSS_LIMIT)
            )
        ).all()
        self_url = settings.url("/kalender/rss.xml")
        fg = FeedGenerator()
        fg.title(f"{CALENDAR_NAME} – kommande aktiviteter")
        fg.description(f"Kommande aktiviteter från {settings.org_name}")
        fg.link(href=self_url, rel="self")
        fg.link(href=settings.url("/kalender"), rel="alternate")
        fg.language("sv")
        fg.generator("Innanförskapet")
        fg.lastBuildDate(utcnow())
        for found in items:
            entry = fg.add_entry(order="append")
            url = settings.url(f"/kalender#item-{found.id}")
            entry.guid(f"{settings.url('/kalender')}/{found.id}#{found.uid}", permalink=False)
            entry.title(found.title)
            entry.link(href=url)
            text = format_when(found)
            if found.place:
                text += f", {found.place}"
            more = item_description(found)
            entry.description(text + ("\n" + more if more else ""))
            entry.pubDate(found.created_at)
        body: bytes = fg.rss_str(pretty=False)
        return body

    return await cached_body(session, "archive:calendar:rss", fingerprint, build)
