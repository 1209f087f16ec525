"""editor accounts in the browser: one-time set-password links

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00

Admins create editors at /redaktion/redaktorer; the new editor chooses a password
through a one-time link (only its SHA-256 is stored). ``editors.password_set_at`` says
whether that has happened; editors that already exist have a password, so it is filled
with their creation time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_set_at", service.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE editors SET password_set_at = created_at")
    op.create_table(
        "editor_password_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_editor_password_links_editor_id_editors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_password_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_editor_password_links_token_hash")),
    )
    with op.batch_alter_table("editor_password_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_editor_password_links_editor_id"), ["editor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("editor_password_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_editor_password_links_editor_id"))
    op.drop_table("editor_password_links")
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.drop_column("password_set_at")
