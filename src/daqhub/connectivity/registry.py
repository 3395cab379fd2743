"""The connectivity registry: partitions of soft-state endpoint entries, kept in the database.

Each publish, retract and retract-partition is one transaction holding the partition's row lock
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so operations on a
partition apply one at a time in a single order on every replica, and a lookup sees all of a
publish or none of it. Requests are validated completely before this module is called.

Times come from the database's clock (the authoritative clock shared by replicas); an entry is
live while ``now - last_published < ttl``. Changes are recorded as events in the outbox in the
same transaction (a refresh that changes nothing records none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.orm import Session

from daqhub.connectivity.cache import CachedEntry, PartitionCache, Snapshot
from daqhub.connectivity.errors import (
    ConnectionsNotFound,
    PartitionNotFound,
    QuotaExceeded,
)
from daqhub.connectivity.matching import UidPattern
from daqhub.connectivity.models import ConnEntry, ConnLookupMiss, ConnPartition
from daqhub.connectivity.requests import Connection, PublishRequest, RetractRequest, storable
from daqhub.connectivity.settings import ConnectivitySettings
from daqhub.connectivity.stats import StatCounters, Statistics
from daqhub.core.db import Database
from daqhub.core.outbox import emit

log = logging.getLogger(__name__)

Clock = Callable[[Session | DBConnection], float]
_IN_CHUNK = 500
_FIELDS = ("uri", "data_type", "connection_type", "capacity")
_T = TypeVar("_T")


@dataclass(frozen=True)
class LookupResult:
    entries: list[CachedEntry]

    def to_json(self) -> str:
        return "[" + ",".join(e.json for e in self.entries) + "]"


@dataclass(frozen=True)
class PublishOutcome:
    created_partition: bool
    added: int
    changed: int
    revived: int


def _partition_query(*, clock: bool, uid: bool) -> Any:
    """The partition's cache counters, optionally with the database clock and the publish time
    of one uid, in one statement: an exact-uid lookup (what iomanager sends) is one round trip."""
    columns: list[Any] = [ConnPartition.id, ConnPartition.epoch, ConnPartition.rev]
    columns.append(func.extract("epoch", func.clock_timestamp()).label("now") if clock else None)
    if uid:
        published = (
            select(ConnEntry.last_published)
            .where(ConnEntry.partition_id == ConnPartition.id, ConnEntry.uid == bindparam("uid"))
            .scalar_subquery()
        )
        columns.append(published.label("published"))
    return select(*(c for c in columns if c is not None)).where(
        ConnPartition.name == bindparam("name")
    )


_PARTITION_QUERIES = {
    (clock, uid): _partition_query(clock=clock, uid=uid)
    for clock in (False, True)
    for uid in (False, True)
}


def _chunks(items: list[_T], size: int = _IN_CHUNK) -> Iterator[list[_T]]:
    """Slices of at most ``size`` items, to keep IN lists within every driver's limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Registry:
    def __init__(
        self, db: Database, settings: ConnectivitySettings, *, clock: Clock | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.cache = PartitionCache(settings.max_partitions)
        self.stats = Statistics(db)
        self.clock = clock
        """Overrides the database clock (tests use a manual clock to step through TTLs)."""

    @property
    def _placeholder(self) -> str:
        """The driver's parameter marker (sqlite3: qmark, psycopg: format)."""
        return "?" if self.db.dialect == "sqlite" else "%s"

    @property
    def ttl(self) -> float:
        return self.settings.entry_ttl

    def now(self, session: Session | DBConnection) -> float:
        return self.clock(session) if self.clock else self.db.now(session)

    # -- partition row locking ----------------------------------------------------------------

    def _locked_partition(self, session: Session, name: str) -> ConnPartition | None:
        query = select(ConnPartition).where(ConnPartition.name == name)
        if self.db.dialect == "postgresql":
            query = query.with_for_update()
        return session.scalar(query)

    def _create_partition(self, session: Session, name: str, now: float) -> ConnPartition:
        count = session.scalar(select(func.count()).select_from(ConnPartition)) or 0
        if count >= self.settings.max_partitions:
            raise QuotaExceeded(f"partition quota of {self.settings.max_partitions} reached")
        values = {
            "name": name,
            "created_at": now,
            "last_publish_at": now,
            "next_seq": 1,
            "rev": 0,
            "epoch": 0,
            "event_seq": 0,
            "entry_count": 0,
        }
        if self.db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(ConnPartition).values(**values).on_conflict_do_nothing())
        else:
            session.execute(insert(ConnPartition).values(**values))
        partition = self._locked_partition(session, name)
        assert partition is not None
        return partition

    def _event(
        self,
        session: Session,
        partition: ConnPartition,
        kind: str,
        data: dict[str, Any],
        now: float | None = None,
    ) -> None:
        """Record a change event; its time is the registry clock's (the one TTLs use)."""
        partition.event_seq += 1
        emit(
            session,
            f"connectivity.{kind}",
            {"partition": partition.name, "seq": partition.event_seq, **data},
            at=datetime.fromtimestamp(now, UTC) if now is not None else None,
        )

    # -- publish ----------------------------------------------------------------------------------

    def publish(self, request: PublishRequest, publisher: str = "") -> PublishOutcome:
        with self.db.write() as session:
            now = self.now(session)
            partition = self._locked_partition(session, request.partition)
            created = partition is None
            if partition is None:
                partition = self._create_partition(session, request.partition, now)
            if created and partition.event_seq == 0:
                self._event(session, partition, "partition.created", {}, now=now)
            outcome = self._upsert(session, partition, request.connections, now, publisher)
        return PublishOutcome(created, *outcome)

    def _existing(self, session: Session, partition_id: int, uids: list[str]) -> dict[str, Any]:
        """Stored rows of these uids. Plain driver SQL: this runs on every publish and
        retract, where building SQLAlchemy expressions per uid would cost more than the query."""
        ph = self._placeholder
        conn = session.connection()
        found: dict[str, Any] = {}
        for chunk in _chunks(uids):
            markers = ", ".join([ph] * len(chunk))
            sql = (
                "SELECT id, uid, uri, data_type, connection_type, capacity, last_published "
                f"FROM conn_entries WHERE partition_id = {ph} AND uid IN ({markers})"
            )
            for row in conn.exec_driver_sql(sql, (partition_id, *chunk)):
                found[row.uid] = row
        return found

    def _upsert(
        self,
        session: Session,
        partition: ConnPartition,
        connections: list[Connection],
        now: float,
        publisher: str,
    ) -> tuple[int, int, int]:
        existing = self._existing(session, partition.id, [c.uid for c in connections])
        new = [c for c in connections if c.uid not in existing]
        limit = self.settings.max_entries_per_partition
        if partition.entry_count + len(new) > limit:
            raise QuotaExceeded(f"partition {partition.name} would exceed {limit} entries")
        rev = partition.rev + 1
        inserts: list[dict[str, Any]] = []
        refreshes: list[tuple[Any, ...]] = []
        rewrites: list[tuple[Any, ...]] = []
        changed = revived = 0
        for conn in connections:
            old = existing.get(conn.uid)
            if old is None:
                inserts.append(
                    {
                        "partition_id": partition.id,
                        "uid": conn.uid,
                        "uri": conn.uri,
                        "data_type": conn.data_type,
                        "connection_type": conn.connection_type,
                        "capacity": conn.capacity,
                        "seq": partition.next_seq,
                        "first_published": now,
                        "last_published": now,
                        "publish_count": 1,
                        "publisher": publisher[:64],
                        "changed_rev": rev,
                        "expiry_reported": False,
                    }
                )
                partition.next_seq += 1
                self._event(
                    session,
                    partition,
                    "connection.added",
                    {**_conn_data(conn), "publisher": publisher},
                    now=now,
                )
                continue
            # Compare as tuples first: refreshes that change nothing are nearly all the traffic.
            if (old.uri, old.data_type, old.connection_type, old.capacity) == (
                conn.uri,
                conn.data_type,
                conn.connection_type,
                conn.capacity,
            ):
                refreshes.append((now, publisher[:64], False, old.id))
            else:
                rewrites.append(
                    (
                        conn.uri,
                        conn.data_type,
                        conn.connection_type,
                        conn.capacity,
                        now,
                        publisher[:64],
                        rev,
                        False,
                        old.id,
                    )
                )
                changed += 1
                self._event(
                    session,
                    partition,
                    "connection.changed",
                    {
                        "uid": conn.uid,
                        "old": {f: getattr(old, f) for f in _FIELDS},
                        "new": {f: getattr(conn, f) for f in _FIELDS},
                        "publisher": publisher,
                    },
                    now=now,
                )
            if now - old.last_published >= self.ttl:
                revived += 1
                self._event(
                    session,
                    partition,
                    "connection.revived",
                    {**_conn_data(conn), "publisher": publisher},
                    now=now,
                )
        if inserts:
            session.execute(insert(ConnEntry), inserts)
        ph = self._placeholder
        connection = session.connection()
        if refreshes:
            # Only unindexed columns: PostgreSQL updates the row in place (HOT), no index churn.
            connection.exec_driver_sql(
                f"UPDATE conn_entries SET last_published = {ph}, "
                f"publish_count = publish_count + 1, publisher = {ph}, expiry_reported = {ph} "
                f"WHERE id = {ph}",
                refreshes,
            )
        if rewrites:
            connection.exec_driver_sql(
                f"UPDATE conn_entries SET uri = {ph}, data_type = {ph}, connection_type = {ph}, "
                f"capacity = {ph}, last_published = {ph}, publish_count = publish_count + 1, "
                f"publisher = {ph}, changed_rev = {ph}, expiry_reported = {ph} WHERE id = {ph}",
                rewrites,
            )
        partition.entry_count += len(inserts)
        if inserts or rewrites:
            partition.rev = rev  # the cache must reread these entries; refreshes need not
        partition.last_publish_at = now
        return len(inserts), changed, revived

    # -- lookup -----------------------------------------------------------------------------------

    def lookup(self, partition: str, pattern: UidPattern, data_type: str) -> LookupResult:
        """Live entries of ``partition`` whose uid matches and whose data type is equal.

        The hot path of the service, on a bare connection (no ORM session) and one snapshot:
        the partition's row (with the database clock on PostgreSQL) validates the cache, the
        cache gives the matching entries, and their publish times are read for liveness
        (refreshes change only those times, so they never invalidate the cache).
        """
        if not storable(partition):
            raise PartitionNotFound(partition)
        literal = pattern.literal if self.settings.match_mode == "fullmatch" else None
        with self.db.engine.connect() as conn:
            server_clock = self.clock is None and self.db.dialect == "postgresql"
            if server_clock:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            query = _PARTITION_QUERIES[(server_clock, literal is not None)]
            params = {"name": partition} if literal is None else {"name": partition, "uid": literal}
            row = conn.execute(query, params).first()
            if row is None:
                raise PartitionNotFound(partition)
            now = float(row.now) if server_clock else self.now(conn)
            snapshot = self.cache.get(conn, partition, row.id, row.epoch, row.rev)
            candidates = self._candidates(snapshot, pattern, data_type)
            if literal is not None:
                published = {literal: row.published} if row.published is not None else {}
            elif candidates:
                published = self._publish_times(conn, row.id, candidates)
            else:
                published = {}
        cutoff = now - self.ttl
        live = [e for e in candidates if published.get(e.uid, cutoff) > cutoff]
        live.sort(key=lambda e: e.seq)
        return LookupResult(live)

    def _candidates(
        self, snapshot: Snapshot, pattern: UidPattern, data_type: str
    ) -> list[CachedEntry]:
        """Entries whose uid matches and whose data type is equal, live or not."""
        entries = snapshot.entries
        mode = self.settings.match_mode
        if mode == "fullmatch" and pattern.literal is not None:
            entry = entries.get(pattern.literal)
            hits = [entry] if entry else []
        else:
            if mode == "fullmatch":
                start, stop = pattern.candidate_slice(snapshot.sorted_keys)
                uids = snapshot.sorted_uids[start:stop]
            else:
                uids = snapshot.sorted_uids
            hits = [entries[uid] for uid in uids if pattern.matches(uid, mode)]
        return [e for e in hits if e.data_type == data_type]

    def _publish_times(
        self, conn: DBConnection, partition_id: int, entries: list[CachedEntry]
    ) -> dict[str, float]:
        ph = self._placeholder
        if len(entries) > _IN_CHUNK:  # a broad pattern: one pass over the partition is cheaper
            sql = f"SELECT uid, last_published FROM conn_entries WHERE partition_id = {ph}"
            params: tuple[Any, ...] = (partition_id,)
        else:
            markers = ", ".join([ph] * len(entries))
            sql = (
                "SELECT uid, last_published FROM conn_entries "
                f"WHERE partition_id = {ph} AND uid IN ({markers})"
            )
            params = (partition_id, *(e.uid for e in entries))
        return dict(conn.exec_driver_sql(sql, params).all())

    # -- retract ----------------------------------------------------------------------------------

    def retract(self, request: RetractRequest) -> None:
        """Remove the listed uids; raises after committing if some did not exist."""
        missing: list[str] = []
        with self.db.write() as session:
            partition = self._locked_partition(session, request.partition)
            if partition is None:
                raise PartitionNotFound(request.partition)
            now = self.now(session)
            existing = self._existing(session, partition.id, request.uids)
            missing = [uid for uid in request.uids if uid not in existing]
            if existing:
                ids = [row.id for row in existing.values()]
                for chunk in _chunks(ids):
                    session.execute(delete(ConnEntry).where(ConnEntry.id.in_(chunk)))
                partition.entry_count -= len(ids)
                partition.epoch += 1
                partition.rev += 1
                for uid in existing:
                    self._event(session, partition, "connection.retracted", {"uid": uid}, now=now)
            if partition.entry_count <= 0:
                self._drop_partition(session, partition, "retract", now)
        if missing:
            raise ConnectionsNotFound(request.partition, missing)

    def _drop_partition(
        self, session: Session, partition: ConnPartition, reason: str, now: float
    ) -> None:
        count = partition.entry_count
        self._event(
            session, partition, "partition.retracted", {"entries": count, "reason": reason}, now=now
        )
        session.execute(delete(ConnEntry).where(ConnEntry.partition_id == partition.id))
        session.delete(partition)

    def retract_partition(self, name: str) -> int:
        with self.db.write() as session:
            partition = self._locked_partition(session, name)
            if partition is None:
                raise PartitionNotFound(name)
            count = partition.entry_count
            self._drop_partition(session, partition, "retract-partition", self.now(session))
        self.cache.forget(name)
        return count

    # -- maintenance ------------------------------------------------------------------------------

    def purge(self, older_than: float | None = None) -> int:
        """Remove expired entries (or, with ``older_than``, entries unpublished for that long),
        then partitions left empty. Returns the number of entries removed."""
        removed = 0
        with self.db.write() as session:
            now = self.now(session)
            cutoff = now - (self.ttl if older_than is None else older_than)
            rows = session.execute(
                select(ConnEntry.partition_id, func.count())
                .where(ConnEntry.last_published <= cutoff)
                .group_by(ConnEntry.partition_id)
            ).all()
            for partition_id, count in rows:
                partition = session.get(
                    ConnPartition, partition_id, with_for_update=self.db.dialect == "postgresql"
                )
                if partition is None:
                    continue
                session.execute(
                    delete(ConnEntry).where(
                        ConnEntry.partition_id == partition_id, ConnEntry.last_published <= cutoff
                    )
                )
                partition.entry_count -= count
                partition.epoch += 1
                partition.rev += 1
                removed += count
            session.flush()
            empty = session.scalars(
                select(ConnPartition).where(
                    ConnPartition.entry_count <= 0, ConnPartition.last_publish_at <= cutoff
                )
            ).all()
            for partition in empty:
                self._drop_partition(session, partition, "purge", now)
        return removed

    def refresh_statistics(self) -> bool:
        """Re-analyze the entry table on PostgreSQL when its size changed by a fifth or more.

        Prepared statements switch to a generic plan after a few runs; planned from the stats of
        a nearly empty table (a new deployment, a DAQ that just published thousands of entries),
        that plan scans the whole partition for every publish until autovacuum's analyze comes
        round, up to minutes later. Returns whether it analyzed.
        """
        if self.db.dialect != "postgresql":
            return False
        with self.db.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT c.reltuples, s.n_live_tup FROM pg_class c "
                "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = 'conn_entries'"
            ).first()
            if row is None:
                return False
            estimated, live = float(row[0]), float(row[1])
            if estimated >= 0 and abs(live - estimated) <= 0.2 * max(estimated, 1000.0):
                return False
            conn.exec_driver_sql("ANALYZE conn_entries")
            conn.commit()
        return True

    def sweep_expired(self) -> int:
        """Emit ``connection.expired`` once for each entry that passed its TTL unrefreshed."""
        with self.db.write() as session:
            now = self.now(session)
            rows = session.execute(
                select(
                    ConnEntry.id, ConnEntry.uid, ConnEntry.partition_id, ConnEntry.last_published
                )
                .where(
                    ConnEntry.expiry_reported.is_(False),
                    ConnEntry.last_published <= now - self.ttl,
                )
                .limit(5000)
            ).all()
            if not rows:
                return 0
            partitions: dict[int, ConnPartition] = {}
            for row in rows:
                partition = partitions.get(row.partition_id)
                if partition is None:
                    partition = session.get(
                        ConnPartition,
                        row.partition_id,
                        with_for_update=self.db.dialect == "postgresql",
                    )
                    if partition is None:
                        continue
                    partitions[row.partition_id] = partition
                self._event(
                    session,
                    partition,
                    "connection.expired",
                    {
                        "uid": row.uid,
                        "last_published": row.last_published,
                        "age_s": now - row.last_published,
                    },
                    now=now,
                )
            ids = [row.id for row in rows]
            for chunk in _chunks(ids):
                session.execute(
                    update(ConnEntry).where(ConnEntry.id.in_(chunk)).values(expiry_reported=True)
                )
            return len(rows)

    def reset_service(self) -> StatCounters:
        with self.db.write() as session:
            partitions = session.scalars(select(ConnPartition)).all()
            session.execute(delete(ConnEntry))
            session.execute(delete(ConnPartition))
            before = self.stats.reset(session)
            emit(session, "connectivity.service.reset", {"partitions": len(partitions)})
        self.cache.forget()
        return before

    def reset_stats(self) -> StatCounters:
        with self.db.write() as session:
            return self.stats.reset(session)

    def record_misses(self, misses: list[dict[str, Any]], keep: int) -> None:
        if not misses and keep <= 0:
            return
        with self.db.write() as session:
            if misses:
                session.execute(insert(ConnLookupMiss), misses)
            newest = session.scalar(
                select(ConnLookupMiss.id).order_by(ConnLookupMiss.id.desc()).offset(keep).limit(1)
            )
            if newest is not None:
                session.execute(delete(ConnLookupMiss).where(ConnLookupMiss.id <= newest))


def _conn_data(conn: Connection) -> dict[str, Any]:
    return {
        "uid": conn.uid,
        "uri": conn.uri,
        "data_type": conn.data_type,
        "connection_type": conn.connection_type,
        "capacity": conn.capacity,
    }
