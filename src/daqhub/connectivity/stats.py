"""Service statistics, totalled over every process without a database write per request.

Each process accumulates deltas in memory and adds them to the shared row every
``stats_flush_interval`` seconds, and immediately before it reads or resets the totals. A reset
reads and zeroes the row in one transaction, so no increment is lost or counted twice: an
increment another process has not flushed yet simply lands in the new period.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daqhub.connectivity.models import ConnStats
from daqhub.core.db import Database

STATS_ROW = 1


@dataclass
class StatCounters:
    publish_calls: int = 0
    connections_published: int = 0
    lookup_calls: int = 0
    connections_returned: int = 0
    retract_calls: int = 0
    retract_partition_calls: int = 0
    publish_time_total_us: int = 0
    publish_time_max_us: int = 0
    lookup_time_total_us: int = 0
    lookup_time_max_us: int = 0

    def is_zero(self) -> bool:
        return not any(asdict(self).values())


_MAX_FIELDS = ("publish_time_max_us", "lookup_time_max_us")


class Statistics:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending = StatCounters()
        self._lock = threading.Lock()

    def publish(self, connections: int, micros: int) -> None:
        with self._lock:
            p = self._pending
            p.publish_calls += 1
            p.connections_published += connections
            p.publish_time_total_us += micros
            p.publish_time_max_us = max(p.publish_time_max_us, micros)

    def lookup(self, returned: int, micros: int) -> None:
        with self._lock:
            p = self._pending
            p.lookup_calls += 1
            p.connections_returned += returned
            p.lookup_time_total_us += micros
            p.lookup_time_max_us = max(p.lookup_time_max_us, micros)

    def retract(self) -> None:
        with self._lock:
            self._pending.retract_calls += 1

    def retract_partition(self) -> None:
        with self._lock:
            self._pending.retract_partition_calls += 1

    def _take(self) -> StatCounters:
        with self._lock:
            pending, self._pending = self._pending, StatCounters()
        return pending

    def _restore(self, pending: StatCounters) -> None:
        with self._lock:
            for f in fields(StatCounters):
                mine = getattr(self._pending, f.name)
                theirs = getattr(pending, f.name)
                value = max(mine, theirs) if f.name in _MAX_FIELDS else mine + theirs
                setattr(self._pending, f.name, value)

    @staticmethod
    def _row(session: Session, *, lock: bool) -> ConnStats:
        query = select(ConnStats).where(ConnStats.id == STATS_ROW)
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = session.scalar(query)
        if row is None:
            row = ConnStats(id=STATS_ROW, **asdict(StatCounters()))
            session.add(row)
            session.flush()
        return row

    def _apply(self, session: Session, pending: StatCounters) -> None:
        if pending.is_zero():
            return
        row = self._row(session, lock=True)
        values = {}
        for f in fields(StatCounters):
            current = getattr(row, f.name) or 0
            delta = getattr(pending, f.name)
            values[f.name] = max(current, delta) if f.name in _MAX_FIELDS else current + delta
        session.execute(update(ConnStats).where(ConnStats.id == STATS_ROW).values(**values))

    def flush(self) -> None:
        """Add this process's pending counts to the shared totals."""
        pending = self._take()
        if pending.is_zero():
            return
        try:
            with self._db.write() as session:
                self._apply(session, pending)
        except Exception:
            self._restore(pending)
            raise

    def read(self) -> StatCounters:
        self.flush()
        with self._db.read() as session:
            row = session.scalar(select(ConnStats).where(ConnStats.id == STATS_ROW))
            if row is None:
                return StatCounters()
            return StatCounters(**{f.name: getattr(row, f.name) or 0 for f in fields(StatCounters)})

    def reset(self, session: Session) -> StatCounters:
        """Within the caller's transaction: flush, read the totals and zero them atomically."""
        pending = self._take()
        try:
            self._apply(session, pending)
            session.flush()
        except Exception:
            self._restore(pending)
            raise
        row = self._row(session, lock=True)
        session.refresh(row)
        before = StatCounters(**{f.name: getattr(row, f.name) or 0 for f in fields(StatCounters)})
        session.execute(
            update(ConnStats).where(ConnStats.id == STATS_ROW).values(**asdict(StatCounters()))
        )
        return before
