"""Application logs: batched ingestion, the per-instance summary and retention (spec §3.9.2-3).

Agents post one record per HTTP request, often many per second each. Committing every record
on its own would cost one fsync per record, so records validated by concurrent requests are
queued and written by one task in group commits: while a batch is being written the next one
gathers, and each request is answered (with its new ``id``) only after its batch committed.
A lone request is written at once, so there is no added latency at low rates. If a batch
fails, its records are retried one by one so that one bad record cannot fail its neighbours.

At most one ``monitor.logs.appended`` event per second is recorded, never one per record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, insert, select
from starlette.concurrency import run_in_threadpool

from daqhub.core.db import Database, utcnow
from daqhub.core.outbox import emit
from daqhub.monitor.catalog import LOGS
from daqhub.monitor.listing import Filter, conditions, exact, since
from daqhub.monitor.timestamps import format_datetime

log = logging.getLogger("daqhub.monitor")

EVENT_INTERVAL = 1.0
"""Seconds between two ``monitor.logs.appended`` events of one process."""

SUMMARY_FILTERS: dict[str, Filter] = {
    "app_name": exact(LOGS.c.app_name),
    "instance_name": exact(LOGS.c.instance_name),
    "since": since(LOGS.c.timestamp),
}
SUMMARY_ERROR_LEVELS = ("ERROR", "CRITICAL")
SUMMARY_RECENT = 5


class LogWriter:
    """Group-commits log records posted concurrently; one per process."""

    def __init__(self, db: Database, *, batch_max: int = 500) -> None:
        self._db = db
        self._batch_max = batch_max
        self._pending: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_event = 0.0
        self._stopping = False
        self.batches = 0
        self.records = 0

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="daqhub-monitor-logs")

    async def stop(self) -> None:
        """Finish the batch in flight and answer everything queued, then stop."""
        task = self._task
        if task is None or self._wake is None:
            return
        self._stopping = True
        self._wake.set()
        await task
        self._task = None

    async def write(self, values: dict[str, Any]) -> int:
        """Store one validated record; its id once committed."""
        if self._task is None or self._wake is None:
            ids = await run_in_threadpool(self._insert, [values])
            result = ids[0]
            if isinstance(result, Exception):
                raise result
            return result
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._flush()
            if self._stopping:
                return

    async def _flush(self) -> None:
        batch = self._pending[: self._batch_max]
        del self._pending[: self._batch_max]
        try:
            results = await run_in_threadpool(self._insert, [values for values, _ in batch])
        except Exception as exc:  # the database is unreachable: fail the whole batch
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int | Exception]:
        try:
            return list(self._insert_batch(rows))
        except Exception as exc:
            if len(rows) == 1:
                return [exc]
            log.warning("a batch of %d log records failed; retrying them one by one", len(rows))
        results: list[int | Exception] = []
        for row in rows:
            try:
                results.extend(self._insert_batch([row]))
            except Exception as exc:
                results.append(exc)
        return results

    def _insert_batch(self, rows: list[dict[str, Any]]) -> list[int]:
        with self._db.write() as session:
            if len(rows) == 1:
                ids = [int(session.execute(insert(LOGS).values(**rows[0])).inserted_primary_key[0])]  # type: ignore[index]
            else:
                result = session.execute(
                    insert(LOGS).returning(LOGS.c.id, sort_by_parameter_order=True), rows
                )
                ids = [int(row[0]) for row in result]
            now = time.monotonic()
            if now - self._last_event >= EVENT_INTERVAL:
                self._last_event = now
                emit(session, "monitor.logs.appended", {"last_id": ids[-1], "batch": len(ids)})
        self.batches += 1
        self.records += len(ids)
        return ids


def summary(db: Database, params: Mapping[str, str], zone: tzinfo) -> dict[str, Any]:
    """``{app: {instance: {"error_counts": {...}, "recent_errors": [...]}}}`` in two queries."""
    where = conditions(SUMMARY_FILTERS, params, zone)
    counts = (
        select(LOGS.c.app_name, LOGS.c.instance_name, LOGS.c.levelname, func.count())
        .where(*where)
        .group_by(LOGS.c.app_name, LOGS.c.instance_name, LOGS.c.levelname)
        .order_by(LOGS.c.app_name, LOGS.c.instance_name, LOGS.c.levelname)
    )
    rank = (
        func.row_number()
        .over(
            partition_by=(LOGS.c.app_name, LOGS.c.instance_name),
            order_by=(LOGS.c.timestamp.desc(), LOGS.c.id.desc()),
        )
        .label("rank")
    )
    errors = (
        select(
            LOGS.c.app_name,
            LOGS.c.instance_name,
            LOGS.c.timestamp,
            LOGS.c.levelname,
            LOGS.c.message,
            LOGS.c.module,
            LOGS.c.funcname,
            LOGS.c.lineno,
            rank,
        )
        .where(LOGS.c.levelname.in_(SUMMARY_ERROR_LEVELS), *where)
        .subquery()
    )
    recent = (
        select(errors)
        .where(errors.c.rank <= SUMMARY_RECENT)
        .order_by(errors.c.app_name, errors.c.instance_name, errors.c.rank)
    )
    result: dict[str, dict[str, dict[str, Any]]] = {}
    with db.read() as session:
        for app, instance, levelname, count in session.execute(counts):
            entry = result.setdefault(app, {}).setdefault(
                instance, {"error_counts": {}, "recent_errors": []}
            )
            entry["error_counts"][levelname] = int(count)
        for row in session.execute(recent).mappings():
            entry = result.setdefault(row["app_name"], {}).setdefault(
                row["instance_name"], {"error_counts": {}, "recent_errors": []}
            )
            entry["recent_errors"].append(
                {
                    "timestamp": format_datetime(row["timestamp"]),
                    "levelname": row["levelname"],
                    "message": row["message"],
                    "module": row["module"],
                    "funcname": row["funcname"],
                    "lineno": row["lineno"],
                }
            )
    return result


def purge_old(db: Database, *, days: float, batch: int, max_batches: int = 100) -> int:
    """Delete logs older than ``days`` in batches of ``batch`` rows; the number deleted."""
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    for _ in range(max_batches):
        with db.write() as session:
            ids = select(LOGS.c.id).where(LOGS.c.timestamp < cutoff).order_by(LOGS.c.id)
            doomed = [row[0] for row in session.execute(ids.limit(batch))]
            if not doomed:
                break
            session.execute(delete(LOGS).where(LOGS.c.id.in_(doomed)))
        total += len(doomed)
        if len(doomed) < batch:
            break
    if total:
        log.info("log retention deleted %d records older than %s days", total, days)
    return total
