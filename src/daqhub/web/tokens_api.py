"""``/api/v1/tokens``: the token admin API (receiver spec §4.5; shared contract 4).

The same operations as ``daqhub token``: list (never a value), create or import, rotate with an
overlap during which the old value still works, revoke. Every call needs a token with the
``admin`` scope. Minting an ``admin`` value stays with the CLI (shared contract 4): the API
refuses to create or rotate admin tokens. Errors are ``{"detail": ...}`` like every ``/api/``
route; answers that carry a new value are ``Cache-Control: no-store``. Every change is
audit-logged by the token store with the caller's token name and address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from daqhub.core.auth import (
    AuthError,
    Principal,
    TokenConflict,
    TokenNotFound,
    validate_scopes,
)
from daqhub.core.errors import ErrorFormats, detail_renderer, json_response
from daqhub.core.http import bearer_or_token, client_address
from daqhub.core.runtime import Runtime

PREFIX = "/api/v1/tokens"
NO_STORE = {"Cache-Control": "no-store"}


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, description='e.g. ["receiver:upload"]')
    value: str | None = Field(default=None, description="Import this value (a legacy token).")
    user: str | None = Field(default=None, description="Owner user name (must exist).")
    expires_at: datetime | None = None


class Rotation(BaseModel):
    overlap_seconds: float | None = Field(
        default=None, ge=0, description="Default: the auth.rotation_overlap setting."
    )
    value: str | None = Field(default=None, description="Import the new value.")


def _error(status: int, message: str) -> Response:
    return json_response({"detail": message}, status)


def _auth_error(exc: AuthError) -> Response:
    status = (
        409 if isinstance(exc, TokenConflict) else 404 if isinstance(exc, TokenNotFound) else 400
    )
    return _error(status, str(exc))


def mount(app: FastAPI, runtime: Runtime, formats: ErrorFormats) -> None:
    formats.add_prefix(PREFIX, detail_renderer)
    store = runtime.tokens
    router = APIRouter(prefix=PREFIX, tags=["tokens"])

    async def admin(request: Request) -> Principal | Response:
        value = bearer_or_token(request)
        if value is None:
            return _error(401, "Authentication credentials were not provided.")
        principal = await run_in_threadpool(store.verify, value, client=client_address(request))
        if principal is None:
            return _error(401, "Invalid token.")
        if not principal.has_scope("admin"):
            return _error(403, "A token with the admin scope is required.")
        return principal

    def actor(principal: Principal, request: Request) -> str:
        return f"token {principal.token_name!r} from {client_address(request) or '-'}"

    @router.get("")
    async def list_tokens(request: Request) -> Response:
        """Every token: name, scopes, owner, times, state; never a value."""
        principal = await admin(request)
        if isinstance(principal, Response):
            return principal
        tokens = await run_in_threadpool(store.list)
        return json_response({"tokens": [t.as_json() for t in tokens]}, 200)

    @router.post("", status_code=201)
    async def create_token(request: Request, body: NewToken) -> Response:
        """Create a token (or import a legacy value); the value is in this answer only."""
        principal = await admin(request)
        if isinstance(principal, Response):
            return principal
        try:
            scopes = validate_scopes(body.scopes)
        except AuthError as exc:
            return _error(400, str(exc))
        if "admin" in scopes:
            return _error(403, "Only the command line can create admin tokens.")
        expires = body.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        try:
            plain = await run_in_threadpool(
                lambda: store.create(
                    body.name,
                    scopes=scopes,
                    value=body.value,
                    username=body.user,
                    expires_at=expires,
                    actor=actor(principal, request),
                )
            )
        except AuthError as exc:
            return _auth_error(exc)
        return json_response({"name": body.name, "scopes": scopes, "token": plain}, 201, NO_STORE)

    @router.post("/{name}/rotate")
    async def rotate_token(request: Request, name: str, body: Rotation | None = None) -> Response:
        """A new value for the token; the current one keeps working for the overlap."""
        principal = await admin(request)
        if isinstance(principal, Response):
            return principal
        body = body or Rotation()
        current = next(iter(await run_in_threadpool(store.list, name)), None)
        if current is None or current.state(datetime.now(UTC)) != "active":
            return _error(404, "Not found.")
        if "admin" in current.scopes:
            return _error(403, "Only the command line can rotate admin tokens.")
        overlap = (
            timedelta(seconds=body.overlap_seconds) if body.overlap_seconds is not None else None
        )
        try:
            plain, until = await run_in_threadpool(
                lambda: store.rotate(
                    name,
                    overlap=overlap,
                    value=body.value,
                    actor=actor(principal, request),
                )
            )
        except AuthError as exc:
            return _auth_error(exc)
        answer = {
            "name": name,
            "token": plain,
            "previous_valid_until": until.isoformat() if until else None,
        }
        return json_response(answer, 200, NO_STORE)

    @router.delete("/{name}")
    async def revoke_token(request: Request, name: str) -> Response:
        """Revoke the token (and a previous value still in its overlap) on every process."""
        principal = await admin(request)
        if isinstance(principal, Response):
            return principal
        revoked = await run_in_threadpool(
            lambda: store.revoke(name, actor=actor(principal, request))
        )
        if not revoked:
            return _error(404, "Not found.")
        return json_response({"name": name, "revoked": True}, 200)

    app.include_router(router)
