"""Error families and their wire formats.

Domain code raises subclasses of :class:`DaqhubError`; the HTTP status lives on the class. Each
service registers one renderer for its family, so the same storage error becomes the JSON body
its clients expect. Errors raised by the router itself (unknown path, wrong method) and
unexpected exceptions are rendered by the format that owns the request path (DESIGN.md, shared
contract 3): ``{"message":"Not Found","status":404}`` unless a service claims the prefix.
No route answers 422: request validation errors become 400 in the owning format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from daqhub.core.http import allowed_methods

log = logging.getLogger(__name__)


class DaqhubError(Exception):
    """Base of every expected failure; subclasses set ``status`` and ``code``."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


def json_response(
    body: Any, status: int, headers: dict[str, str] | None = None, *, compact: bool = True
) -> Response:
    text = json.dumps(body, separators=(",", ":") if compact else None, ensure_ascii=False)
    return Response(text, status_code=status, headers=headers, media_type="application/json")


Renderer = Callable[[Request, int, str, dict[str, str]], Response]
"""(request, status, message, headers) -> response, for router and unexpected errors."""


def default_renderer(
    _request: Request, status: int, message: str, headers: dict[str, str]
) -> Response:
    return json_response({"message": message, "status": status}, status, headers)


def detail_renderer(
    _request: Request, status: int, message: str, headers: dict[str, str]
) -> Response:
    """The ``{"detail": ...}`` format of the monitor and PCS APIs (Django REST framework)."""
    texts = {
        404: "Not found.",
        405: f'Method "{_request.method}" not allowed.',
        500: "Internal server error.",
    }
    return json_response({"detail": texts.get(status, message)}, status, headers)


@dataclass
class _Format:
    matches: Callable[[str], bool]
    render: Renderer


class ErrorFormats:
    """Which wire format answers router errors for which paths (first match wins)."""

    def __init__(self) -> None:
        self._formats: list[_Format] = []
        self.fallback: Renderer = default_renderer

    def add_prefix(self, prefix: str, render: Renderer) -> None:
        self._formats.append(_Format(lambda path: path.startswith(prefix), render))

    def add(self, matches: Callable[[str], bool], render: Renderer) -> None:
        self._formats.append(_Format(matches, render))

    def for_path(self, path: str) -> Renderer:
        for fmt in self._formats:
            if fmt.matches(path):
                return fmt.render
        return self.fallback

    def install(self, app: FastAPI) -> None:
        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            headers = dict(exc.headers or {})
            message = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
            if exc.status_code in (404, 405):
                message = _phrase(exc.status_code)
            if exc.status_code == 405:
                headers["Allow"] = ", ".join(allowed_methods(request))
            return self.for_path(request.url.path)(request, exc.status_code, message, headers)

        async def validation_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, RequestValidationError)
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
            message = (
                f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
            )
            return self.for_path(request.url.path)(request, 400, message, {})

        async def unexpected(request: Request, exc: Exception) -> Response:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
            return self.for_path(request.url.path)(request, 500, "Internal server error", {})

        app.add_exception_handler(StarletteHTTPException, http_error)
        app.add_exception_handler(RequestValidationError, validation_error)
        app.add_exception_handler(Exception, unexpected)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
