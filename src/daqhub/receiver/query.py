"""daqhub's own receiver API under ``/api/v1/receiver`` (spec §3.9, §4.1-§4.4): the metadata
index, file contents with ranges, histograms as JSON, per-run summaries, live events, health.

Errors use ``{"message": ..., "status": ...}`` in the receiver's JSON dialect; query parameters
are parsed here (never FastAPI's 422) and each route makes one domain call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import Response

from daqhub.core.db import utcnow
from daqhub.core.events import Event
from daqhub.core.sse import stream_events
from daqhub.receiver import downloads, gate, index, wire
from daqhub.receiver.api import route
from daqhub.receiver.errors import BadQuery, FileNotFound, Gone, ObjectUnreadable
from daqhub.receiver.state import ReceiverState
from daqhub.receiver.storage import OpenedFile

PREFIX = "/api/v1/receiver"
T = TypeVar("T")


# -- query parameters --------------------------------------------------------------------------


def _int(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer") from None


def _time(params: QueryParams, name: str) -> float | None:
    """RFC 3339 or Unix seconds, as Unix seconds."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        raise BadQuery(f"{name} must be RFC 3339 or Unix seconds") from None
    if parsed.tzinfo is None:
        raise BadQuery(f"{name} needs a time zone (e.g. Z)")
    return parsed.timestamp()


def _limit(params: QueryParams) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return 100
    if not 1 <= limit <= index.MAX_LIMIT:
        raise BadQuery(f"limit must be between 1 and {index.MAX_LIMIT}")
    return limit


def upload_filter(params: QueryParams, *, run: int | None = None) -> index.UploadFilter:
    time_field = params.get("time_field", "timestamp")
    if time_field not in ("timestamp", "received"):
        raise BadQuery("time_field must be timestamp or received")
    return index.UploadFilter(
        run=run if run is not None else _int(params, "run"),
        agent=params.get("agent") or None,
        state=params.get("state") or None,
        data_status=_int(params, "data_status"),
        start=_time(params, "from"),
        end=_time(params, "to"),
        time_field=time_field,
    )


def _run_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FileNotFound("Run not found") from None


# -- domain calls ------------------------------------------------------------------------------


def _read(state: ReceiverState, fn: Callable[..., T], *args: Any) -> T:
    with state.db.read() as session:
        return fn(session, *args)


@dataclass(frozen=True)
class _Located:
    """Where an upload's bytes are, read from its index row inside the unit of work."""

    upload_id: str
    state: str
    filename: str
    stored_name: str
    inode: int | None
    sha256: str | None


def _locate(state: ReceiverState, upload_id: str) -> _Located | None:
    with state.db.read() as session:
        row = index.get_upload(session, upload_id)
        if row is None:
            return None
        return _Located(
            row.upload_id, row.state, row.filename, row.stored_name, row.inode, row.sha256
        )


def _open_upload_file(state: ReceiverState, upload_id: str) -> tuple[OpenedFile, _Located]:
    row = _locate(state, upload_id)
    if row is None:
        raise FileNotFound("Upload not found")
    if row.state == "invalid":
        opened = state.storage.open_quarantined(row.stored_name)
    elif row.state == "stored":
        opened = state.storage.open_listable(row.filename)
        if opened is not None and row.inode is not None and opened.inode != row.inode:
            opened.close()
            opened = None
    else:
        opened = None
    if opened is None:
        state_text = row.state if row.state != "stored" else "no longer in the data directory"
        raise Gone(f"The file of upload {upload_id} is not kept ({state_text})")
    return opened, row


