"""A lean router in front of FastAPI for a service's hot, wire-compatible endpoints.

DAQ applications call a few endpoints thousands of times a second (connectivity lookups and
publishes). Those endpoints read raw bodies and build their own responses, so FastAPI's
routing over hundreds of routes, dependency solving and middleware stack buy them nothing.
:class:`FastRoutes` answers them directly with plain Starlette requests and responses and
hands every other request to the wrapped app unchanged. Routes are exact paths, or a prefix
followed by exactly one path segment (``/getconnection/{partition}``).

Request metrics are recorded by the outer :class:`~daqhub.core.metrics.RequestMetrics`, which
reads the ``route`` this router puts in the scope, exactly as for FastAPI's routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[..., Awaitable[Response]]
"""``handler(request)`` for exact paths, ``handler(request, segment)`` for prefix routes."""
NotAllowed = Callable[[Request, list[str]], Response]


@dataclass
class FastRoute:
    path: str
    """The template, as metrics and docs show it (``/getconnection/{partition}``)."""
    handlers: dict[str, Handler]
    not_allowed: NotAllowed
    """Renders the 405 (with its ``Allow`` list) in the owning service's format."""
    tags: list[str] = field(default_factory=list)


class FastRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._exact: dict[str, FastRoute] = {}
        self._prefix: dict[str, FastRoute] = {}

    def add(
        self, path: str, handlers: dict[str, Handler], *, tag: str, not_allowed: NotAllowed
    ) -> None:
        route = FastRoute(path, handlers, not_allowed, [tag])
        if path.endswith("}"):
            prefix = path[: path.rindex("{")]
            self._prefix[prefix] = route
        else:
            self._exact[path] = route

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            route = self._exact.get(path)
            segment = None
            if route is None:
                cut = path.rfind("/") + 1
                candidate = self._prefix.get(path[:cut])
                if candidate is not None and cut < len(path):
                    route, segment = candidate, path[cut:]
            if route is not None:
                scope["route"] = route
                request = Request(scope, receive)
                handler = route.handlers.get(scope["method"])
                if handler is None:
                    response = route.not_allowed(request, sorted(route.handlers))
                elif segment is None:
                    response = await handler(request)
                else:
                    response = await handler(request, segment)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
