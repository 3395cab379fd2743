"""Per-process state of the monitor service, built once by ``MonitorService.setup``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from daqhub.core.db import Database
from daqhub.core.runtime import Runtime
from daqhub.monitor.agents import AgentBook
from daqhub.monitor.api.auth import Authenticator
from daqhub.monitor.fields import Context
from daqhub.monitor.logs import LogWriter
from daqhub.monitor.settings import MonitorSettings
from daqhub.monitor.timestamps import zone


@dataclass
class MonitorState:
    settings: MonitorSettings
    db: Database
    auth: Authenticator
    agents: AgentBook
    logs: LogWriter
    zone: tzinfo
    parse: Context

    @classmethod
    def build(cls, runtime: Runtime) -> MonitorState:
        settings = runtime.settings.monitor
        naive = zone(settings.naive_timezone)
        return cls(
            settings=settings,
            db=runtime.db,
            auth=Authenticator(runtime.tokens),
            agents=AgentBook(
                runtime.db,
                stale_after=settings.stale_agent_seconds,
                alive_within=settings.liveness_seconds,
                view_sweep_interval=min(5.0, settings.stale_sweep_interval),
            ),
            logs=LogWriter(runtime.db, batch_max=settings.log_batch_max),
            zone=naive,
            parse=Context(naive),
        )
