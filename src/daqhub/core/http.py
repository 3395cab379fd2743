"""Small HTTP helpers shared by services: credentials from headers, client addresses."""

from __future__ import annotations

from starlette.requests import Request


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
