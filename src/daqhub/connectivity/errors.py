"""Errors of the connectivity service; rendered as ``{"error": code, "message": text, ...}``
with the original's status codes (spec/connectivity.md §2.3)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from daqhub.core.errors import DaqhubError, json_response


class ConnectivityError(DaqhubError):
    status = 500
    code = "internal_error"


class BadRequest(ConnectivityError):
    status = 400
    code = "bad_request"


class InvalidJson(BadRequest):
    code = "invalid_json"


class InvalidRegex(BadRequest):
    code = "invalid_regex"


class Forbidden(ConnectivityError):
    status = 403
    code = "forbidden"


class NotFound(ConnectivityError):
    status = 404
    code = "not_found"


class PartitionNotFound(NotFound):
    def __init__(self, partition: str) -> None:
        super().__init__(f"Partition {partition} not found")


class ConnectionsNotFound(NotFound):
    def __init__(self, partition: str, missing: list[str]) -> None:
        super().__init__(
            f"Connection(s) not found in partition {partition}: {', '.join(missing)}",
            missing=missing,
        )


class PayloadTooLarge(ConnectivityError):
    status = 413
    code = "payload_too_large"


class QuotaExceeded(ConnectivityError):
    status = 507
    code = "quota_exceeded"


class ServiceUnavailable(ConnectivityError):
    status = 503
    code = "service_unavailable"


def render(exc: ConnectivityError) -> Response:
    """The one wire form of every connectivity error."""
    body: dict[str, Any] = {"error": exc.code, "message": exc.message, **exc.extra}
    return json_response(body, exc.status)
