"""Everything one daqhub process shares between its listeners and services.

A :class:`Runtime` is built from settings (no I/O), started once by the ASGI lifespan, and
stopped on shutdown. Services keep their own state objects in :attr:`Runtime.services` and
register periodic work with :attr:`Runtime.tasks`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from daqhub.core import migrations
from daqhub.core.auth import TokenStore
from daqhub.core.db import Database
from daqhub.core.events import EventBus, MemoryBus, RedisBus
from daqhub.core.metrics import Metrics
from daqhub.core.outbox import OutboxRelay
from daqhub.core.tasks import TaskRunner
from daqhub.core.threads import ThreadWork
from daqhub.settings import Settings

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
ReadyCheck = Callable[[], bool]


def make_bus(settings: Settings) -> EventBus:
    events = settings.events
    if settings.event_backend == "redis":
        if not settings.redis_url:
            raise ValueError("events.backend=redis needs redis_url (DAQHUB_REDIS_URL)")
        return RedisBus(
            settings.redis_url,
            prefix=events.redis_prefix,
            history=events.history,
            queue_size=events.subscriber_queue,
        )
    return MemoryBus(history=events.history, queue_size=events.subscriber_queue)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db_settings = settings.database
        self.db = Database(
            settings.effective_database_url,
            sqlite_synchronous=db_settings.sqlite_synchronous,
            pool_size=db_settings.pool_size,
            busy_timeout_ms=db_settings.busy_timeout_ms,
        )
        self.metrics = Metrics()
        self.bus = make_bus(settings)
        self.tokens = TokenStore.from_settings(self.db, settings)
        self.threads = ThreadWork()
        self.tasks = TaskRunner(
            self.db,
            settings.data_dir,
            self.threads,
            retry_interval=settings.tasks.leader_retry_interval,
        )
        tail = not self.bus.shared and settings.workers > 1
        if tail and self.db.dialect != "sqlite":
            log.warning(
                "several workers with the in-process event bus on %s: set DAQHUB_REDIS_URL "
                "for reliable live streams",
                self.db.dialect,
            )
        self.outbox = OutboxRelay(
            self.db,
            self.bus,
            interval=settings.events.relay_interval,
            retention=settings.events.retention,
            tail=tail,
            threads=self.threads,
        )
        self.tasks.periodic(
            "outbox-recover", max(settings.events.relay_interval * 10, 1.0), self.outbox.recover
        )
        self.tasks.periodic("outbox-prune", 60.0, self.outbox.prune)
        self.services: dict[str, Any] = {}
        self._start_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        self._ready_checks: dict[str, ReadyCheck] = {"database": self.db.ping}
        self.started = False

    def on_start(self, hook: Hook) -> None:
        self._start_hooks.append(hook)

    def on_stop(self, hook: Hook) -> None:
        self._stop_hooks.append(hook)

    def add_ready_check(self, name: str, check: ReadyCheck) -> None:
        self._ready_checks[name] = check

    def readiness(self) -> dict[str, bool]:
        results = {}
        for name, check in self._ready_checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                results[name] = False
        return results

    @property
    def auto_upgrade(self) -> bool:
        configured = self.settings.database.auto_upgrade
        return self.db.dialect == "sqlite" if configured is None else configured

    async def start(self) -> None:
        if self.started:
            return
        await run_in_threadpool(
            migrations.ensure_schema,
            self.settings.effective_database_url,
            auto_upgrade=self.auto_upgrade,
        )
        await self.bus.start()
        await self.outbox.start()
        for hook in self._start_hooks:
            await hook()
        await self.tasks.start()
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.tasks.stop()
        for hook in reversed(self._stop_hooks):
            try:
                await hook()
            except Exception:
                log.exception("error while stopping")
        await self.outbox.stop()
        await self.bus.stop()
        await self.threads.drain()
        self.db.dispose()
        self.threads.shutdown()
