"""Calendar items (Kalendarium): timed (Europe/Stockholm, stored in UTC) or all-day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class CalendarItem(Base):
    __tablename__ = "calendar_items"
    # Covers the calendar's fingerprint (archive/cache.py) without reading the rows.
    __table_args__ = (Index("ix_calendar_items_fingerprint", "updated_at", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(100), unique=True)  # stable iCalendar UID
    title: Mapped[str] = mapped_column(String(200))  # "Tema"
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    # Timed items: UTC instants. All-day items: start_date/end_date (inclusive).
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    start_date: Mapped[date] = mapped_column(Date, index=True)  # local date, always set
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    place: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(1000), default="")
    registration_deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    organiser: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
