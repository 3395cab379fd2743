"""Small HTTP helpers shared by services: credentials from headers, client addresses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.routing import Match


def bearer_or_token(request: Request) -> str | None:
    """The credential of ``Authorization: Bearer <t>`` or ``Authorization: Token <t>``."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def add_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    methods: Iterable[str],
    *,
    name: str | None = None,
    **kwargs: Any,
) -> None:
    """Register ``endpoint`` once per method, each with its own OpenAPI operation id.

    (One route with several methods would give every method the same operation id.)
    """
    base = name or endpoint.__name__
    for method in methods:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=base,
            operation_id=f"{base}_{method.lower()}",
            **kwargs,
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path (the ``Allow`` header of a 405)."""
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
