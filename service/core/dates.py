"""Swedish dates and times for calendar items, issues, mails and pages (always Europe/Stockholm).

Examples: ``20 september 2019``, ``fredag 4 oktober kl. 10.00–12.00``,
``24–25 mars 2020`` (all-day range), ``Sista anmälningsdag 1 oktober``.
The year is left out when every date shown lies in the year of ``reference`` (e.g. the
issue date), so a newsletter's calendar reads naturally.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
DASH = "\u2013"  # en dash for ranges


class TimedOrAllDay(Protocol):
    """What :func:`format_when` needs of a calendar item."""

    all_day: bool
    starts_at: datetime | None
    ends_at: datetime | None
    start_date: date
    end_date: date | None


def local(moment: datetime) -> datetime:
    """``moment`` (tz-aware; naive is taken as UTC) in Europe/Stockholm."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(STOCKHOLM)


def format_time(t: time | datetime) -> str:
    """``10.00`` (Swedish style: hours and minutes separated by a dot)."""
    return f"{t.hour:02d}.{t.minute:02d}"


def format_date(d: date, *, weekday: bool = False, year: bool = True) -> str:
    """``20 september 2019``; with ``weekday``: ``fredag 20 september 2019``."""
    text = f"{d.day} {MONTHS[d.month - 1]}"
    if year:
        text += f" {d.year}"
    if weekday:
        text = f"{WEEKDAYS[d.weekday()]} {text}"
    return text


def format_datetime(moment: datetime, *, weekday: bool = False, year: bool = True) -> str:
    """``28 augusti 2019 kl. 09.15`` in Stockholm time."""
    loc = local(moment)
    return f"{format_date(loc.date(), weekday=weekday, year=year)} kl. {format_time(loc)}"


def format_date_range(start: date, end: date | None, *, year: bool = True) -> str:
    """All-day ranges: ``24–25 mars 2020``, ``30 september–2 oktober 2019``."""
    if end is None or end <= start:
        return format_date(start, year=year)
    if start.year != end.year:
        return f"{format_date(start)}{DASH}{format_date(end)}"
    tail = f" {end.year}" if year else ""
    if start.month == end.month:
        return f"{start.day}{DASH}{end.day} {MONTHS[end.month - 1]}{tail}"
    return f"{start.day} {MONTHS[start.month - 1]}{DASH}{end.day} {MONTHS[end.month - 1]}{tail}"


def _needs_year(reference: date | None, *dates: date | None) -> bool:
    if reference is None:
        return True
    return any(d is not None and d.year != reference.year for d in dates)


def format_when(item: TimedOrAllDay, *, reference: date | None = None, weekday: bool = True) -> str:
    """When an item takes place, in Swedish.

    Timed: ``fredag 4 oktober kl. 10.00–12.00`` (end on another day:
    ``fredag 4 oktober kl. 10.00 – lördag 5 oktober kl. 12.00``).
    All-day: ``fredag 20 september`` or a range ``24–25 mars``.
    The year is shown unless all dates lie in ``reference``'s year.
    """
    if item.all_day or item.starts_at is None:
        end = item.end_date if item.end_date and item.end_date > item.start_date else None
        year = _needs_year(reference, item.start_date, end)
        if end is None:
            return format_date(item.start_date, weekday=weekday, year=year)
        return format_date_range(item.start_date, end, year=year)
    start = local(item.starts_at)
    end_local = local(item.ends_at) if item.ends_at is not None else None
    year = _needs_year(reference, start.date(), end_local.date() if end_local else None)
    head = f"{format_date(start.date(), weekday=weekday, year=year)} kl. {format_time(start)}"
    if end_local is None or end_local <= start:
        return head
    if end_local.date() == start.date():
        return f"{head}{DASH}{format_time(end_local)}"
    return (
        f"{head} {DASH} {format_date(end_local.date(), weekday=weekday, year=year)}"
        f" kl. {format_time(end_local)}"
    )


def format_deadline(deadline: date, *, reference: date | None = None) -> str:
    """``Sista anmälningsdag 1 oktober`` (year shown when it differs from ``reference``)."""
    return f"Sista anmälningsdag {format_date(deadline, year=_needs_year(reference, deadline))}"
