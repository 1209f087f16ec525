"""The transactional mail queue: every single mail (not newsletters) waits here until sent.

A row is written in the same database transaction as the change that calls for the mail
(a signup, a confirmation, an invitation, a test send), and sent after commit by the
delivery worker (:mod:`service.delivery.outbound`), with retries and backoff. Nothing in
a web request waits for a mail server.

Two shapes of row:

* ``message`` set: the complete, unsigned message (RFC 5322 bytes, CRLF). DKIM is added
  when it is sent, by the one signing path every outgoing mail takes.
* ``message`` empty and ``payload`` set: the mail is *composed* by the worker first,
  by the composer registered for ``kind`` (e.g. a signup: the database work and the
  decision whether a confirmation is due happen there, so the web request does the same
  small amount of work whatever the address).

``message`` and ``payload`` hold personal data and one-time links: both are cleared when
the mail is sent or given up; the row itself (who, what, when, the server's answer) is
kept ``INNAN_MAIL_LOG_DAYS`` for the editors' "Utgående e-post" page, then deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigId, UTCDateTime, utcnow

# queued -> sending -> sent | retry -> ... | failed | skipped (composer: nothing to send)
# | cancelled (by an editor)
MAIL_STATES = ("queued", "sending", "retry", "sent", "failed", "skipped", "cancelled")
OPEN_STATES = ("queued", "sending", "retry")
FINAL_STATES = ("sent", "failed", "skipped", "cancelled")


class QueuedMail(Base):
    __tablename__ = "mail_queue"
    __table_args__ = (
        Index("ix_mail_queue_due", "state", "next_attempt_at"),
        Index("ix_mail_queue_kind_subscriber", "kind", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "signup", "welcome", "test-send", ...
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    # Whom or what the mail is about: an erasure deletes a person's mails with them.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
    )
    editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("editors.id", ondelete="SET NULL"), nullable=True
    )
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # What else the mail belongs to, as "<domain>:<id>[:...]" (e.g. an event's
    # registration, or one information mail to all of an event's attendees).
    reference: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    message: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
