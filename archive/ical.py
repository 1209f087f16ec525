"""FINSAM-kalendern as iCalendar: built by :mod:`service.calendar.ical`, the one place
that builds VEVENTs (the registration mails of ``service.events`` attach them too)."""

from service.calendar.ical import (
    CALENDAR_NAME,
    PRODID,
    build_calendar,
    item_description,
    stockholm_vtimezone,
)

__all__ = ["CALENDAR_NAME", "PRODID", "build_calendar", "item_description", "stockholm_vtimezone"]
