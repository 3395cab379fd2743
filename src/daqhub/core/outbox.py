"""Transactional outbox: events are rows committed with the domain change that caused them.

Domain code calls :func:`emit` inside its unit of work. The row's id is the event id, so ids
increase and survive restarts. After the commit, the session hands the new rows to the
:class:`OutboxRelay` of this process, which publishes them to the bus at once. Nothing is
published for a transaction that rolled back.

Delivery is at least once:

* with a shared bus (Redis), the relay marks rows published; a singleton sweep republishes rows
  left unpublished by a process that died between commit and publish;
* with the in-process bus and several worker processes, every process also tails the table so
  that its own subscribers see events committed by the others (ids are assigned in commit order
  on SQLite, whose writers are serialised).

A singleton sweep deletes rows older than ``events.retention``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Index, String, delete, event, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from daqhub.core.db import Base, BigIntPK, Database, JSONType, UTCDateTime, isoformat, utcnow
from daqhub.core.events import Event, EventBus
from daqhub.core.threads import ThreadWork

log = logging.getLogger(__name__)

_PENDING_KEY = "daqhub_outbox_pending"


class OutboxEvent(Base):
    __tablename__ = "event_outbox"
    __table_args__ = (
        Index("ix_event_outbox_unpublished", "published", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(120))
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published: Mapped[bool] = mapped_column(Boolean, default=False)

    def to_event(self) -> Event:
        return Event(type=self.type, id=self.id, time=isoformat(self.time) or "", data=self.data)


def emit(
    session: Session, event_type: str, data: dict[str, Any], *, at: datetime | None = None
) -> None:
    """Record an event in the current unit of work; it is published only if the unit commits."""
    row = OutboxEvent(type=event_type, time=at or utcnow(), data=data, published=False)
    session.add(row)
    pending: list[OutboxEvent] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = []
    pending.append(row)


class OutboxRelay:
    """Moves committed outbox rows to the bus (one per process)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        interval: float = 0.2,
        retention: float = 3600.0,
        tail: bool = False,
        threads: ThreadWork,
    ) -> None:
        self._db = db
        self._threads = threads
        self._bus = bus
        self._interval = interval
        self._retention = retention
        self._tail = tail
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[list[Event]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._tail_task: asyncio.Task[None] | None = None
        self._cursor = 0
        self._lock = threading.Lock()
        self._early: list[Event] = []
        self._listening = False
        self.listen()

    def listen(self) -> None:
        """Hook the session factory: committed outbox rows are handed to this relay."""
        if not self._listening:
            event.listen(self._db.session_factory, "after_commit", self._after_commit)
            event.listen(self._db.session_factory, "after_rollback", self._after_rollback)
            self._listening = True

    # -- session hooks (run in whichever thread committed) -------------------------------------

    def _after_commit(self, session: Session) -> None:
        pending = session.info.pop(_PENDING_KEY, None)
        if not pending:
            return
        events = [row.to_event() for row in pending]
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            with self._lock:
                self._early.extend(events)  # published when the relay starts
            return
        loop.call_soon_threadsafe(queue.put_nowait, events)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.listen()
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        with self._lock:
            early, self._early = self._early, []
        if early:
            self._queue.put_nowait(early)
        self._task = asyncio.create_task(self._publish_loop(), name="daqhub-outbox")
        if self._tail:
            self._cursor = await self._threads.run(self._max_id)
            self._tail_task = asyncio.create_task(self._tail_loop(), name="daqhub-outbox-tail")

    async def stop(self) -> None:
        for task in (self._task, self._tail_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._queue is not None:  # flush what was committed before shutdown
            while not self._queue.empty():
                await self._publish(self._queue.get_nowait())
        self._loop = None
        if self._listening:
            event.remove(self._db.session_factory, "after_commit", self._after_commit)
            event.remove(self._db.session_factory, "after_rollback", self._after_rollback)
            self._listening = False

    async def _publish_loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._queue.get()
            while not self._queue.empty() and len(batch) < 1000:
                batch.extend(self._queue.get_nowait())
            try:
                await self._publish(batch)
            except Exception:
                # The rows stay unpublished; the recovery sweep will pick them up.
                log.exception("publishing %d events failed", len(batch))

    async def _publish(self, batch: list[Event]) -> None:
        await self._bus.publish(batch)
        if self._bus.shared:
            ids = [e.id for e in batch]
            await self._threads.run(self._mark_published, ids)

    def _mark_published(self, ids: list[int]) -> None:
        with self._db.write() as session:
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published=True)
            )

    # -- tailing (in-process bus with several workers) ----------------------------------------

    def _max_id(self) -> int:
        with self._db.read() as session:
            return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)

    def _rows_after(self, cursor: int) -> list[Event]:
        with self._db.read() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.id > cursor)
                .order_by(OutboxEvent.id)
                .limit(1000)
            ).all()
            return [row.to_event() for row in rows]

    async def _tail_loop(self) -> None:
        while True:
            try:
                events = await self._threads.run(self._rows_after, self._cursor)
                if events:
                    self._cursor = events[-1].id
                    await self._bus.publish(events)
                    if len(events) == 1000:
                        continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tailing the event outbox failed")
            await asyncio.sleep(self._interval)

    # -- singleton sweeps --------------------------------------------------------------------------

    async def recover(self) -> None:
        """Republish rows a dead process committed but never published (shared bus only)."""
        if not self._bus.shared:
            return
        cutoff = utcnow() - timedelta(seconds=max(5 * self._interval, 2.0))

        def stale() -> list[Event]:
            with self._db.read() as session:
                rows = session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.published.is_(False), OutboxEvent.time < cutoff)
                    .order_by(OutboxEvent.id)
                    .limit(1000)
                ).all()
                return [row.to_event() for row in rows]

        events = await self._threads.run(stale)
        if events:
            log.warning("republishing %d events left unpublished", len(events))
            await self._publish(events)

    def prune(self) -> None:
        if self._retention <= 0:
            return
        cutoff = datetime.now(UTC) - timedelta(seconds=self._retention)
        with self._db.write() as session:
            query = delete(OutboxEvent).where(OutboxEvent.time < cutoff)
            if self._bus.shared:
                query = query.where(OutboxEvent.published.is_(True))
            session.execute(query)
