"""The connectivity service plugged into daqhub: state, background tasks, routes, home section."""

from __future__ import annotations

from fastapi import FastAPI

from daqhub.connectivity import api, native, pages, ui
from daqhub.connectivity.registry import Registry
from daqhub.connectivity.state import ConnectivityState
from daqhub.core.errors import ErrorFormats
from daqhub.core.runtime import Runtime
from daqhub.core.service import HomeSection, Listener, Service


class ConnectivityService(Service):
    name = "connectivity"

    def setup(self, runtime: Runtime) -> None:
        settings = runtime.settings.connectivity
        registry = Registry(runtime.db, settings)
        state = ConnectivityState(registry, settings, runtime.tokens, runtime.metrics)
        runtime.services[self.name] = state
        runtime.tasks.periodic(
            "connectivity-flush", settings.stats_flush_interval, state.flush, singleton=False
        )
        runtime.tasks.periodic(
            "connectivity-expiry", settings.sweep_interval, registry.sweep_expired
        )
        runtime.tasks.periodic("connectivity-analyze", 5.0, registry.refresh_statistics)
        if settings.expired_retention > 0:
            retention = settings.expired_retention
            runtime.tasks.periodic(
                "connectivity-retention",
                min(60.0, max(retention / 10, settings.sweep_interval)),
                lambda: registry.purge(older_than=retention),
            )
        # Counts not yet flushed would otherwise be lost with this process.
        runtime.on_stop(lambda: runtime.threads.run(state.flush))

    def mount(
        self, app: FastAPI, runtime: Runtime, listener: Listener, formats: ErrorFormats
    ) -> None:
        state: ConnectivityState = runtime.services[self.name]
        api.mount(app, state, formats, restricted=listener.restricted_to(self.name))
        native.mount(app, state, runtime)
        ui.mount(app, state.settings)

    def home_section(self, runtime: Runtime) -> HomeSection:
        state: ConnectivityState = runtime.services[self.name]
        limit = state.settings.dump_row_limit

        def section() -> str:
            dump = pages.render_dump(*pages.load_dump(state.registry, limit))
            return dump + pages.render_stats(state.registry.stats.read())

        return section


service = ConnectivityService()
