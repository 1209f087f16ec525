"""The events domain's JSON API bodies (OpenAPI schemas)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.events.forms import Question, RegistrationSettings
from service.events.models import Event, Registration
from service.events.service import Counts


@dataclass
class QuestionIn:
    label: str
    kind: str = "text"  # "text", "one" (one choice) or "many" (several choices)
    options: list[str] = field(default_factory=list)
    required: bool = False
    key: str = ""  # stable id (answers are stored by it); "q1", "q2", … if empty


@dataclass
class EventSettingsIn:
    """Registration settings of a calendar item (times with a time zone)."""

    capacity: int | None = None  # None: unlimited
    opens_at: datetime | None = None
    closes_at: datetime | None = None  # None: the item's registration deadline or start
    waitlist: bool = True
    fields: list[str] = field(default_factory=list)  # organisation, role, phone, needs
    questions: list[QuestionIn] = field(default_factory=list)
    consent_text: str = ""  # empty: the default text
    retention_days: int = 30
    reminder_days: int = 2
    offer_hours: int | None = None  # None: a freed seat goes to the waitlist at once

    def settings(self) -> RegistrationSettings:
        return RegistrationSettings(
            capacity=self.capacity,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            waitlist=self.waitlist,
            fields=list(self.fields),
            questions=[
                Question(label=q.label, kind=q.kind, options=list(q.options),
                         required=q.required, key=q.key)
                for q in self.questions
            ],
            consent_text=self.consent_text,
            retention_days=self.retention_days,
            reminder_days=self.reminder_days,
            offer_hours=self.offer_hours,
        )  # fmt: skip


@dataclass
class CountsOut:
    registered: int
    confirmed: int
    offered: int
    waitlisted: int
    cancelled: int
    attended: int
    pending: int
    seats_left: int | None
    per_organisation: dict[str, int]

    @classmethod
    def of(cls, counts: Counts) -> CountsOut:
        return cls(**{name: getattr(counts, name) for name in cls.__dataclass_fields__})


@dataclass
class EventOut:
    id: int
    calendar_item_id: int | None
    title: str
    capacity: int | None
    seats_taken: int
    opens_at: datetime | None
    closes_at: datetime | None
    waitlist: bool
    fields: list[str]
    questions: list[dict[str, Any]]
    retention_days: int
    reminder_days: int
    offer_hours: int | None
    cancelled_at: datetime | None
    counts: CountsOut | None = None

    @classmethod
    def of(cls, event: Event, title: str, counts: Counts | None = None) -> EventOut:
        return cls(
            id=event.id, calendar_item_id=event.calendar_item_id, title=title,
            capacity=event.capacity, seats_taken=event.seats_taken, opens_at=event.opens_at,
            closes_at=event.closes_at, waitlist=event.waitlist, fields=list(event.fields),
            questions=list(event.questions), retention_days=event.retention_days,
            reminder_days=event.reminder_days, offer_hours=event.offer_hours,
            cancelled_at=event.cancelled_at,
            counts=CountsOut.of(counts) if counts is not None else None,
        )  # fmt: skip


@dataclass
class RegistrationOut:
    id: int
    event_id: int
    email: str
    name: str
    organisation: str
    role: str
    phone: str
    needs: str
    answers: dict[str, Any]
    status: str  # pending, confirmed, offered, waitlisted, full, cancelled
    created_at: datetime
    confirmed_at: datetime | None
    offer_expires_at: datetime | None
    cancelled_at: datetime | None
    attended_at: datetime | None

    @classmethod
    def of(cls, registration: Registration) -> RegistrationOut:
        return cls(**{name: getattr(registration, name) for name in cls.__dataclass_fields__})


@dataclass
class CheckInIn:
    attended: bool = True
