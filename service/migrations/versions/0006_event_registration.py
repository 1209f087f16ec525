"""event registration (anmälan)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00

``events``: registration settings of a calendar item (capacity and the seat counter that
only a conditional UPDATE changes, opening and closing time, waitlist, fields and
questions, retention, reminder, offer deadline) and, after the retention erasure, only
anonymous counts. ``event_consent_texts``: the versioned consent text each form showed.
``registrations``: the attendees (personal data, erased ``retention_days`` after the
event). ``mail_queue.reference`` ties queued mails to a registration or to one
information mail to all attendees (its ledger).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_item_id", sa.Integer(), nullable=True),
        sa.Column("announced", sa.JSON(), nullable=False),
        sa.Column("notified_sequence", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.Column("opens_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closes_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("waitlist", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("reminder_days", sa.Integer(), nullable=False),
        sa.Column("offer_hours", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("info_mails", sa.Integer(), nullable=False),
        sa.Column("erased_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_item_id"],
            ["calendar_items.id"],
            name=op.f("fk_events_calendar_item_id_calendar_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("calendar_item_id", name=op.f("uq_events_calendar_item_id")),
    )
    op.create_table(
        "event_consent_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_consent_texts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_consent_texts")),
        sa.UniqueConstraint("event_id", "version", name=op.f("uq_event_consent_texts_event_id")),
    )
    op.create_table(
        "registrations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("consent_text_id", sa.Integer(), nullable=True),
        sa.Column("newsletter", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirm_token_hash", sa.String(length=64), nullable=True),
        sa.Column("confirm_expires_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("manage_version", sa.Integer(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("waitlisted_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offered_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.Column("attended_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminder_sent_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_registrations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consent_text_id"],
            ["event_consent_texts.id"],
            name=op.f("fk_registrations_consent_text_id_event_consent_texts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("confirm_token_hash", name=op.f("uq_registrations_confirm_token_hash")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index("ix_registrations_event_status", ["event_id", "status"], unique=False)
        batch_op.create_index("ix_registrations_email", ["email"], unique=False)
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=120), nullable=True))
        batch_op.create_index(batch_op.f("ix_mail_queue_reference"), ["reference"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_queue_reference"))
        batch_op.drop_column("reference")
    op.drop_table("registrations")
    op.drop_table("event_consent_texts")
    op.drop_table("events")
