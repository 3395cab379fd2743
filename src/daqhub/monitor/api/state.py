"""Function endpoints: the state counters and ``namespaces/ensure`` (spec §3.10, §3.11).

They answer ``{"...": value, "status": "success"}`` and fail with ``{"error": ...,
"status": "error"}``; storage failures give a short message without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from daqhub.monitor import counters
from daqhub.monitor.api.auth import Policy
from daqhub.monitor.api.routing import Call, Endpoint, Routes, respond
from daqhub.monitor.errors import FunctionError

log = logging.getLogger("daqhub.monitor")


def counter_handler(counter: counters.Counter) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        try:
            value = counters.allocate(call.state.db, counter)
        except SQLAlchemyError:
            log.exception("allocating %s failed", counter.name)
            raise FunctionError(f"Failed to allocate {counter.name.replace('_', ' ')}") from None
        return respond({counter.wire: value, "status": "success"})

    return handle


def _text(data: object, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def ensure_namespace(call: Call) -> Response:
    data = call.data()
    name, owner = _text(data, "name"), _text(data, "owner")
    if not name:
        raise FunctionError("name is required", 400)
    if not owner:
        raise FunctionError("owner is required", 400)
    if len(name) > 100 or len(owner) > 100:
        raise FunctionError("name and owner must be at most 100 characters", 400)
    description = _text(data, "description")
    try:
        row, created = counters.ensure_namespace(call.state.db, name, owner, description)
    except SQLAlchemyError:
        log.exception("ensuring namespace %s failed", name)
        raise FunctionError("Failed to ensure namespace") from None
    return respond({**row, "created": created, "status": "success"})


def mount(routes: Routes) -> None:
    token_only = {
        "/api/state/next-run-number/": ("Next Run Number", counters.RUN_NUMBER),
        "/api/state/next-agent-id/": ("Next Agent Id", counters.AGENT_ID),
    }
    for path, (name, counter) in token_only.items():
        routes.add(
            path,
            name,
            {"POST": Endpoint(counter_handler(counter), Policy.TOKEN)},
            fallback=lambda _method: Policy.TOKEN,
        )
    routes.add(
        "/api/state/next-workflow-execution-id/",
        "Next Workflow Execution Id",
        {"POST": Endpoint(counter_handler(counters.WORKFLOW_EXECUTION_ID), Policy.AUTH)},
        fallback=lambda _method: Policy.AUTH,
    )
    routes.add(
        "/api/namespaces/ensure/",
        "Ensure Namespace",
        {"POST": Endpoint(ensure_namespace, Policy.AUTH)},
        fallback=lambda _method: Policy.AUTH,
    )
