"""the transactional mail queue

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00

Every single mail (confirmation, welcome, address change, set-password link, test send)
is written to ``mail_queue`` in the transaction that calls for it and sent after commit
by the delivery worker, with retries. The "one confirmation per address per 24 hours"
rule now counts the confirmation mails that were actually sent (or still wait) in that
queue, so ``subscribers.last_confirmation_sent_at`` (set before sending, so a failed
mail blocked the person for a day) is dropped. ``ALTER TABLE ... DROP COLUMN`` is native
on SQLite >= 3.35 and does not rebuild the table (a rebuild would cascade deletes).

``issues.send_error``: why the worker paused a send whose message it could not build
(e.g. a subject with a line separator saved before those were refused), shown to editors.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reply", sa.Text(), nullable=True),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_mail_queue_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_mail_queue_editor_id_editors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_mail_queue_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.create_index("ix_mail_queue_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_mail_queue_kind_subscriber", ["kind", "subscriber_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mail_queue_recipient"), ["recipient"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_queue_issue_id"), ["issue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_queue_created_at"), ["created_at"], unique=False)
    op.execute("ALTER TABLE subscribers DROP COLUMN last_confirmation_sent_at")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_column("send_error")
    op.execute(
        "ALTER TABLE subscribers ADD COLUMN last_confirmation_sent_at TIMESTAMP WITH TIME ZONE"
    )
    op.drop_table("mail_queue")
