"""A per-process cache of the partitions' entries (their fields), never stale.

The cache holds what an entry *is* (uid, uri, data type, connection type, capacity, position),
not when it was last published: refreshes, nearly all of the traffic, only change publish times,
which lookups read for the matching entries. Every lookup reads the partition's
``(id, epoch, rev)`` from the database (the same row that tells 404 from 200), then:

* same ``(id, epoch, rev)`` as the cached snapshot: the snapshot is exact;
* same ``id`` and ``epoch``, higher ``rev``: only entries with ``changed_rev`` above the cached
  revision changed (publishes never remove entries), so they are read and merged;
* otherwise (entries were removed, or the partition was re-created): the partition is reloaded.

Snapshots are immutable; a refresh builds a new one and swaps the reference, so concurrent
lookups in other threads never see a half-updated snapshot. A lookup reads the partition row,
changed entries and publish times in one snapshot (SQLite's read transaction, PostgreSQL's
REPEATABLE READ), so it never mixes two publishes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from daqhub.connectivity.models import ConnEntry


@dataclass(frozen=True, slots=True)
class CachedEntry:
    uid: str
    uri: str
    data_type: str
    connection_type: int
    capacity: int
    seq: int
    json: str
    """The lookup result element, serialised once (key order and compactness as the original)."""


def entry_json(uid: str, uri: str, connection_type: int, data_type: str, capacity: int) -> str:
    return json.dumps(
        {
            "uid": uid,
            "uri": uri,
            "connection_type": connection_type,
            "data_type": data_type,
            "capacity": capacity,
        },
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Snapshot:
    partition_id: int
    epoch: int
    rev: int
    entries: dict[str, CachedEntry]
    sorted_uids: list[str]
    sorted_keys: list[bytes]
    """UTF-8 uids in ascending byte order (the order RE2's match ranges use)."""

    @property
    def version(self) -> tuple[int, int, int]:
        return (self.partition_id, self.epoch, self.rev)


_COLUMNS = (
    ConnEntry.uid,
    ConnEntry.uri,
    ConnEntry.data_type,
    ConnEntry.connection_type,
    ConnEntry.capacity,
    ConnEntry.seq,
)


def _cached(rows: Iterable[tuple[str, str, str, int, int, int]]) -> dict[str, CachedEntry]:
    return {
        uid: CachedEntry(uid, uri, dt, ct, cap, seq, entry_json(uid, uri, ct, dt, cap))
        for uid, uri, dt, ct, cap, seq in rows
    }


def _sorted(entries: dict[str, CachedEntry]) -> tuple[list[str], list[bytes]]:
    keyed = sorted((uid.encode("utf-8", "surrogatepass"), uid) for uid in entries)
    return [uid for _key, uid in keyed], [key for key, _uid in keyed]


class PartitionCache:
    def __init__(self, max_partitions: int = 10_000) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = threading.Lock()
        self._max = max_partitions
        self.full_loads = 0
        self.incremental_loads = 0

    def get(self, conn: Connection, name: str, partition_id: int, epoch: int, rev: int) -> Snapshot:
        current = self._snapshots.get(name)
        if current is not None and current.version == (partition_id, epoch, rev):
            return current
        if (
            current is not None
            and current.partition_id == partition_id
            and current.epoch == epoch
            and current.rev < rev
        ):
            snapshot = self._incremental(conn, current, rev)
        else:
            snapshot = self._full(conn, partition_id, epoch, rev)
        with self._lock:
            installed = self._snapshots.get(name)
            if installed is None or installed.version < snapshot.version:
                if len(self._snapshots) >= self._max and name not in self._snapshots:
                    self._snapshots.pop(next(iter(self._snapshots)))
                self._snapshots[name] = snapshot
        return snapshot

    def _full(self, conn: Connection, partition_id: int, epoch: int, rev: int) -> Snapshot:
        self.full_loads += 1
        rows = conn.execute(select(*_COLUMNS).where(ConnEntry.partition_id == partition_id)).all()
        entries = _cached(rows)
        uids, keys = _sorted(entries)
        return Snapshot(partition_id, epoch, rev, entries, uids, keys)

    def _incremental(self, conn: Connection, current: Snapshot, rev: int) -> Snapshot:
        self.incremental_loads += 1
        rows = conn.execute(
            select(*_COLUMNS).where(
                ConnEntry.partition_id == current.partition_id,
                ConnEntry.changed_rev > current.rev,
            )
        ).all()
        changed = _cached(rows)
        entries = dict(current.entries)
        added = any(uid not in entries for uid in changed)
        entries.update(changed)
        if added:
            uids, keys = _sorted(entries)
        else:
            uids, keys = current.sorted_uids, current.sorted_keys
        return Snapshot(current.partition_id, current.epoch, rev, entries, uids, keys)

    def forget(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._snapshots.clear()
            else:
                self._snapshots.pop(name, None)
