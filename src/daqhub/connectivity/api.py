"""HTTP routes of the connectivity service, wire-compatible with the DUNE connectivityserver.

Routes are thin: read the raw body (any Content-Type, bounded size), parse it, call the registry
(in the thread pool under the request deadline; SQLite lookups inline), and render the answer.
They are served by the lean front router (:mod:`daqhub.core.fastroutes`). Errors are
:class:`ConnectivityError` subclasses rendered as ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from daqhub.connectivity import pages
from daqhub.connectivity.errors import (
    ConnectivityError,
    Forbidden,
    PartitionNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    render,
)
from daqhub.connectivity.matching import compile_uid_regex
from daqhub.connectivity.registry import LookupResult
from daqhub.connectivity.requests import (
    parse_lookup,
    parse_publish,
    parse_retract,
    parse_retract_partition,
)
from daqhub.connectivity.state import ConnectivityState
from daqhub.core.errors import ErrorFormats, json_response
from daqhub.core.fastroutes import FastRoutes, Handler
from daqhub.core.http import client_address

log = logging.getLogger("daqhub.connectivity")
audit = logging.getLogger("daqhub.audit")

T = TypeVar("T")
TAG = "connectivity"
LONG_POLL_INTERVAL = 0.05
"""Seconds between re-checks of an opt-in long-poll lookup (``?wait_ms=``)."""
COMPAT_PATHS = (
    "/publish",
    "/getconnection",
    "/retract",
    "/retract-partition",
    "/retract-session",
    "/stats",
    "/resetStats",
    "/resetService",
    "/purge",
    "/live",
    "/ready",
)


def ok() -> Response:
    return HTMLResponse("OK")


def _owns(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in COMPAT_PATHS) or path.startswith(
        "/api/v1/partitions"
    )


def router_error(_request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 500: "internal_error"}
    return json_response({"error": codes.get(status, "error"), "message": message}, status, headers)


def not_allowed(request: Request, methods: list[str]) -> Response:
    return router_error(request, 405, "Method Not Allowed", {"Allow": ", ".join(methods)})


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (413) without buffering the excess."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def mount(
    app: FastAPI, state: ConnectivityState, formats: ErrorFormats, *, restricted: bool
) -> None:
    settings = state.settings
    registry = state.registry
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks]
    # SQLite reads from the WAL snapshot take microseconds and never wait for writers, so
    # lookups run on the event loop; elsewhere a read is a network round trip: thread pool.
    inline_reads = registry.db.dialect == "sqlite"

    def check_network(request: Request) -> None:
        if not networks:
            return
        try:
            address = ipaddress.ip_address(client_address(request))
        except ValueError:
            raise Forbidden("Client address not allowed") from None
        if not any(address in net for net in networks):
            raise Forbidden("Client address not allowed")

    def check_token(request: Request) -> None:
        if settings.require_token and not state.token_allows(request, "connectivity"):
            raise Forbidden("A token with the connectivity scope is required")

    def check_admin(request: Request) -> None:
        if settings.admin_auth == "disabled":
            raise Forbidden("This administrative route is disabled")
        if settings.admin_auth == "token" and not state.token_allows(request, "admin"):
            raise Forbidden("An admin token is required")

    async def run(request: Request, work: Callable[[], T], *, read: bool = False) -> T:
        check_network(request)
        check_token(request)
        try:
            if read and inline_reads:
                return work()
            return await asyncio.wait_for(run_in_threadpool(work), settings.request_deadline)
        except TimeoutError:
            raise ServiceUnavailable("Request deadline exceeded") from None
        except OperationalError as exc:
            log.warning("database unavailable: %s", exc.__class__.__name__)
            raise ServiceUnavailable("Shared state unavailable") from None
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("database connection lost: %s", exc.__class__.__name__)
            raise ServiceUnavailable("Shared state unavailable") from None

    async def publish(request: Request) -> Response:
        body = await read_body(request, settings.max_body_bytes)
        parsed = parse_publish(body, max_connections=settings.max_connections_per_request)
        start = time.perf_counter()
        await run(request, lambda: registry.publish(parsed, client_address(request)))
        micros = int((time.perf_counter() - start) * 1e6)
        state.published(parsed, micros)
        if settings.debug_level >= 1:
            log.info(
                "publish %s: %d connections in %d us",
                parsed.partition,
                len(parsed.connections),
                micros,
            )
        if settings.debug_level >= 3:
            log.debug("publish body: %s", body[:4096].decode("utf-8", "replace"))
        return ok()

    async def getconnection(request: Request, partition: str) -> Response:
        body = await read_body(request, settings.max_body_bytes)
        query = parse_lookup(body)
        pattern = compile_uid_regex(query.uid_regex)
        wait_ms = _wait_ms(request)
        start = time.perf_counter()

        def lookup() -> LookupResult:
            return registry.lookup(partition, pattern, query.data_type)

        try:
            result = await run(request, lookup, read=True)
        except PartitionNotFound:
            state.unknown_partition(partition, query, client_address(request))
            raise
        deadline = time.monotonic() + wait_ms / 1000
        while not result.entries and time.monotonic() < deadline:
            await asyncio.sleep(LONG_POLL_INTERVAL)
            result = await run(request, lookup, read=True)
        micros = int((time.perf_counter() - start) * 1e6)
        state.looked_up(partition, query, len(result.entries), micros, client_address(request))
        if settings.debug_level >= 1:
            log.info(
                "lookup %s %r %r: %d found in %d us",
                partition,
                query.uid_regex,
                query.data_type,
                len(result.entries),
                micros,
            )
        return Response(result.to_json(), media_type="application/json")

    async def retract(request: Request) -> Response:
        body = await read_body(request, settings.max_body_bytes)
        parsed = parse_retract(body, max_connections=settings.max_connections_per_request)
        registry.stats.retract()
        await run(request, lambda: registry.retract(parsed))
        return ok()

    async def retract_partition(request: Request) -> Response:
        body = await read_body(request, settings.max_body_bytes)
        name = parse_retract_partition(body, request.headers.get("content-type", ""))
        registry.stats.retract_partition()
        count = await run(request, lambda: registry.retract_partition(name))
        audit.info(
            "retract-partition %s (%d entries) from %s", name, count, client_address(request)
        )
        return ok()

    async def stats(request: Request) -> Response:
        counters = await run(request, registry.stats.read)
        return HTMLResponse(pages.page(pages.render_stats(counters)))

    async def reset_stats(request: Request) -> Response:
        check_admin(request)
        counters = await run(request, registry.reset_stats)
        return HTMLResponse(pages.page(pages.render_stats(counters)))

    async def reset_service(request: Request) -> Response:
        check_admin(request)
        counters = await run(request, registry.reset_service)
        audit.info("resetService from %s", client_address(request))
        return HTMLResponse(pages.page(pages.render_stats(counters)))

    async def purge(request: Request) -> Response:
        check_admin(request)
        removed = await run(request, registry.purge)
        audit.info("purge removed %d expired entries, from %s", removed, client_address(request))
        return ok()

    async def live(_request: Request) -> Response:
        return ok()

    async def ready(_request: Request) -> Response:
        if await run_in_threadpool(state.is_ready):
            return ok()
        return HTMLResponse("Not Ready", status_code=503)

    fast: FastRoutes = app.state.fast_routes

    def guarded(handler: Handler) -> Handler:
        """Every expected failure becomes the service's JSON error (and a metric)."""

        async def answer(request: Request, *args: str) -> Response:
            try:
                return await handler(request, *args)
            except ConnectivityError as exc:
                state.rejected(exc.code)
                return render(exc)

        return answer

    def route(path: str, **handlers: Handler) -> None:
        wrapped = {method: guarded(handler) for method, handler in handlers.items()}
        fast.add(path, wrapped, tag=TAG, not_allowed=not_allowed)

    route("/publish", POST=publish)
    route("/getconnection/{partition}", GET=getconnection, POST=getconnection)
    route("/retract", POST=retract)
    route("/retract-partition", POST=retract_partition)
    route("/retract-session", POST=retract_partition)
    route("/stats", GET=stats)
    route("/resetStats", GET=reset_stats, POST=reset_stats)
    route("/resetService", GET=reset_service, POST=reset_service)
    route("/purge", GET=purge, POST=purge)
    route("/live", GET=live)
    route("/ready", GET=ready)
    formats.add(_owns, router_error)
    if restricted:
        formats.fallback = router_error


def _wait_ms(request: Request) -> int:
    raw = request.query_params.get("wait_ms")
    if not raw or not raw.isdigit():
        return 0
    return min(int(raw), 5000)
