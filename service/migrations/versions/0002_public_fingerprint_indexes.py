"""covering indexes for the public cache's fingerprint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:40:00

The archive and calendar fingerprint (archive/cache.py) is read on every public
request; these indexes let both backends answer it without reading the issue rows,
which carry the rendered HTML.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_issues_public_fingerprint",
        "issues",
        ["archive_withdrawn", "web_published_at", "updated_at", "version"],
    )
    op.create_index("ix_calendar_items_fingerprint", "calendar_items", ["updated_at", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_calendar_items_fingerprint", table_name="calendar_items")
    op.drop_index("ix_issues_public_fingerprint", table_name="issues")
