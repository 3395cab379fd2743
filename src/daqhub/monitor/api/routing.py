"""HTTP plumbing of the monitor API: one route object per path, both slash forms, no redirects.

Agents call ``/api/.../`` with and without the trailing slash and treat any 3xx as fatal, so a
:class:`MonitorRoute` matches both forms itself. It answers every method: registered ones go
to their handler, HEAD is GET, OPTIONS describes the route, and anything else is a 405 with an
``Allow`` header. As in the original (Django REST framework), authentication is checked before
the method, so an anonymous GET on a token-only POST route is a 401 and an authenticated one
a 405.

Handlers receive a :class:`Call` and return a response. Synchronous handlers (database work)
run in the thread pool together with the authentication; asynchronous ones run on the event
loop (the log-ingestion hot path, which needs no authentication). Every :class:`MonitorError`
is rendered by one function; anything else is left to the app's generic 500 handler, whose
body never carries internals.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from daqhub.core.auth import Principal
from daqhub.core.errors import json_response
from daqhub.monitor.api.auth import SAFE_METHODS, Policy
from daqhub.monitor.errors import (
    MethodNotAllowed,
    MonitorError,
    ParseError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from daqhub.monitor.resource import Resource
from daqhub.monitor.state import MonitorState

TAG = "monitor"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARSES = ["application/json", "application/x-www-form-urlencoded"]


def get_route_path(scope: Scope) -> str:
    """The request path below the ASGI ``root_path`` (a proxy's mount point)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def respond(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(body, status, dict(headers) if headers else None)


def render_error(exc: MonitorError) -> Response:
    return respond(exc.body(), exc.status, exc.headers)


def parse_body(body: bytes, content_type: str) -> Any:
    """The request data: JSON, or a flat form; 415 for any other media type."""
    if not body:
        return {}
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
    if media == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ParseError("Form parse error - invalid UTF-8") from None
    raise UnsupportedMediaType(content_type)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (413) without buffering the excess."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    state: MonitorState
    params: dict[str, str]
    principal: Principal | None = None
    body: bytes = b""
    _data: Any = field(default=None, repr=False)

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    def data(self) -> Any:
        """The parsed body (parsed on first use, as DRF does: a route that ignores its body
        never fails on it)."""
        if self._data is None:
            self._data = parse_body(self.body, self.request.headers.get("content-type", ""))
        return self._data

    def object_data(self) -> dict[str, Any]:
        data = self.data()
        if not isinstance(data, dict):
            raise ValidationFailed(
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                    ]
                }
            )
        return data

    def page_base(self) -> str:
        """Absolute URL of this path for pagination links."""
        base = self.state.settings.external_base_url
        if base is None:
            base = f"{self.request.url.scheme}://{self.request.url.netloc}"
        return base + self.request.url.path


Handler = Callable[[Call], Response] | Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    policy: Policy

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)


class MonitorRoute(BaseRoute):
    """One monitor path (with and without its trailing slash) and all its methods."""

    def __init__(
        self,
        path: str,
        state: MonitorState,
        endpoints: Mapping[str, Endpoint],
        *,
        fallback: Callable[[str], Policy],
        name: str,
        body_limit: int,
        resource: Resource | None = None,
    ) -> None:
        self.path = path
        self.resource = resource
        """The collection this route serves (for the OpenAPI description), if any."""
        self.name = name
        self.tags = [TAG]
        self.include_in_schema = False
        self.state = state
        self.endpoints = dict(endpoints)
        self.fallback = fallback
        self.body_limit = body_limit
        self.allowed = sorted(
            {*self.endpoints, "OPTIONS"} | ({"HEAD"} if "GET" in self.endpoints else set())
        )
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path.rstrip("/"))
        self.regex = re.compile(f"^{pattern}/?$")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        found = self.regex.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        return Match.FULL, {
            "endpoint": self.dispatch,
            "path_params": found.groupdict(),
            "route": self,
        }

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        method = request.method
        endpoint = self.endpoints.get("GET" if method == "HEAD" else method)
        call = Call(request, self.state, dict(request.path_params))
        try:
            if endpoint is None:
                return await run_in_threadpool(self._unrouted, call, method)
            if endpoint.is_async and endpoint.policy is Policy.OPEN:
                return cast(Response, await endpoint.handler(call))  # type: ignore[misc]
            if method in BODY_METHODS:
                call.body = await read_body(request, self.body_limit)
            if endpoint.is_async:
                call.principal = await run_in_threadpool(
                    self.state.auth.check, request, endpoint.policy
                )
                return cast(Response, await endpoint.handler(call))  # type: ignore[misc]
            return await run_in_threadpool(self._invoke, endpoint, call)
        except MonitorError as exc:
            return render_error(exc)

    def _invoke(self, endpoint: Endpoint, call: Call) -> Response:
        try:
            call.principal = self.state.auth.check(call.request, endpoint.policy)
            return endpoint.handler(call)  # type: ignore[return-value]
        except MonitorError as exc:
            return render_error(exc)

    def _unrouted(self, call: Call, method: str) -> Response:
        try:
            self.state.auth.check(call.request, self.fallback(method))
            if method == "OPTIONS":
                return respond(
                    {
                        "name": self.name,
                        "description": "",
                        "renders": ["application/json"],
                        "parses": PARSES,
                    },
                    headers={"Allow": ", ".join(self.allowed)},
                )
            raise MethodNotAllowed(method, self.allowed)
        except MonitorError as exc:
            return render_error(exc)


def read_anon(method: str) -> Policy:
    """Collections: reads open to anyone, writes need credentials (403)."""
    return Policy.ANON if method in SAFE_METHODS else Policy.AUTH


class Routes(BaseRoute):
    """All monitor API routes of one listener, found by their first path segment.

    The app holds this one object instead of dozens of routes, placed first: a request for
    ``/api/<name>/...`` is matched against the few routes of ``<name>`` only, so the hot paths
    (log ingestion, heartbeats) do not pay for a scan of every other service's routes.
    """

    def __init__(self, state: MonitorState) -> None:
        self.state = state
        self.prefix = state.settings.prefix
        self.api_root = f"{self.prefix}/api/"
        self.routes: list[MonitorRoute] = []
        self._by_segment: dict[str, list[MonitorRoute]] = {}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        if not path.startswith(self.api_root):
            return Match.NONE, {}
        segment = path[len(self.api_root) :].split("/", 1)[0]
        for route in self._by_segment.get(segment, ()):
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, child
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    def add(
        self,
        path: str,
        name: str,
        endpoints: Mapping[str, Endpoint],
        *,
        fallback: Callable[[str], Policy] = read_anon,
        body_limit: int | None = None,
        resource: Resource | None = None,
    ) -> None:
        route = MonitorRoute(
            self.prefix + path,
            self.state,
            endpoints,
            fallback=fallback,
            name=name,
            body_limit=body_limit or self.state.settings.body_limit,
            resource=resource,
        )
        self.routes.append(route)
        segment = path.removeprefix("/api/").split("/", 1)[0]
        self._by_segment.setdefault(segment, []).append(route)
