"""The calendar's JSON API bodies (OpenAPI schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from service.calendar.models import CalendarItem


@dataclass
class CalendarItemIn:
    title: str
    start_date: date
    all_day: bool = False
    start_time: str | None = None  # "HH:MM", Europe/Stockholm
    end_date: date | None = None
    end_time: str | None = None
    place: str = ""
    link: str = ""
    registration_deadline: date | None = None
    organiser: str = ""
    description: str = ""


@dataclass
class CalendarItemOut:
    id: int
    uid: str
    title: str
    all_day: bool
    starts_at: datetime | None
    ends_at: datetime | None
    start_date: date
    end_date: date | None
    place: str
    link: str
    registration_deadline: date | None
    organiser: str
    description: str
    sequence: int

    @classmethod
    def of(cls, item: CalendarItem) -> CalendarItemOut:
        return cls(**{name: getattr(item, name) for name in cls.__dataclass_fields__})
