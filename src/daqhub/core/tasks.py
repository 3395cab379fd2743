"""Background work: periodic tasks, some of which must run in exactly one process at a time.

A singleton task runs only while its process holds the task's lock: a PostgreSQL advisory lock
(released by the server when the holder's connection dies) or, on the embedded default, an
``flock`` on ``<data_dir>/locks/<name>.lock`` (released by the kernel when the holder dies). A
standby process retries every ``tasks.leader_retry_interval`` seconds, so it takes over within
about that long after the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import logging
import os
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from daqhub.core.db import Database
from daqhub.core.threads import ThreadWork

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x0DA9_0B
"""First key of every daqhub advisory lock (the second is a CRC of the lock name)."""


class LeaderLock(Protocol):
    def acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._guard = threading.Lock()

    def acquire(self) -> bool:
        with self._guard:
            return self._acquire()

    def _acquire(self) -> bool:
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        with self._guard:
            self._release()

    def _release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresLeaderLock:
    """A session advisory lock on a dedicated connection (held out of the pool while locked).

    Several tasks share one lock object from different threads, so every method takes a
    thread lock: one connection must never run two statements at once.
    """

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._key = zlib.crc32(name.encode()) & 0x7FFF_FFFF
        self._conn: Any = None
        self._guard = threading.Lock()

    def acquire(self) -> bool:
        with self._guard:
            return self._acquire()

    def held(self) -> bool:
        with self._guard:
            return self._held()

    def release(self) -> None:
        with self._guard:
            self._release()

    def _acquire(self) -> bool:
        if self._conn is not None:
            return self._held()
        conn = self._db.engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, self._key))
            row = cur.fetchone()
            ok = bool(row and row[0])
            conn.commit()
        except Exception:
            conn.invalidate()
            raise
        if not ok:
            conn.close()
            return False
        self._conn = conn
        return True

    def _held(self) -> bool:
        if self._conn is None:
            return False
        try:
            cur = self._conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchone()
            self._conn.commit()
            return True
        except Exception:
            self._drop()
            return False

    def _drop(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.invalidate()
        self._conn = None

    def _release(self) -> None:
        if self._conn is None:
            return
        try:
            cur = self._conn.cursor()
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, self._key))
            self._conn.commit()
            self._conn.close()
        except Exception:
            self._drop()
        self._conn = None


TaskFn = Callable[[], Any] | Callable[[], Awaitable[Any]]


@dataclass
class _Periodic:
    name: str
    interval: float
    fn: TaskFn
    singleton: bool
    lock_name: str


class TaskRunner:
    """Runs registered periodic tasks in the event loop (sync functions in the thread pool)."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        threads: ThreadWork,
        *,
        retry_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._threads = threads
        self._data_dir = data_dir
        self._retry_interval = retry_interval
        self._periodic: list[_Periodic] = []
        self._locks: dict[str, LeaderLock] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def periodic(
        self,
        name: str,
        interval: float,
        fn: TaskFn,
        *,
        singleton: bool = True,
        lock: str = "leader",
    ) -> None:
        """Run ``fn`` every ``interval`` seconds; with ``singleton`` only in the lock holder."""
        self._periodic.append(_Periodic(name, interval, fn, singleton, lock))

    def lock(self, name: str) -> LeaderLock:
        if name not in self._locks:
            if self._db.dialect == "postgresql":
                self._locks[name] = PostgresLeaderLock(self._db, name)
            else:
                self._locks[name] = FileLeaderLock(self._data_dir / "locks" / f"{name}.lock")
        return self._locks[name]

    async def start(self) -> None:
        for task in self._periodic:
            self._tasks.append(asyncio.create_task(self._run(task), name=f"daqhub-{task.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._threads.drain()
        for lock in self._locks.values():
            with contextlib.suppress(Exception):
                await self._threads.run(lock.release)

    async def _run(self, task: _Periodic) -> None:
        while True:
            delay = task.interval
            try:
                if task.singleton:
                    lock = self.lock(task.lock_name)
                    holding = await self._threads.run(lock.held) or await self._threads.run(
                        lock.acquire
                    )
                    if not holding:
                        delay = self._retry_interval
                    else:
                        await self._call(task.fn)
                else:
                    await self._call(task.fn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed; retrying", task.name)
            await asyncio.sleep(delay)

    async def _call(self, fn: TaskFn) -> None:
        if inspect.iscoroutinefunction(fn):
            await fn()
        else:
            await self._threads.run(fn)
