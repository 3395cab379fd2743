"""The workflow monitor plugged into daqhub: per-process state, background work, routes.

Background work: the log writer (one per process), the stale-agent sweep and log retention
(each in exactly one process at a time, under the leader lock). Their database work runs in the
thread pool; shutdown waits for a run in progress so that no connection outlives the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from daqhub.core.errors import ErrorFormats
from daqhub.core.runtime import Runtime
from daqhub.core.service import Listener, Service
from daqhub.monitor import api, logs
from daqhub.monitor.state import MonitorState


class MonitorService(Service):
    name = "monitor"

    def setup(self, runtime: Runtime) -> None:
        state = MonitorState.build(runtime)
        settings = state.settings
        runtime.services[self.name] = state
        runtime.on_start(state.logs.start)
        runtime.on_stop(state.logs.stop)
        runtime.tasks.periodic(
            "monitor-stale-agents", settings.stale_sweep_interval, state.agents.sweep
        )
        if settings.log_retention_days > 0:
            runtime.tasks.periodic(
                "monitor-log-retention",
                settings.log_retention_interval,
                lambda: logs.purge_old(
                    state.db,
                    days=settings.log_retention_days,
                    batch=settings.log_retention_batch,
                ),
            )

    def mount(
        self, app: FastAPI, runtime: Runtime, listener: Listener, formats: ErrorFormats
    ) -> None:
        api.mount(app, runtime.services[self.name], formats)


class InFlight:
    """Runs blocking periodic work in the thread pool and lets shutdown wait for it."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    def wrap(self, fn: Callable[[], Any]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            future = asyncio.ensure_future(run_in_threadpool(fn))
            self._running.add(future)
            future.add_done_callback(self._running.discard)
            await asyncio.shield(future)

        return run

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


service = MonitorService()
