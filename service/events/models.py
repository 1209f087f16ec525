"""Registration settings of a calendar item, its consent texts, and the registrations.

``Event.seats_taken`` counts the registrations that hold a seat (``confirmed`` and
``offered``); it only changes by a conditional ``UPDATE`` (``seats_taken < capacity``),
so two confirmations racing for the last seat cannot both get it, on SQLite (one writer)
and on PostgreSQL (the second UPDATE waits for the row and re-checks the condition).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigId, UTCDateTime, utcnow

# pending: registered, not confirmed by the mailed link yet
# confirmed: has a seat; offered: a seat is held for a promoted person until offer_expires_at
# waitlisted: confirmed the address, waits for a seat; full: no seat and no waitlist
# cancelled: by the person, an editor, an expired offer or the event's cancellation
# (confirming: only inside the transaction of a confirmation, never committed)
REGISTRATION_STATES = ("pending", "confirmed", "offered", "waitlisted", "full", "cancelled")
HOLDS_SEAT = ("confirmed", "offered")
ACTIVE = ("confirmed", "offered", "waitlisted")


class Event(Base):
    """Registration for one calendar item (at most one per item)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the calendar item is deleted: registration closes, attendees are told.
    calendar_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_items.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    # The item as attendees last heard of it (uid, title, times, place): for the update
    # mails' "what changed" and for the cancellation .ics once the item is gone.
    announced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notified_sequence: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    waitlist: Mapped[bool] = mapped_column(Boolean, default=True)
    # Optional fields asked beside name and address: organisation, role, phone, needs.
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Editor-defined questions: [{"key", "label", "kind": text|one|many, "options", "required"}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    reminder_days: Mapped[int] = mapped_column(Integer, default=2)  # 0: no reminder
    offer_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: promote
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    info_mails: Mapped[int] = mapped_column(Integer, default=0)  # numbers the info mails
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Anonymous counts kept after the attendees' data is erased.
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EventConsentText(Base):
    """A published version of an event's consent text; never edited (a change is a new
    version), and each registration names the version its form showed."""

    __tablename__ = "event_consent_texts"
    __table_args__ = (UniqueConstraint("event_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Registration(Base):
    """One person's registration for an event (personal data: erased after the event)."""

    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_event_status", "event_id", "status"),
        Index("ix_registrations_email", "email"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # normalised
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    needs: Mapped[str] = mapped_column(Text, default="")  # special diet, accessibility
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consent_text_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_consent_texts.id", ondelete="SET NULL"), nullable=True
    )
    newsletter: Mapped[bool] = mapped_column(Boolean, default=False)  # also asked to subscribe
    status: Mapped[str] = mapped_column(String(16), default="pending")
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Signed personal link [id, manage_version]; bumping the version revokes it.
    manage_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
