"""bounce events remember which inbound mail they came from

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:45:00

``bounce_events.source_sha256`` is the SHA-256 of the mail a bounce, soft bounce or
complaint was read from. A mail processed once is not counted again when it is read a
second time (the poller crashed between its commit and the mailbox delete, or a sending
MTA retried after our reply was lost). Events from before this revision have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_bounce_events_source_sha256"), ["source_sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bounce_events_source_sha256"))
        batch_op.drop_column("source_sha256")
