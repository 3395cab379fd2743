"""The workflow monitor plugged into daqhub: per-process state, background work, routes.

Background work: the log writer (one per process), the stale-agent sweep and log retention
(each in exactly one process at a time, under the leader lock, on the runtime's background
threads, which shutdown drains before the database closes).
"""

from __future__ import annotations

from fastapi import FastAPI

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


service = MonitorService()
