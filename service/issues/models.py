"""Issues and their ordered content blocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow

# Issue status values (shown in Swedish in the UI): utkast, schemalagd, skickas, skickad, avbruten
ISSUE_STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
BLOCK_KINDS = ("intro", "article", "notice", "cta", "calendar", "divider", "heading")
DELETED_KEEP_DAYS = 30  # how long a deleted draft can be restored before it is purged


class Issue(Base):
    __tablename__ = "issues"
    # Covers the public archive's fingerprint (archive/cache.py) without reading the rows.
    __table_args__ = (
        Index(
            "ix_issues_public_fingerprint",
            "archive_withdrawn",
            "web_published_at",
            "updated_at",
            "version",
            "deleted_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    issue_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # Audience: list ids in issue_lists; optional narrowing by organisation and role.
    organisations: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the worker paused a send it could not build (Swedish, shown on the delivery page).
    send_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Archive: published on the web when sent or when an editor publishes it web-only.
    web_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archive_withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    # Rendered once per issue (filled at send time / on demand), placeholders intact.
    rendered_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    rendered_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Soft delete: a deleted draft sits in the editors' "Borttagna utkast" until restored
    # or purged (service.issues.service.purge_deleted); everywhere else it does not exist.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("editors.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    blocks: Mapped[list[Block]] = relationship(
        back_populates="issue",
        cascade="all, delete-orphan",
        order_by="Block.position",
        lazy="selectin",
    )
    list_links: Mapped[list[IssueList]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def list_ids(self) -> list[int]:
        return [link.list_id for link in self.list_links]

    @property
    def purge_at(self) -> datetime | None:
        """When a deleted draft is removed for good (None if it is not deleted)."""
        if self.deleted_at is None:
            return None
        return self.deleted_at + timedelta(days=DELETED_KEEP_DAYS)


class IssueList(Base):
    __tablename__ = "issue_lists"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )


class Block(Base):
    """One content block. ``data`` holds the kind-specific fields (validated by schemas)."""

    __tablename__ = "issue_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    issue: Mapped[Issue] = relationship(back_populates="blocks")
