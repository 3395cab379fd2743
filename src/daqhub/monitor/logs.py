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
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Mapping
from datetime import timedelta, tzinfo
from functools import cached_property
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
    """Group-commits log records posted concurrently; one per process, with its own thread.

    Requests queue their validated rows and await a future; the writer thread takes whatever
    is queued (up to ``batch_max`` rows), inserts it in one transaction and resolves the
    futures on the event loop. A dedicated thread (rather than one thread-pool job per batch)
    keeps the per-batch overhead low on the hot path.
    """

    def __init__(self, db: Database, *, batch_max: int = 500) -> None:
        self._db = db
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._last_event = 0.0
        self.batches = 0
        self.records = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="daqhub-monitor-logs", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Write everything queued, answer it, then stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        await run_in_threadpool(thread.join)

    async def write(self, values: dict[str, Any]) -> int:
        """Store one validated record; its id once committed."""
        if self._thread is None or self._loop is None:
            result = (await run_in_threadpool(self._insert, [values]))[0]
            if isinstance(result, Exception):
                raise result
            return result
        future: asyncio.Future[int] = self._loop.create_future()
        self._queue.put((values, future))
        return await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                results = self._insert([values for values, _ in batch])
            except Exception as exc:  # never let the thread die; fail this batch
                results = [exc] * len(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_resolve, [f for _, f in batch], results)
            self._maybe_event(results)
        if "_sqlite" in self.__dict__:
            self._sqlite.close()

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
        if self._db.dialect == "sqlite":
            ids = self._sqlite.insert(rows)
        else:
            with self._db.engine.connect() as conn, conn.begin():
                statement = insert(LOGS).returning(LOGS.c.id, sort_by_parameter_order=True)
                ids = [int(row[0]) for row in conn.execute(statement, rows)]
        self.batches += 1
        self.records += len(ids)
        return ids

    @cached_property
    def _sqlite(self) -> _SqliteLogInsert:
        return _SqliteLogInsert(self._db)

    def _maybe_event(self, results: list[int | Exception]) -> None:
        """At most one ``monitor.logs.appended`` event per second (best effort)."""
        ids = [r for r in results if isinstance(r, int)]
        now = time.monotonic()
        if not ids or now - self._last_event < EVENT_INTERVAL:
            return
        self._last_event = now
        try:
            with self._db.write() as session:
                emit(session, "monitor.logs.appended", {"last_id": max(ids), "batch": len(ids)})
        except Exception:
            log.warning("recording the logs.appended event failed", exc_info=True)


_Item = tuple[dict[str, Any], "asyncio.Future[int]"]


class _SqliteLogInsert:
    """The embedded default's batch insert on one DB-API connection of the writer thread.

    One ``executemany`` inside ``BEGIN IMMEDIATE`` costs a fraction of the generic statement
    path, which matters at thousands of records per second. Values are converted by the
    columns' own SQLAlchemy bind processors, so rows are stored exactly as everywhere else;
    ids are consecutive because the table uses AUTOINCREMENT and the transaction is the only
    writer.
    """

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        columns = [c for c in LOGS.c if c.name != "id"]
        self._names = [c.name for c in columns]
        self._processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        self._sql = (
            f"INSERT INTO {LOGS.name} ({', '.join(self._names)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        self._db = db
        self._conn: Any = None

    def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        if self._conn is None:
            self._conn = self._db.engine.raw_connection()
        params = [
            tuple(
                proc(row.get(name)) if proc is not None else row.get(name)
                for name, proc in zip(self._names, self._processors, strict=True)
            )
            for row in rows
        ]
        cursor = self._conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.executemany(self._sql, params)
                last = int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        except Exception:
            self.close()  # a broken connection is not reused
            raise
        finally:
            cursor.close()
        return list(range(last - len(rows) + 1, last + 1))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def _resolve(futures: list[asyncio.Future[int]], results: list[int | Exception]) -> None:
    for future, result in zip(futures, results, strict=True):
        if future.done():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


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
