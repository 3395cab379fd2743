"""Tables of the connectivity service.

A partition row carries two counters that let every process keep a provably fresh cache of
the entries' fields (see cache.py):

* ``rev`` increases whenever an entry is added or its fields change; each entry remembers the
  ``rev`` at which it last changed (``changed_rev``), so a cache at revision R catches up by
  reading only entries with ``changed_rev > R``. A refresh (a republish that changes nothing)
  only updates ``last_published``, ``publish_count``, ``publisher`` and ``expiry_reported``,
  none of them indexed, so PostgreSQL can update the row in place (a HOT update, helped by the
  table's fill factor) instead of adding index entries on every publish;
* ``epoch`` increases whenever entries are *removed*, which an incremental read cannot see; a
  cache whose epoch differs reloads the partition.

Times are Unix seconds (double precision) taken from the database's clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daqhub.core.db import Base, BigIntPK


class ConnPartition(Base):
    __tablename__ = "conn_partitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_publish_at: Mapped[float] = mapped_column(Float)
    next_seq: Mapped[int] = mapped_column(BigInteger, default=1)
    rev: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)


class ConnEntry(Base):
    __tablename__ = "conn_entries"
    __table_args__ = (
        UniqueConstraint("partition_id", "uid"),
        Index("ix_conn_entries_partition_rev", "partition_id", "changed_rev"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    partition_id: Mapped[int] = mapped_column(ForeignKey("conn_partitions.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(1024))
    uri: Mapped[str] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(256))
    connection_type: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    seq: Mapped[int] = mapped_column(BigInteger)
    first_published: Mapped[float] = mapped_column(Float)
    last_published: Mapped[float] = mapped_column(Float)
    publish_count: Mapped[int] = mapped_column(BigInteger, default=1)
    publisher: Mapped[str] = mapped_column(String(64), default="")
    changed_rev: Mapped[int] = mapped_column(BigInteger)
    expiry_reported: Mapped[bool] = mapped_column(default=False)


class ConnStats(Base):
    """Totals since the last reset, summed over every process (one row, id 1)."""

    __tablename__ = "conn_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publish_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    connections_published: Mapped[int] = mapped_column(BigInteger, default=0)
    lookup_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    connections_returned: Mapped[int] = mapped_column(BigInteger, default=0)
    retract_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    retract_partition_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    publish_time_total_us: Mapped[int] = mapped_column(BigInteger, default=0)
    publish_time_max_us: Mapped[int] = mapped_column(BigInteger, default=0)
    lookup_time_total_us: Mapped[int] = mapped_column(BigInteger, default=0)
    lookup_time_max_us: Mapped[int] = mapped_column(BigInteger, default=0)
    reset_at: Mapped[float] = mapped_column(Float, default=0.0)


class ConnLookupMiss(Base):
    """Recent lookups that found nothing: who waits for which missing endpoint."""

    __tablename__ = "conn_lookup_misses"
    __table_args__ = (Index("ix_conn_lookup_misses_partition_time", "partition", "time"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    partition: Mapped[str] = mapped_column(String(256))
    uid_regex: Mapped[str] = mapped_column(String(1024))
    data_type: Mapped[str] = mapped_column(String(256))
    result: Mapped[str] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(64), default="")
    time: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
