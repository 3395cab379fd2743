"""``POST /rest/api/files``: the upload pipeline, in the order of spec §2.6.9.

headers (parsed before any body byte is read) -> declared size -> room on the disk -> a
processing slot -> streamed body (size limit, SHA-256) -> payload selection -> sandboxed
validation -> publish or quarantine (durable, indexed) -> the original's JSON answer plus
``X-Daqhub-*`` headers. A disk that fills up on the way answers 503, never 500.
One structured log line per request records upload id, token name, agent, run, size, outcome
and duration, never the token.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from daqhub.core.auth import Principal
from daqhub.core.http import client_address
from daqhub.receiver import publish, wire
from daqhub.receiver.errors import (
    MSG_NOT_VALID,
    MSG_OK,
    DataDirUnavailable,
    HeaderInvalid,
    NoPayload,
    PayloadTooLarge,
    ReceiverError,
    StorageFull,
)
from daqhub.receiver.intake import Disconnected, Intake, receive_payload
from daqhub.receiver.naming import HeaderValueError, UploadMeta, parse_upload_headers
from daqhub.receiver.state import ReceiverState

log = logging.getLogger("daqhub.receiver")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw.strip())


def parse_meta(request: Request, echo: dict[str, str]) -> UploadMeta:
    headers = request.headers
    try:
        return parse_upload_headers(
            wire.header_value(headers, "runNumber"),
            wire.header_value(headers, "timeStamp"),
            wire.header_value(headers, "amoreAgent"),
            wire.header_value(headers, "dataStatus"),
        )
    except HeaderValueError as exc:
        raise HeaderInvalid(str(exc), echo) from None


class _Outcome:
    """What the log line and the metrics say about one request."""

    def __init__(self) -> None:
        self.upload_id: str | None = None
        self.meta: UploadMeta | None = None
        self.size: int | None = None
        self.outcome = "error"


async def handle_upload(state: ReceiverState, request: Request, principal: Principal) -> Response:
    started = time.perf_counter()
    outcome = _Outcome()
    try:
        response = await _upload(state, request, principal, outcome)
    except Disconnected:
        outcome.outcome = "disconnected"
        response = Response(status_code=400)  # never delivered: the client is gone
    except ReceiverError as exc:
        outcome.outcome = exc.code
        raise
    finally:
        elapsed = time.perf_counter() - started
        state.telemetry.uploads.labels(outcome.outcome).inc()
        state.telemetry.upload_seconds.observe(elapsed)
        meta = outcome.meta
        log.info(
            "upload id=%s token=%s agent=%s run=%s size=%s outcome=%s duration=%.3fs client=%s",
            outcome.upload_id or "-",
            principal.token_name,
            repr(meta.agent) if meta else "-",
            meta.run if meta else "-",
            outcome.size if outcome.size is not None else "-",
            outcome.outcome,
            elapsed,
            client_address(request),
        )
    return response


async def _upload(
    state: ReceiverState, request: Request, principal: Principal, outcome: _Outcome
) -> Response:
    settings = state.settings
    echo = wire.received_headers(request.headers)
    meta = outcome.meta = parse_meta(request, echo)
    declared = _declared_length(request)
    if declared is not None and declared > settings.max_upload_bytes:
        raise PayloadTooLarge(settings.max_upload_bytes)
    state.require_writable()
    await _require_room(state, declared)
    async with state.upload_slot():
        with _no_space_is_storage_full():
            intake = await receive_payload(
                request,
                state.storage,
                limit=settings.max_upload_bytes,
                max_parts=settings.max_multipart_parts,
                max_part_header=settings.max_part_header_bytes,
                idle_timeout=settings.body_timeout,
                expected_bytes=declared,
            )
            async with _discarding(intake):
                if intake.writer is None:
                    raise NoPayload(echo)
                outcome.size = intake.size
                upload_id = outcome.upload_id = str(uuid.uuid4())
                record, received = await _validate_and_store(
                    state,
                    intake,
                    meta,
                    publish.Origin(upload_id, principal.token_name, client_address(request)),
                )
    headers = {"X-Daqhub-Upload-Id": upload_id, "X-Daqhub-Sha256": intake.sha256}
    if received is None:
        outcome.outcome = "invalid"
        body: dict[str, Any] = {
            "filename": meta.filename,
            "message": MSG_NOT_VALID,
            "received": None,
            "receivedHeaders": echo,
            "status": 400,
        }
        return wire.json_response(body, 400, headers)
    outcome.outcome = "stored"
    state.telemetry.stored(meta.agent, intake.size)
    body = {
        "filename": record["filename"],
        "message": MSG_OK,
        "received": received,
        "receivedHeaders": echo,
        "status": 200,
    }
    return wire.json_response(body, 200, headers)


async def _require_room(state: ReceiverState, declared: int | None) -> None:
    """503 before the body is read when the upload would not leave ``min_free_bytes`` free
    (an upload of unknown size: when less than that is free already). The connection stays
    open: a sender that waits for ``100 Continue`` sends nothing, one that does not has its
    body (at most ``max_upload_bytes``) read and dropped, and gets the answer either way."""
    needed = (declared or 0) + state.settings.min_free_bytes
    try:
        free = await run_in_threadpool(state.storage.free_bytes)
    except OSError:
        raise DataDirUnavailable() from None
    if free < needed:
        log.warning("receiver data folder nearly full: %d bytes free, %d needed", free, needed)
        raise StorageFull()


@contextlib.contextmanager
def _no_space_is_storage_full() -> Iterator[None]:
    """The filesystem filled up while the upload was written: 503 (retry later), not 500. What
    was staged is removed on the way out, like any failed upload; the server reads and drops
    the rest of the body, so that the sender gets the answer rather than a reset connection."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        log.warning("receiver data folder out of space: %s", exc.strerror)
        raise StorageFull() from exc


@contextlib.asynccontextmanager
async def _discarding(intake: Intake) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await run_in_threadpool(intake.discard)


async def _validate_and_store(
    state: ReceiverState, intake: Intake, meta: UploadMeta, origin: publish.Origin
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """(index record, ``received`` map or None when the payload is not valid)."""
    writer = intake.writer
    assert writer is not None
    await run_in_threadpool(writer.flush)
    started = time.perf_counter()
    inspection = await state.validate(str(writer.temp_path))
    state.telemetry.validation_seconds.observe(time.perf_counter() - started)
    common: dict[str, Any] = {
        "size": intake.size,
        "sha256": intake.sha256,
        "subsystems": state.settings.subsystems,
    }
    if not inspection.get("ok"):
        reason = str(inspection.get("reason", "not a valid ROOT file"))
        log.warning("upload %s (%s) is not valid: %s", origin.upload_id, meta.filename, reason)
        record = await run_in_threadpool(
            publish.store_invalid, state.db, state.storage, writer, meta, origin, reason, **common
        )
        return record, None
    record = await run_in_threadpool(
        publish.store_valid, state.db, state.storage, writer, meta, origin, inspection, **common
    )
    return record, dict(inspection["received"])