def mount(app: FastAPI, state: ReceiverState) -> None:
    router = APIRouter(prefix=PREFIX, tags=["receiver"])
    open_access = state.settings.open_read_access

    async def read_access(request: Request, scope: str = gate.LIST) -> None:
        await state.gate.check_api(request, (scope,), open_access=open_access)

    async def health() -> Response:
        ok = await run_in_threadpool(state.ready)
        return wire.json_response({"status": "ok" if ok else "unavailable"}, 200 if ok else 503)

    async def uploads(request: Request) -> Response:
        await read_access(request)
        params = request.query_params
        flt, limit = upload_filter(params), _limit(params)
        items, cursor = await run_in_threadpool(
            _read,
            state,
            lambda s: index.list_uploads(s, flt, limit=limit, cursor=params.get("cursor")),
        )
        return wire.json_response({"items": items, "next_cursor": cursor})

    async def upload(request: Request, upload_id: str) -> Response:
        await read_access(request)
        record = await run_in_threadpool(_read, state, _record, upload_id)
        if record is None:
            raise FileNotFound("Upload not found")
        return wire.json_response(record)

    async def content(request: Request, upload_id: str) -> Response:
        await read_access(request, gate.DOWNLOAD)
        opened, row = await run_in_threadpool(_open_upload_file, state, upload_id)
        return downloads.serve_file(
            request,
            opened,
            sha256=row.sha256,
            extra_headers={"X-Daqhub-Upload-Id": row.upload_id},
        )

    async def histogram(request: Request, upload_id: str, object_path: str) -> Response:
        await read_access(request, gate.DOWNLOAD)
        opened, row = await run_in_threadpool(_open_upload_file, state, upload_id)
        try:
            path = (
                state.storage.paths.quarantine_dir / row.stored_name
                if row.state == "invalid"
                else state.storage.paths.data_dir / row.filename
            )
            answer = await state.histogram(str(path), object_path)
            still = await run_in_threadpool(_same_file, path, opened.inode)
        finally:
            opened.close()
        if not still:
            raise Gone(f"The file of upload {upload_id} changed while it was read")
        if not answer.get("ok"):
            if answer.get("error") == "not_found":
                raise FileNotFound("Object not found")
            raise ObjectUnreadable(str(answer.get("reason", "unreadable object")))
        return wire.json_response({"upload_id": upload_id, **answer["histogram"]})

    async def runs(request: Request) -> Response:
        await read_access(request)
        params = request.query_params
        start, end, agent, limit = (
            _time(params, "from"),
            _time(params, "to"),
            params.get("agent") or None,
            _limit(params),
        )
        live_after = utcnow() - timedelta(seconds=state.settings.live_window)
        items = await run_in_threadpool(
            _read,
            state,
            lambda s: index.runs_summary(
                s, start=start, end=end, agent=agent, limit=limit, live_after=live_after
            ),
        )
        return wire.json_response({"items": items})

    async def run_detail(request: Request, run: str) -> Response:
        await read_access(request)
        flt = upload_filter(request.query_params, run=_run_number(run))
        detail = await run_in_threadpool(_read, state, index.run_detail, flt.run, flt)
        if detail is None:
            raise FileNotFound("Run not found")
        return wire.json_response(detail)

    async def run_files(request: Request, run: str) -> Response:
        await read_access(request)
        flt = upload_filter(request.query_params, run=_run_number(run))
        items = await run_in_threadpool(
            _read,
            state,
            lambda s: [
                index.to_record(r, contents=False) for r in index.run_files(s, flt.run, flt)
            ],
        )
        return wire.json_response({"items": items})

    async def events(request: Request) -> Response:
        await read_access(request)
        run, agent = _int(request.query_params, "run"), request.query_params.get("agent")

        def wanted(event: Event) -> bool:
            data = event.data
            return (run is None or data.get("run") == run) and (
                agent is None or data.get("agent") == agent
            )

        return await stream_events(
            request, state.runtime.bus, types=["receiver.*"], predicate=wanted
        )

    get = ["GET", "HEAD"]
    route(router, "/health", health, get, summary="Receiver readiness")
    route(router, "/uploads", uploads, get, summary="Search the upload index")
    route(router, "/uploads/{upload_id}", upload, get, summary="One upload")
    route(router, "/uploads/{upload_id}/content", content, get, summary="An upload's bytes")
    route(
        router,
        "/uploads/{upload_id}/histograms/{object_path:path}",
        histogram,
        get,
        summary="One histogram as JSON (edges, values, errors)",
    )
    route(router, "/runs", runs, get, summary="Per-run summary")
    route(router, "/runs/{run}", run_detail, get, summary="A run's files by agent")
    route(router, "/runs/{run}/files", run_files, get, summary="A run's files")
    route(router, "/events", events, ["GET"], summary="Receiver events (SSE)")
    app.include_router(router)


def _record(session: Session, upload_id: str) -> dict[str, Any] | None:
    row = index.get_upload(session, upload_id)
    return index.to_record(row) if row is not None else None


def _same_file(path: Any, inode: int) -> bool:
    import os

    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False
