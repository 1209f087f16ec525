"""What the block editor offers to choose from: calendar items and library images.

The calendar block's form lists the items from the issue date on (soonest first) as
checkboxes, together with the items a block has already chosen even when they are past;
the article's image field lists the uploaded images of the media library. Block
validation uses the same lookups: chosen calendar items must exist, a ``/media/`` image
must be in the library, and an image picked without an alternative text gets the one it
was last given in an article (the library stores none of its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core.dates import format_when
from service.db import is_row_id
from service.issues.models import Block
from service.media.models import MediaFile

# How many upcoming items the picker lists, and how many articles are read for the alt
# text an image was last given (newest first; older uses are not looked at).
PICKER_LIMIT = 100
ALT_LOOKBACK = 2000


@dataclass(frozen=True)
class CalendarOption:
    id: int
    when: str  # "fredag 4 oktober kl. 10.00–12.00" (Swedish, year only when not the issue's)
    title: str
    past: bool  # before the issue date: listed only because a block has chosen it
    start: date


@dataclass(frozen=True)
class CalendarChoice:
    option: CalendarOption
    checked: bool


def split_ids(value: Any) -> Any:
    """``item_ids`` as an old form or the API typed them (``"12, 15"``) as a list of its
    parts; anything else as it is."""
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return value


def chosen_ids(value: Any) -> list[int]:
    """The item ids in a block's ``item_ids`` as stored (ints), as a form sends them
    (strings) or as an old form typed them (``"12, 15"``); anything else is left out."""
    value = split_ids(value)
    if not isinstance(value, list | tuple):
        return []
    ids: list[int] = []
    for raw in value:
        text = str(raw).strip()
        if text.isdigit() and is_row_id(int(text)) and int(text) not in ids:
            ids.append(int(text))
    return ids


@dataclass(frozen=True)
class CalendarPicker:
    """The calendar items an issue's calendar blocks can choose from."""

    upcoming: list[CalendarOption]
    known: dict[int, CalendarOption]  # upcoming ones and every item a block has chosen

    def choices(self, item_ids: Any) -> list[CalendarChoice]:
        """The checkboxes of one block: its chosen past items, then the upcoming ones,
        in date order, each ticked when the block has chosen it."""
        chosen = chosen_ids(item_ids)
        shown = {option.id for option in self.upcoming}
        past = sorted(
            (self.known[i] for i in chosen if i in self.known and i not in shown),
            key=lambda option: (option.start, option.id),
        )
        return [CalendarChoice(option, option.id in chosen) for option in [*past, *self.upcoming]]


def _option(item: CalendarItem, reference: date) -> CalendarOption:
    last = item.end_date or item.start_date
    return CalendarOption(
        id=item.id,
        when=format_when(item, reference=reference),
        title=item.title,
        past=last < reference,
        start=item.start_date,
    )


async def calendar_picker(
    session: AsyncSession, reference: date, blocks: Iterable[Block]
) -> CalendarPicker:
    """The items from ``reference`` (the issue date) on, and those ``blocks`` have chosen."""
    upcoming_rows = (
        await session.scalars(
            select(CalendarItem)
            .where(
                or_(
                    CalendarItem.start_date >= reference,
                    CalendarItem.end_date >= reference,
                )
            )
            .order_by(CalendarItem.start_date, CalendarItem.starts_at, CalendarItem.id)
            .limit(PICKER_LIMIT)
        )
    ).all()
    upcoming = [_option(item, reference) for item in upcoming_rows]
    known = {option.id: option for option in upcoming}
    wanted = {
        i
        for block in blocks
        if block.kind == "calendar"
        for i in chosen_ids((block.data or {}).get("item_ids"))
        if i not in known
    }
    if wanted:
        rows = (
            await session.scalars(select(CalendarItem).where(CalendarItem.id.in_(wanted)))
        ).all()
        known.update({item.id: _option(item, reference) for item in rows})
    return CalendarPicker(upcoming=upcoming, known=known)


async def missing_items(session: AsyncSession, ids: list[int]) -> list[int]:
    """The ids in ``ids`` that are no calendar item (deleted, or never one)."""
    if not ids:
        return []
    found = set(await session.scalars(select(CalendarItem.id).where(CalendarItem.id.in_(ids))))
    return [i for i in ids if i not in found]


@dataclass(frozen=True)
class LibraryImage:
    src: str  # "/media/<sha256>.<ext>"
    name: str  # the uploaded file's name
    alt: str  # the alternative text it was last given in an article, or ""
    width: int | None
    height: int | None


async def _last_alts(session: AsyncSession) -> dict[str, str]:
    """Image src → the alternative text of its newest use in an article."""
    rows = await session.scalars(
        select(Block.data)
        .where(Block.kind == "article")
        .order_by(Block.id.desc())
        .limit(ALT_LOOKBACK)
    )
    alts: dict[str, str] = {}
    for data in rows:
        image = (data or {}).get("image")
        if isinstance(image, dict):
            src, alt = str(image.get("src") or ""), str(image.get("alt") or "").strip()
            if src and alt and src not in alts:
                alts[src] = alt
    return alts


async def library_images(session: AsyncSession) -> list[LibraryImage]:
    """Every uploaded image, newest first, with the alt text it was last given."""
    files = (await session.scalars(select(MediaFile).order_by(MediaFile.created_at.desc()))).all()
    alts = await _last_alts(session) if files else {}
    return [
        LibraryImage(
            src=f"/media/{media.filename}",
            name=media.original_name or media.filename,
            alt=alts.get(f"/media/{media.filename}", ""),
            width=media.width,
            height=media.height,
        )
        for media in files
    ]


async def in_library(session: AsyncSession, src: str) -> bool:
    """Whether ``src`` (``/media/<file>``) is an uploaded image."""
    filename = src.removeprefix("/media/")
    found = await session.scalar(select(MediaFile.id).where(MediaFile.filename == filename))
    return found is not None


async def library_alt(session: AsyncSession, src: str) -> str:
    """The alternative text ``src`` was last given in an article, or ``""``."""
    return (await _last_alts(session)).get(src, "")
