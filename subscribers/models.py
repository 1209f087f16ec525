"""Lists, subscribers, subscriptions, consent texts and ledger, tokens and suppressions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, BigId, UTCDateTime, utcnow


class MailingList(Base):
    __tablename__ = "mailing_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscriber(Base):
    """A person. ``status``: pending (never confirmed), active, unsubscribed, bounced."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    name: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="sv")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Bumped to invalidate every signed link handed out before (e.g. after an address change).
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", lazy="selectin"
    )


class Subscription(Base):
    """Membership of one subscriber in one list. ``status``: pending, active, unsubscribed."""

    __tablename__ = "subscriptions"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


class ConsentText(Base):
    """A published version of the consent text (kind='consent') or privacy notice (kind='privacy').

    Never edited after publication: a change is a new version.
    """

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("kind", "version", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8), default="sv")
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(Base):
    """The append-only consent ledger: one row per request, confirmation or withdrawal.

    Rows are inserted, never updated. On erasure the person's rows are deleted together
    with the person (Art. 17); only the keyed hash in ``suppressions`` remains.
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="SET NULL"), nullable=True
    )
    list_slug: Mapped[str] = mapped_column(String(64))  # kept even if the list is deleted
    event: Mapped[str] = mapped_column(String(16))  # requested, confirmed, withdrawn
    purpose: Mapped[str] = mapped_column(String(200))
    lawful_basis: Mapped[str] = mapped_column(String(32), default="consent")
    source: Mapped[str] = mapped_column(String(64))  # form, embed, import, api, editor
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    consent_text_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_texts.id"), nullable=True
    )
    privacy_notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_texts.id"), nullable=True
    )
    language: Mapped[str] = mapped_column(String(8), default="sv")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ActionToken(Base):
    """A single-use token mailed to an address: signup confirmation, address change, export."""

    __tablename__ = "action_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # confirm, change-email, export, erase
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Suppression(Base):
    """An address never to be mailed, kept only as HMAC-SHA256(secret, normalised address)."""

    __tablename__ = "suppressions"

    address_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))  # erased, hard-bounce, complaint, manual
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
