"""Helpers for the event-registration tests: an event on a real calendar item, forms,
and reading queued and delivered mails (with their .ics attachments)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar import service as calendar
from service.calendar.models import CalendarItem
from service.db import utcnow
from service.events import service as events
from service.events.forms import Question, RegistrationForm, RegistrationSettings
from service.events.models import Event, Registration
from service.mail.models import QueuedMail
from service.settings import Settings

IP = "192.0.2.10"


async def make_event(
    session: AsyncSession,
    settings: Settings,
    *,
    days_ahead: int = 30,
    deadline: date | None = None,
    **cfg: Any,
) -> tuple[Event, CalendarItem]:
    """A timed calendar item ``days_ahead`` days from now with registration turned on."""
    day = (utcnow() + timedelta(days=days_ahead)).date()
    item = await calendar.create_item(
        session,
        settings,
        calendar.ItemFields(
            title="Finsamkonferens",
            start_date=day,
            start_time="09:00",
            end_time="16:00",
            place="Halmstad Arena",
            registration_deadline=deadline,
        ),
        actor="test",
    )
    cfg.setdefault("fields", ["organisation", "role", "needs"])
    cfg.setdefault(
        "questions",
        [
            Question(label="Vilken workshop?", kind="one", options=["A", "B"], key="workshop"),
            Question(label="Vilka dagar?", kind="many", options=["Dag 1", "Dag 2"], key="dagar"),
        ],
    )
    event = await events.configure(
        session, settings, item.id, RegistrationSettings(**cfg), actor="test"
    )
    await session.commit()
    return event, item


def form(address: str, **values: Any) -> RegistrationForm:
    values.setdefault("name", "Anna Andersson")
    values.setdefault("organisation", "Region Halland")
    values.setdefault("answers", {"workshop": "A", "dagar": ["Dag 1"]})
    values.setdefault("consent", True)
    return RegistrationForm(email=address, **values)


async def queued(session: AsyncSession, kind: str | None = None) -> list[QueuedMail]:
    await session.commit()
    query = select(QueuedMail).order_by(QueuedMail.id).execution_options(populate_existing=True)
    if kind is not None:
        query = query.where(QueuedMail.kind == kind)
    return list((await session.execute(query)).scalars())


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def calendar_of(msg: EmailMessage) -> Calendar | None:
    """The attached .ics, parsed with icalendar (None without one)."""
    for part in msg.iter_attachments():
        if part.get_content_type() == "text/calendar":
            assert part.get_filename() == "evenemang.ics"
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return Calendar.from_ical(payload)
    return None


def token_in(text: str, prefix: str) -> str:
    found = re.search(r"http://testserver\.local" + re.escape(prefix) + r"([^\s<>\"]+)", text)
    assert found, f"no link to {prefix} in:\n{text}"
    return found.group(1)


async def add_registration(
    session: AsyncSession, event: Event, address: str, status: str = "confirmed", **values: Any
) -> Registration:
    """A registration in ``status`` as if the person had confirmed (seat taken if held)."""
    now = utcnow()
    if status in ("confirmed", "offered"):
        assert await events._take_seat(session, event.id)
    values.setdefault("name", address.split("@")[0].title())
    registration = Registration(
        event_id=event.id,
        email=address,
        status=status,
        confirmed_at=now,
        waitlisted_at=now if status == "waitlisted" else None,
        **values,
    )
    session.add(registration)
    await session.flush()
    return registration


def message_of(row: QueuedMail) -> EmailMessage:
    assert row.message is not None
    return parse(row.message)
