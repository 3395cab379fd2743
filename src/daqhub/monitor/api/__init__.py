"""The monitor's HTTP surface: every route of spec §3 under ``/api/`` (and the mount prefix).

Order matters only where a fixed path shares a prefix with a detail route
(``/api/logs/summary/`` before ``/api/logs/{key}/``); the log routes come first because they
carry most of the traffic.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from daqhub.core.errors import ErrorFormats, detail_renderer, json_response
from daqhub.monitor.api import agents, logs, openapi, state
from daqhub.monitor.api.resources import add_resource
from daqhub.monitor.api.routing import Routes, render_error
from daqhub.monitor.catalog import APP_LOGS, RESOURCES, SYSTEM_AGENTS
from daqhub.monitor.errors import MethodNotAllowed
from daqhub.monitor.state import MonitorState

__all__ = ["mount"]

log = logging.getLogger("daqhub.monitor")


def mount(app: FastAPI, monitor: MonitorState, formats: ErrorFormats) -> None:
    routes = Routes(monitor)
    logs.mount(routes)
    agents.mount(routes)
    state.mount(routes)
    for res in RESOURCES:
        if res not in (SYSTEM_AGENTS, APP_LOGS):
            add_resource(routes, res)
    app.router.routes.insert(0, routes)
    openapi.install(app, routes)
    fast = getattr(app.state, "fast_routes", None)
    if fast is not None:
        _mount_fast(fast, routes, f"{monitor.settings.prefix}/api/logs/")
    prefix = monitor.settings.prefix
    _mount_schema(app, prefix)
    if prefix:
        _mount_root(app, prefix)
    formats.add_prefix(f"{prefix}/api/", detail_renderer)


def _mount_fast(fast: Any, routes: Routes, path: str) -> None:
    """Serve the log collection (agents' hottest route) from the server's lean front router,
    ahead of the framework's middleware stack; every method still goes through the same
    :class:`MonitorRoute`, so answers are identical."""
    route = next(r for r in routes.routes if r.path == path)

    async def handle(request: Request) -> Response:
        try:
            return await route.dispatch(request)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return json_response({"detail": "Internal server error."}, 500)

    handlers = dict.fromkeys(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"), handle)
    for variant in (path, path.rstrip("/")):
        fast.add(
            variant,
            handlers,
            tag="monitor",
            not_allowed=lambda request, _allowed: render_error(
                MethodNotAllowed(request.method, route.allowed)
            ),
        )


def _mount_schema(app: FastAPI, prefix: str) -> None:
    """The original's OpenAPI locations, aliases of the server-wide schema."""
    schema_url = f"{prefix}/api/schema/"

    async def schema(_request: Request) -> Response:
        return JSONResponse(app.openapi())

    async def swagger(_request: Request) -> Response:
        return get_swagger_ui_html(openapi_url=schema_url, title="daqhub monitor API")

    async def redoc(_request: Request) -> Response:
        return get_redoc_html(openapi_url=schema_url, title="daqhub monitor API")

    for path, endpoint in (("", schema), ("swagger-ui/", swagger), ("redoc/", redoc)):
        for variant in {schema_url + path, (schema_url + path).rstrip("/")}:
            app.add_route(variant, endpoint, methods=["GET", "HEAD"], include_in_schema=False)


def _mount_root(app: FastAPI, prefix: str) -> None:
    """``GET <prefix>/`` answers 200, the testbed's health check (``curl -f``)."""

    async def root(_request: Request) -> Response:
        return HTMLResponse(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>daqhub monitor</title>'
            f'</head><body><h1>Workflow monitor</h1><p><a href="{prefix}/api/schema/swagger-ui/">'
            "API</a></p></body></html>"
        )

    for variant in (prefix, prefix + "/"):
        app.add_route(variant, root, methods=["GET", "HEAD"], include_in_schema=False)
