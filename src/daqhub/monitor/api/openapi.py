"""OpenAPI description of the monitor routes, merged into the server's schema.

The monitor's routes are not FastAPI path operations (they match both slash forms and every
method themselves), so FastAPI cannot describe them; this module does, from the same resource
declarations that drive the routes: fields become request and response schemas, filters become
query parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from daqhub.monitor.api.routing import MonitorRoute, Routes
from daqhub.monitor.fields import Field
from daqhub.monitor.resource import Resource

_KINDS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "uri": {"type": "string", "format": "uri"},
    "ip": {"type": "string"},
    "json": {},
}
_SUMMARIES = {
    "GET": "Read",
    "POST": "Create",
    "PUT": "Replace",
    "PATCH": "Update",
    "DELETE": "Delete",
}


def _field_schema(f: Field) -> dict[str, Any]:
    schema = dict(_KINDS.get(f.kind, {}))
    if f.meta.get("max_length"):
        schema["maxLength"] = f.meta["max_length"]
    if f.meta.get("choices"):
        schema["enum"] = f.meta["choices"]
    if f.null:
        schema["nullable"] = True
    if f.read_only:
        schema["readOnly"] = True
    return schema


def _object(res: Resource, *, writable_only: bool) -> dict[str, Any]:
    fields = [f for f in res.fields if not (writable_only and f.read_only)]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: _field_schema(f) for f in fields},
    }
    required = [f.name for f in fields if f.required]
    if writable_only and required:
        schema["required"] = required
    return schema


def _operation(route: MonitorRoute, method: str, path: str) -> dict[str, Any]:
    res = route.resource
    detail = "{key}" in path
    operation: dict[str, Any] = {
        "tags": ["monitor"],
        "summary": f"{_SUMMARIES.get(method, method)}: {route.name}",
        "operationId": f"monitor_{method.lower()}_{path.strip('/').replace('/', '_')}",
        "responses": {"200": {"description": "Success"}},
    }
    parameters: list[dict[str, Any]] = []
    if detail:
        parameters.append(
            {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    if res is not None:
        item = _object(res, writable_only=False)
        if method == "GET" and not detail:
            parameters.extend(
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in [*res.filters, "limit", "offset"]
            )
            operation["responses"]["200"]["content"] = {
                "application/json": {"schema": {"type": "array", "items": item}}
            }
        elif method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = {
                "content": {"application/json": {"schema": _object(res, writable_only=True)}}
            }
            status = "201" if method == "POST" else "200"
            operation["responses"] = {
                status: {
                    "description": "Success",
                    "content": {"application/json": {"schema": item}},
                }
            }
        elif method == "DELETE":
            operation["responses"] = {"204": {"description": "Deleted"}}
        else:
            operation["responses"]["200"]["content"] = {"application/json": {"schema": item}}
        operation["responses"]["400"] = {"description": "Invalid request"}
    if parameters:
        operation["parameters"] = parameters
    return operation


def describe(routes: Routes) -> dict[str, dict[str, Any]]:
    """OpenAPI ``paths`` of every monitor route (canonical trailing-slash form)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.routes:
        item = paths.setdefault(route.path, {})
        for method in route.endpoints:
            item[method.lower()] = _operation(route, method, route.path)
    return paths


def install(app: FastAPI, routes: Routes) -> None:
    """Have ``app.openapi()`` (``/openapi.json``, ``/docs``, ``/api/schema/``) include them."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            schema.setdefault("paths", {}).update(describe(routes))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
