"""The application factory.

``create_app(settings)`` returns an ASGI application with no import-time state. It builds one
:class:`~daqhub.core.runtime.Runtime` (database, bus, tokens, tasks) and one FastAPI app per
distinct listener configuration, all sharing that runtime. Requests are routed to the app of the
listener (local port) they arrived on, so ``--listen 0.0.0.0:5000=connectivity`` serves only the
connectivity routes at ``/`` while the main listener serves everything.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Sequence

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from daqhub import __version__
from daqhub.core.allocator import tune_allocator
from daqhub.core.errors import ErrorFormats, json_response
from daqhub.core.fastroutes import FastRoutes
from daqhub.core.metrics import RequestMetrics
from daqhub.core.runtime import Runtime
from daqhub.core.service import Listener, Service, parse_listener
from daqhub.settings import Settings, load_settings
from daqhub.web.home import render_home

log = logging.getLogger(__name__)

SERVICE_MODULES = (
    "daqhub.connectivity.service",
    "daqhub.receiver.service",
    "daqhub.monitor.service",
    "daqhub.web.service",
)
LISTENERS_ENV = "DAQHUB_BOUND_LISTENERS"
"""``serve`` tells worker processes which services each bound port serves (JSON)."""


def load_services() -> list[Service]:
    services = []
    for module_name in SERVICE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        services.append(module.service)
    return services


def build_listener_app(
    runtime: Runtime, services: Sequence[Service], listener: Listener
) -> ASGIApp:
    """The app that answers on one listener: FastAPI, behind the services' fast routes."""
    app = FastAPI(
        title="daqhub",
        version=__version__,
        description="The back office of a physics experiment's data acquisition.",
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    app.state.listener = listener
    fast = FastRoutes(app)
    app.state.fast_routes = fast
    formats = ErrorFormats()
    _mount_core(app, runtime)
    active = [s for s in services if listener.serves(s.name)]
    for service in active:
        service.mount(app, runtime, listener, formats)
    _mount_root(app, runtime, active, listener)
    formats.install(app)
    return RequestMetrics(fast if len(fast) else app, runtime.metrics)


def _mount_core(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        checks = runtime.readiness()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = runtime.metrics.render()
        return Response(body, media_type=content_type)


def _mount_root(
    app: FastAPI, runtime: Runtime, services: Sequence[Service], listener: Listener
) -> None:
    root_handlers = [r for s in services if (r := s.root_handler(runtime)) is not None]
    sections = [h for s in services if (h := s.home_section(runtime)) is not None]
    token_root = root_handlers[0] if root_handlers else None
    bare = listener.services is not None and not listener.serves("ui")

    if token_root is not None and listener.restricted_to("receiver"):
        app.add_api_route("/", token_root, methods=["GET", "HEAD", "POST"], include_in_schema=False)
        return

    async def root(request: Request) -> Response:
        if token_root is not None and (request.method == "POST" or "token" in request.headers):
            return await token_root(request)
        if request.method == "POST":
            return json_response(
                {"message": "Method Not Allowed", "status": 405}, 405, {"Allow": "GET, HEAD"}
            )
        if not await run_in_threadpool(runtime.db.ping):
            return HTMLResponse(
                "<html><body><h1>Service Unavailable</h1><p>The database is unreachable.</p>"
                "</body></html>",
                status_code=503,
            )
        html = await run_in_threadpool(render_home, runtime, sections, bare)
        return HTMLResponse(html)

    app.add_api_route("/", root, methods=["GET", "HEAD", "POST"], include_in_schema=False)


class Dispatcher:
    """The ASGI entry point: runs the runtime's lifespan and routes by local port."""

    def __init__(self, runtime: Runtime, apps: dict[int, ASGIApp], default: ASGIApp) -> None:
        self.runtime = runtime
        self.apps = apps
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        server = scope.get("server")
        app = self.apps.get(server[1], self.default) if server else self.default
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    settings: Settings | None = None, listeners: Sequence[Listener] | None = None
) -> Dispatcher:
    """Build the server. ``listeners`` are the bound addresses (their ports route requests)."""
    settings = settings or load_settings()
    runtime = Runtime(settings)
    services = load_services()
    for service in services:
        service.setup(runtime)
    listeners = list(listeners or [parse_listener(spec) for spec in settings.listen])
    apps: dict[int, ASGIApp] = {}
    by_config: dict[frozenset[str] | None, ASGIApp] = {}
    default: ASGIApp | None = None
    for listener in listeners:
        app = by_config.get(listener.services)
        if app is None:
            app = by_config[listener.services] = build_listener_app(runtime, services, listener)
        apps[listener.port] = app
        if listener.services is None and default is None:
            default = app
    if default is None:
        default = build_listener_app(runtime, services, Listener("127.0.0.1", 0, None))
    return Dispatcher(runtime, apps, default)


def create_app_from_env() -> Dispatcher:
    """Factory used by worker processes started by ``daqhub serve --workers N``."""
    tune_allocator()
    settings = load_settings()
    raw = os.environ.get(LISTENERS_ENV)
    listeners = None
    if raw:
        listeners = [
            Listener(
                item["host"],
                item["port"],
                frozenset(item["services"]) if item["services"] is not None else None,
            )
            for item in json.loads(raw)
        ]
    return create_app(settings, listeners)
