"""Demo calendar items: the three items of the August 2019 newsletter, and a few upcoming
items relative to today so the public calendar has something ahead. Idempotent (by UID)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core.dates import STOCKHOLM
from service.db import utcnow
from service.settings import Settings

KALENDARIUM = "https://sfhalland.se/samverkansguiden/kalendarium"
ORGANISER = "Samordningsförbundet i Halland"

# The August 2019 items (UIDs are referenced by the demo issue's calendar block).
AUGUST_2019_UIDS = (
    "demo-2019-09-20-arbetsplatsambassadorsdag@innanforskapet",
    "demo-2019-10-03-grundutbildning-forsakringsmedicin@innanforskapet",
    "demo-2019-10-04-oppen-konferensplanering@innanforskapet",
)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=STOCKHOLM)


def _timed(
    uid: str, title: str, day: date, start: tuple[int, int], end: tuple[int, int], **fields: object
) -> CalendarItem:
    return CalendarItem(
        uid=uid,
        title=title,
        all_day=False,
        starts_at=_local(day, *start),
        ends_at=_local(day, *end),
        start_date=day,
        **fields,
    )


def _all_day(
    uid: str, title: str, day: date, end: date | None = None, **fields: object
) -> CalendarItem:
    return CalendarItem(uid=uid, title=title, all_day=True, start_date=day, end_date=end, **fields)


def demo_items(today: date) -> list[CalendarItem]:
    """Every demo item (new objects; ``load`` adds the ones whose UID is missing)."""
    return [
        _all_day(
            AUGUST_2019_UIDS[0],
            "Arbetsplatsambassadörsdag Tema Språkinlärning",
            date(2019, 9, 20),
            place="Folkets Hus Varberg",
            link=KALENDARIUM,
            organiser=ORGANISER,
            description="En dag för arbetsplatsambassadörer med tema språkinlärning.",
        ),
        _all_day(
            AUGUST_2019_UIDS[1],
            "Grundutbildning i försäkringsmedicin och rehabsamordning",
            date(2019, 10, 3),
            place="Folkets Hus i Varberg",
            link=KALENDARIUM,
            organiser=ORGANISER,
        ),
        _timed(
            AUGUST_2019_UIDS[2],
            "Öppen konferensplanering",
            date(2019, 10, 4),
            (10, 0),
            (12, 0),
            place="Samordningsförbundet i Halland, Storgatan 6, Halmstad",
            link=KALENDARIUM,
            registration_deadline=date(2019, 10, 1),
            organiser=ORGANISER,
            description=(
                "Öppen planeringsträff inför FINSAM-konferensen 2020 med temat "
                "”Innanförskapets möjligheter”."
            ),
        ),
        _timed(
            "demo-upcoming-natverkstraff@innanforskapet",
            "Nätverksträff för individsamverkansteamen",
            today + timedelta(days=16),
            (13, 0),
            (16, 0),
            place="Folkets Hus Varberg",
            link=KALENDARIUM,
            registration_deadline=today + timedelta(days=9),
            organiser=ORGANISER,
            description="Erfarenhetsutbyte mellan teamen i Halmstad, Varberg och Kungsbacka.",
        ),
        _all_day(
            "demo-upcoming-grundutbildning@innanforskapet",
            "Grundutbildning i försäkringsmedicin och rehabsamordning",
            today + timedelta(days=30),
            place="Folkets Hus i Varberg",
            link=KALENDARIUM,
            registration_deadline=today + timedelta(days=20),
            organiser=ORGANISER,
        ),
    ]


async def load(session: AsyncSession, settings: Settings) -> list[str]:
    today = utcnow().astimezone(STOCKHOLM).date()
    existing = set((await session.scalars(select(CalendarItem.uid))).all())
    added = [item for item in demo_items(today) if item.uid not in existing]
    session.add_all(added)
    await session.flush()
    if not added:
        return ["Kalendariets demoaktiviteter finns redan."]
    return [f"Kalendarium: {len(added)} demoaktiviteter tillagda."]
