"""Transactional outbox: events leave only with their commit, in order, at least once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from daqhub.core.db import Database
from daqhub.core.events import EventBus, MemoryBus, RedisBus
from daqhub.core.outbox import OutboxEvent, OutboxRelay, emit
from daqhub.core.threads import ThreadWork


def test_commit_publishes_rollback_does_not(database_url: str) -> None:
    async def scenario() -> None:
        db = Database(database_url)
        bus = MemoryBus()
        relay = OutboxRelay(db, bus, threads=ThreadWork())
        await relay.start()
        sub = await bus.subscribe()
        with db.write() as session:
            emit(session, "test.one", {"a": 1})
            emit(session, "test.two", {"a": 2})
        with pytest.raises(RuntimeError), db.write() as session:
            emit(session, "test.lost", {})
            raise RuntimeError("rolled back")
        with db.write() as session:
            emit(session, "test.three", {})
        got = [await sub.get(timeout=3) for _ in range(3)]
        assert [e.type for e in got if e] == ["test.one", "test.two", "test.three"]
        assert got[0] and got[1] and got[0].id < got[1].id
        assert await sub.get(timeout=0.2) is None
        await relay.stop()
        db.dispose()

    asyncio.run(scenario())


def test_shared_bus_marks_published_and_recovers_stale_rows(
    database_url: str, redis_url: str
) -> None:
    async def scenario() -> None:
        db = Database(database_url)
        bus: EventBus = RedisBus(redis_url, prefix=f"t-{uuid.uuid4().hex[:8]}")
        await bus.start()
        threads = ThreadWork()
        relay = OutboxRelay(db, bus, interval=0.05, threads=threads)
        sub = await bus.subscribe()
        # A process that committed and died before publishing: rows left unpublished.
        with db.write() as session:
            session.add(OutboxEvent(type="test.orphan", time=_old(), data={}, published=False))
        await relay.start()
        with db.write() as session:
            emit(session, "test.live", {})
        live = await sub.get(timeout=3)
        assert live is not None and live.type == "test.live"
        await relay.recover()
        orphan = await sub.get(timeout=3)
        assert orphan is not None and orphan.type == "test.orphan"
        await asyncio.sleep(0.1)
        with db.read() as session:
            assert all(session.scalars(select(OutboxEvent.published)))
        await relay.stop()
        await bus.stop()
        await threads.drain()
        db.dispose()

    asyncio.run(scenario())


def test_tailing_delivers_other_processes_events(sqlite_url: str, tmp_path: Path) -> None:
    """With the in-process bus and several workers, each worker tails the table."""

    async def scenario() -> None:
        writer_db, reader_db = Database(sqlite_url), Database(sqlite_url)
        reader_bus = MemoryBus()
        reader = OutboxRelay(reader_db, reader_bus, interval=0.05, tail=True, threads=ThreadWork())
        await reader.start()
        sub = await reader_bus.subscribe()
        with writer_db.write() as session:  # committed by "another worker"
            emit(session, "test.elsewhere", {"x": 1})
        event = await sub.get(timeout=3)
        assert event is not None and event.type == "test.elsewhere" and event.data == {"x": 1}
        await reader.stop()
        writer_db.dispose()
        reader_db.dispose()

    asyncio.run(scenario())


def _old():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(minutes=5)
