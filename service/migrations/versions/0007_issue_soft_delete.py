"""deleted drafts are kept for a while (soft delete of issues)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:00:00

``issues.deleted_at``: when an editor deleted the draft. A deleted draft is shown only
in the editors' "Borttagna utkast", can be restored with all its blocks, and is purged
(with an audit entry) 30 days later by the daily retention job. The public archive's
covering fingerprint index gains the column, so the fingerprint, which now leaves
deleted issues out, is still answered from the index alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FINGERPRINT = ["archive_withdrawn", "web_published_at", "updated_at", "version"]


def upgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", service.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_issues_deleted_at"), ["deleted_at"], unique=False)
        batch_op.drop_index("ix_issues_public_fingerprint")
        batch_op.create_index(
            "ix_issues_public_fingerprint", [*OLD_FINGERPRINT, "deleted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_public_fingerprint")
        batch_op.create_index("ix_issues_public_fingerprint", OLD_FINGERPRINT, unique=False)
        batch_op.drop_index(batch_op.f("ix_issues_deleted_at"))
        batch_op.drop_column("deleted_at")
