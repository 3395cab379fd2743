"""The DQM receiver plugged into daqhub: state and background tasks once per process, routes and
error formats once per listener, and the token check behind ``/``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from daqhub.core.errors import ErrorFormats
from daqhub.core.runtime import Runtime
from daqhub.core.service import Listener, RootHandler, Service
from daqhub.receiver import api, errors, query, ui
from daqhub.receiver.housekeeping import Housekeeping
from daqhub.receiver.state import ReceiverState

OWNED_PREFIXES = ("/rest/api/files", query.PREFIX, ui.PREFIX)


def _owner(mount_prefix: str) -> Callable[[str], bool]:
    """Paths whose errors take the receiver's format."""
    owned = OWNED_PREFIXES + ((mount_prefix + "/",) if mount_prefix else ())

    def owns(path: str) -> bool:
        return path.startswith(owned) or path == mount_prefix  # paths are never empty

    return owns


class ReceiverService(Service):
    name = "receiver"

    def setup(self, runtime: Runtime) -> None:
        state = ReceiverState(runtime)
        runtime.services[self.name] = state
        keeper = Housekeeping(state)
        settings = state.settings
        runtime.tasks.periodic("receiver-sweep", settings.sweep_interval, keeper.sweep)
        runtime.tasks.periodic("receiver-scan", settings.scan_interval, keeper.scan)
        runtime.tasks.periodic("receiver-retention", settings.retention_interval, keeper.retention)
        runtime.tasks.periodic("receiver-scrub", settings.scrub_interval, keeper.scrub)
        # Blocks of guessing addresses: copied into every process, pruned by one.
        runtime.tasks.periodic(
            "receiver-throttle", 1.0, state.gate.throttle.refresh, singleton=False
        )
        runtime.tasks.periodic(
            "receiver-throttle-prune", settings.sweep_interval, state.ledger.prune
        )
        runtime.on_start(state.start)
        runtime.on_stop(state.stop)
        runtime.add_ready_check(self.name, state.ready)

    def mount(
        self, app: FastAPI, runtime: Runtime, listener: Listener, formats: ErrorFormats
    ) -> None:
        state: ReceiverState = runtime.services[self.name]
        app.add_exception_handler(errors.ReceiverError, errors.render)
        api.mount(app, state, prefix=state.settings.mount_prefix)
        query.mount(app, state)
        ui.mount(app, state)
        formats.add(_owner(state.settings.mount_prefix), errors.router_error)
        if listener.restricted_to(self.name):
            formats.fallback = errors.router_error

    def root_handler(self, runtime: Runtime) -> RootHandler:
        return api.root_handler(runtime.services[self.name])


service = ReceiverService()
