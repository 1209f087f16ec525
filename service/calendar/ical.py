"""Calendar items as iCalendar (RFC 5545) with the ``icalendar`` library: the one place
that builds VEVENTs, for the public calendar feed (``archive.calendar``) and for the .ics
attached to event-registration mails (``service.events``: METHOD PUBLISH or CANCEL).

Timed items: DTSTART/DTEND with TZID=Europe/Stockholm and a VTIMEZONE (EU RRULEs); all-day items:
VALUE=DATE with an exclusive DTEND (end date + 1 day). UID is ``CalendarItem.uid``
(stable), SEQUENCE the item's revision. icalendar writes CRLF line endings and folds
lines at 75 octets without splitting UTF-8 characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from service.calendar.models import CalendarItem
from service.core.dates import STOCKHOLM, format_deadline
from service.db import utcnow
from service.settings import Settings

CALENDAR_NAME = "FINSAM-kalendern"
PRODID = "-//Innanförskapet//FINSAM-kalendern//SV"


def item_description(item: CalendarItem) -> str:
    parts = []
    if item.description:
        parts.append(item.description.strip())
    if item.registration_deadline:
        parts.append(format_deadline(item.registration_deadline) + ".")
    if item.organiser:
        parts.append(f"Arrangör: {item.organiser}")
    return "\n".join(parts)


def vevent(
    settings: Settings,
    item: CalendarItem,
    stamp: datetime,
    *,
    sequence: int | None = None,
    cancelled: bool = False,
) -> Event:
    """One item as a VEVENT (UID ``item.uid``; SEQUENCE ``sequence`` or the item's own;
    ``cancelled`` adds STATUS:CANCELLED, as a METHOD:CANCEL calendar needs)."""
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", item.sequence if sequence is None else sequence)
    event.add("summary", item.title)
    if cancelled:
        event.add("status", "CANCELLED")
    if item.all_day or item.starts_at is None:
        event.add("dtstart", item.start_date)
        end = item.end_date if item.end_date and item.end_date > item.start_date else None
        event.add("dtend", (end or item.start_date) + timedelta(days=1))
    else:
        start = item.starts_at.astimezone(STOCKHOLM)
        event.add("dtstart", start)
        if item.ends_at is not None and item.ends_at > item.starts_at:
            event.add("dtend", item.ends_at.astimezone(STOCKHOLM))
    if item.place:
        event.add("location", item.place)
    link = item.link if re.match(r"(?i)^https?://", item.link or "") else ""
    event.add("url", link or settings.url(f"/kalender#item-{item.id}"))
    description = item_description(item)
    if description:
        event.add("description", description)
    if item.updated_at is not None:
        event.add("last-modified", item.updated_at)
    if item.created_at is not None:
        event.add("created", item.created_at)
    return event


def stockholm_vtimezone() -> Timezone:
    """VTIMEZONE for Europe/Stockholm with the EU rules as RRULEs (valid past 2038).

    Since 1996 (and in every year this service shows) Sweden switches at 02:00 CET on the
    last Sunday in March and at 03:00 CEST on the last Sunday in October.
    """
    tz = Timezone()
    tz.add("tzid", "Europe/Stockholm")
    tz.add("x-lic-location", "Europe/Stockholm")
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def _calendar(method: str, name: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name is not None:
        cal.add("x-wr-calname", name)
        cal.add("x-wr-timezone", "Europe/Stockholm")
    return cal


def _timed(item: CalendarItem) -> bool:
    return not (item.all_day or item.starts_at is None)


def build_calendar(
    settings: Settings, items: Sequence[CalendarItem], *, name: str = CALENDAR_NAME
) -> bytes:
    """The whole calendar (or one item's) as RFC 5545 bytes."""
    cal = _calendar("PUBLISH", name)
    stamp = utcnow().replace(microsecond=0)
    if any(_timed(item) for item in items):
        cal.add_component(stockholm_vtimezone())
    for item in items:
        cal.add_component(vevent(settings, item, stamp))
    body: bytes = cal.to_ical()
    return body


def item_attachment(
    settings: Settings, item: CalendarItem, *, sequence: int, cancelled: bool = False
) -> bytes:
    """One item as a calendar to attach to a mail: METHOD:PUBLISH (add or update it in
    the reader's calendar; a higher ``sequence`` replaces the copy with the same UID) or,
    ``cancelled``, METHOD:CANCEL with STATUS:CANCELLED (remove it)."""
    cal = _calendar("CANCEL" if cancelled else "PUBLISH", None)
    if _timed(item):
        cal.add_component(stockholm_vtimezone())
    stamp = utcnow().replace(microsecond=0)
    cal.add_component(vevent(settings, item, stamp, sequence=sequence, cancelled=cancelled))
    body: bytes = cal.to_ical()
    return body
