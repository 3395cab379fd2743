"""receiver: invalid-token attempts and blocks shared by every process and replica

Revision ID: receiver_0002
Revises: receiver_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daqhub.core.db import UTCDateTime

revision = "receiver_0002"
down_revision = "receiver_0001"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "receiver_auth_failures",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_auth_failures")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_receiver_auth_failures_address_at",
        "receiver_auth_failures",
        ["address", "at"],
        unique=False,
    )
    op.create_table(
        "receiver_auth_blocks",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_receiver_auth_blocks")),
    )


def downgrade() -> None:
    op.drop_table("receiver_auth_blocks")
    op.drop_index("ix_receiver_auth_failures_address_at", table_name="receiver_auth_failures")
    op.drop_table("receiver_auth_failures")
