"""connectivity: partitions, entries, statistics, missed lookups

Revision ID: connectivity_0001
Revises: core_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "connectivity_0001"
down_revision = "core_0001"
branch_labels = ("connectivity",)
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTERS = (
    "publish_calls",
    "connections_published",
    "lookup_calls",
    "connections_returned",
    "retract_calls",
    "retract_partition_calls",
    "publish_time_total_us",
    "publish_time_max_us",
    "lookup_time_total_us",
    "lookup_time_max_us",
)


def upgrade() -> None:
    op.create_table(
        "conn_partitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_publish_at", sa.Float(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conn_partitions")),
        sa.UniqueConstraint("name", name=op.f("uq_conn_partitions_name")),
    )
    op.create_table(
        "conn_entries",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("partition_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=1024), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("data_type", sa.String(length=256), nullable=False),
        sa.Column("connection_type", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("first_published", sa.Float(), nullable=False),
        sa.Column("last_published", sa.Float(), nullable=False),
        sa.Column("publish_count", sa.BigInteger(), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=False),
        sa.Column("changed_rev", sa.BigInteger(), nullable=False),
        sa.Column("expiry_reported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partition_id"],
            ["conn_partitions.id"],
            name=op.f("fk_conn_entries_partition_id_conn_partitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conn_entries")),
        sa.UniqueConstraint("partition_id", "uid", name=op.f("uq_conn_entries_partition_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for in-place (HOT) updates of refreshed entries.
        op.execute("ALTER TABLE conn_entries SET (fillfactor = 70)")
    op.create_index(
        "ix_conn_entries_partition_rev",
        "conn_entries",
        ["partition_id", "changed_rev"],
        unique=False,
    )
    stats = op.create_table(
        "conn_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTERS),
        sa.Column("reset_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conn_stats")),
    )
    # The one shared statistics row exists from the start, so processes never race to create it.
    op.bulk_insert(stats, [{"id": 1, "reset_at": 0.0, **dict.fromkeys(COUNTERS, 0)}])
    op.create_table(
        "conn_lookup_misses",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("partition", sa.String(length=256), nullable=False),
        sa.Column("uid_regex", sa.String(length=1024), nullable=False),
        sa.Column("data_type", sa.String(length=256), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conn_lookup_misses")),
    )
    op.create_index(
        "ix_conn_lookup_misses_partition_time",
        "conn_lookup_misses",
        ["partition", "time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("conn_lookup_misses")
    op.drop_table("conn_stats")
    op.drop_table("conn_entries")
    op.drop_table("conn_partitions")
