"""Log routes: anonymous ingestion (the hot path), the bounded list and the summary.

``POST /api/logs/`` never looks at the Authorization header, runs on the event loop (JSON
parse and field checks only) and hands the row to the process's group-commit writer. Editing
or deleting a log needs credentials (the original allowed it anonymously).
"""

from __future__ import annotations

import json

from starlette.responses import Response

from daqhub.monitor import logs
from daqhub.monitor.api.auth import Policy
from daqhub.monitor.api.resources import add_resource, list_handler
from daqhub.monitor.api.routing import Call, Endpoint, Routes, read_body, respond
from daqhub.monitor.catalog import APP_LOGS, LOG_FIELDS
from daqhub.monitor.errors import ValidationFailed
from daqhub.monitor.fields import validate
from daqhub.monitor.timestamps import format_datetime

_OUTPUT = [f.name for f in LOG_FIELDS]


async def create_log(call: Call) -> Response:
    call.body = await read_body(call.request, call.state.settings.logs_body_limit)
    values, errors = validate(
        LOG_FIELDS, call.object_data(), call.state.parse, partial=False, creating=True
    )
    if errors:
        raise ValidationFailed(errors)
    record_id = await call.state.logs.write(values)
    body = {"id": record_id, **values, "timestamp": format_datetime(values["timestamp"])}
    return Response(
        json.dumps({k: body.get(k) for k in _OUTPUT}, separators=(",", ":"), ensure_ascii=False),
        status_code=201,
        media_type="application/json",
    )


def summary(call: Call) -> Response:
    return respond(logs.summary(call.state.db, call.query, call.state.zone))


def _cap(call: Call) -> int:
    return call.state.settings.logs_max_unpaged


def mount(routes: Routes) -> None:
    limit = routes.state.settings.logs_body_limit
    routes.add(
        "/api/logs/summary/",
        "Log Summary",
        {"GET": Endpoint(summary, Policy.OPEN)},
        fallback=lambda _method: Policy.OPEN,
    )
    add_resource(
        routes,
        APP_LOGS,
        read=Policy.OPEN,
        list_endpoint=Endpoint(list_handler(APP_LOGS, cap=_cap), Policy.OPEN),
        collection_extra={"POST": Endpoint(create_log, Policy.OPEN)},
        body_limit=limit,
    )
