"""core: token rotation (a previous value that works until the overlap ends)

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daqhub.core.db import UTCDateTime

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("rotated_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("previous_digest", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("previous_expires_at", UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        op.f("ix_auth_tokens_previous_digest"), "auth_tokens", ["previous_digest"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_tokens_previous_digest"), table_name="auth_tokens")
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("previous_expires_at")
        batch.drop_column("previous_digest")
        batch.drop_column("rotated_at")
