"""Errors of the receiver, each with its HTTP status and its exact wire body (spec §2.3, §2.6.7,
§2.9).

The original's bodies differ in shape from one failure to the next (a bare ``message``; a
``message`` array with ``receivedHeaders``; ``status`` present or not), so every class builds
its own body. One handler (:func:`render`) turns any of them into a response in the receiver's
JSON dialect.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from daqhub.core.errors import DaqhubError
from daqhub.receiver import wire

MSG_NO_PAYLOAD = "No file uploaded and the payload was empty"
MSG_NOT_VALID = (
    "Successfully received the file, but the file is not valid! Perhaps it was corrupted?"
)
MSG_OK = "Successfully received file and extracted information"


class ReceiverError(DaqhubError):
    status = 500
    code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str = "Internal server error", **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "status": self.status}

    def response(self) -> Response:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return wire.json_response(self.body(), self.status, headers)


class _MessageOnly(ReceiverError):
    """Token-check answers: only ``message``, nothing that could hint at the token (§2.3)."""

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class TokenMissing(_MessageOnly):
    status = 400
    code = "token_missing"

    def __init__(self) -> None:
        super().__init__("Must pass a token!")


class TokenInvalid(_MessageOnly):
    status = 400
    code = "token_invalid"

    def __init__(self) -> None:
        super().__init__("Received token, but it is invalid!")


class ScopeDenied(_MessageOnly):
    status = 403
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__("Token is not allowed to perform this operation")


class NotImplementedRoot(_MessageOnly):
    status = 400
    code = "not_implemented"

    def __init__(self) -> None:
        super().__init__("Not implemented")


class Throttled(ReceiverError):
    status = 429
    code = "throttled"

    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many invalid token attempts")
        self.retry_after = max(1, round(retry_after))


class HeaderInvalid(ReceiverError):
    """A metadata header is not an integer or out of range: ``message`` is a one-item array."""

    status = 400
    code = "bad_header"

    def __init__(self, message: str, received_headers: dict[str, str]) -> None:
        super().__init__(message)
        self.received_headers = received_headers

    def body(self) -> dict[str, Any]:
        return {
            "message": [self.message],
            "received": None,
            "receivedHeaders": self.received_headers,
        }


class _UploadRefused(ReceiverError):
    """An upload refused before anything was stored: ``message``, ``received: null`` and
    ``status``, without ``receivedHeaders`` (spec §2.6.7)."""

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "received": None, "status": self.status}


class PayloadTooLarge(_UploadRefused):
    status = 413
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Payload too large: the limit is {limit} bytes")
        # The rest of the body is not wanted: close rather than drain it.
        self.headers["Connection"] = "close"


class BodyTimeout(_UploadRefused):
    """The sender stopped sending in the middle of its body (a hung process, a network that
    went away without closing the connection): the upload is abandoned so that it does not hold
    a processing slot and a staging file for ever. The answer is for a sender still there."""

    status = 408
    code = "body_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Request body timeout: nothing received for {seconds:g} s")
        self.headers["Connection"] = "close"


class NoPayload(ReceiverError):
    status = 400
    code = "no_payload"

    def __init__(self, received_headers: dict[str, str]) -> None:
        super().__init__(MSG_NO_PAYLOAD)
        self.received_headers = received_headers

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "received": None,
            "receivedHeaders": self.received_headers,
            "status": self.status,
        }


class ChecksumMismatch(_UploadRefused):
    status = 400
    code = "checksum_mismatch"

    def __init__(self) -> None:
        super().__init__("Checksum mismatch")


class Busy(_UploadRefused):
    status = 503
    code = "busy"
    retry_after = 5

    def __init__(self) -> None:
        super().__init__("Receiver busy, retry later")


class StorageFull(_UploadRefused):
    """The data folder's filesystem has no room for the upload (declared size, or out of space
    while writing): a condition to retry later, like an overload, and not the sender's fault."""

    status = 503
    code = "storage_full"
    retry_after = 60

    def __init__(self) -> None:
        super().__init__("Insufficient storage, retry later")


class DataDirUnavailable(ReceiverError):
    status = 503
    code = "data_dir_unavailable"
    retry_after = 10

    def __init__(self) -> None:
        super().__init__("Data directory unavailable")


class FileNotFound(ReceiverError):
    status = 404
    code = "not_found"

    def __init__(self, message: str = "File not found") -> None:
        super().__init__(message)


class Gone(ReceiverError):
    status = 410
    code = "gone"


class BadQuery(ReceiverError):
    """A query parameter of the daqhub API that cannot be used."""

    status = 400
    code = "bad_request"


class NotAuthenticated(ReceiverError):
    status = 401
    code = "not_authenticated"

    def __init__(self) -> None:
        super().__init__("Authentication credentials were not provided or are invalid")
        self.headers["WWW-Authenticate"] = 'Bearer realm="daqhub"'


class ApiForbidden(ReceiverError):
    status = 403
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__("Token is not allowed to perform this operation")


class ObjectUnreadable(ReceiverError):
    """The object cannot be served as a histogram (not one, too large, unreadable)."""

    status = 400
    code = "object_unreadable"


def render(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReceiverError)
    return exc.response()


def router_error(_request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    """404/405/500 from the router on receiver paths: ``{"message":...,"status":...}``."""
    return wire.json_response({"message": message, "status": status}, status, headers)
