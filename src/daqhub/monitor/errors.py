"""The monitor's error family; each class carries its HTTP status and renders its own body.

Most errors use Django REST framework's ``{"detail": ...}`` shape; validation failures map
fields to message lists (spec §3.12); the function endpoints (counters, ``namespaces/ensure``)
answer ``{"error": ..., "status": "error"}``. One handler in :mod:`daqhub.monitor.api.routing`
turns any of them into a response.
"""

from __future__ import annotations

from typing import Any

from daqhub.core.errors import DaqhubError

NOT_PROVIDED = "Authentication credentials were not provided."


class MonitorError(DaqhubError):
    status = 500
    code = "error"
    headers: dict[str, str] | None = None

    def body(self) -> Any:
        return {"detail": self.message}


class ValidationFailed(MonitorError):
    """Field errors: ``{"field": ["message", ...], "non_field_errors": [...]}``."""

    status = 400
    code = "invalid"

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("validation failed")
        self.errors = errors

    def body(self) -> Any:
        return self.errors


class FilterInvalid(MonitorError):
    """A typed list filter with an unparsable value: ``{"param": "message"}``."""

    status = 400
    code = "invalid_filter"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid filter")
        self.errors = errors

    def body(self) -> Any:
        return self.errors


class ParseError(MonitorError):
    status = 400
    code = "parse_error"


class NotAuthenticated(MonitorError):
    """No credentials on a route that needs them (403, or 401 on token-only routes)."""

    status = 403
    code = "not_authenticated"

    def __init__(self, message: str = NOT_PROVIDED, *, challenge: bool = False) -> None:
        super().__init__(message)
        if challenge:
            self.status = 401
            self.headers = {"WWW-Authenticate": "Token"}


class PermissionDenied(MonitorError):
    status = 403
    code = "permission_denied"

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message)


class NotFound(MonitorError):
    status = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class MethodNotAllowed(MonitorError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f'Method "{method}" not allowed.')
        self.headers = {"Allow": ", ".join(allowed)}


class PayloadTooLarge(MonitorError):
    status = 413
    code = "too_large"

    def __init__(self) -> None:
        super().__init__("Request body too large.")


class UnsupportedMediaType(MonitorError):
    status = 415
    code = "unsupported_media_type"

    def __init__(self, media_type: str) -> None:
        super().__init__(f'Unsupported media type "{media_type}" in request.')


class FunctionError(MonitorError):
    """Failures of the function endpoints: ``{"error": ..., "status": "error"}``."""

    code = "function_error"

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status

    def body(self) -> Any:
        return {"error": self.message, "status": "error"}
