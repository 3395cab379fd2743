"""receiver: metadata index of uploads

Revision ID: receiver_0001
Revises: core_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daqhub.core.db import JSONType, UTCDateTime

revision = "receiver_0001"
down_revision = "core_0001"
branch_labels = ("receiver",)
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "receiver_uploads",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("upload_id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("agent", sa.String(length=255), nullable=False),
        sa.Column("agent_raw", sa.Text(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("data_status", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_changed_at", UTCDateTime(), nullable=False),
        sa.Column("objects", JSONType, nullable=True),
        sa.Column("contents", JSONType, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("token_name", sa.String(length=100), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("supersedes", sa.String(length=36), nullable=True),
        sa.Column("processing_compatible", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("stored_name", sa.String(length=255), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("integrity_ok", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_uploads")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_receiver_uploads_upload_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_receiver_uploads_filename_state", "receiver_uploads", ["filename", "state"])
    op.create_index("ix_receiver_uploads_run_agent", "receiver_uploads", ["run", "agent"])
    op.create_index("ix_receiver_uploads_timestamp", "receiver_uploads", ["timestamp"])
    op.create_index("ix_receiver_uploads_received_at", "receiver_uploads", ["received_at"])
    op.create_index("ix_receiver_uploads_state", "receiver_uploads", ["state"])


def downgrade() -> None:
    op.drop_table("receiver_uploads")
