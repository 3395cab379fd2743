"""The original's routes, wire-compatible (spec §2.2-§2.7): ``/`` (token check),
``GET|POST /rest/api/files`` and ``GET /rest/api/files/<filename>``.

Routes are thin: gate (throttle, token, scope), then one domain call, then the original's body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from daqhub.core.http import add_route
from daqhub.core.service import RootHandler
from daqhub.receiver import downloads, gate, index, wire
from daqhub.receiver.errors import FileNotFound, NotImplementedRoot
from daqhub.receiver.naming import secure_filename
from daqhub.receiver.state import ReceiverState
from daqhub.receiver.uploads import handle_upload

TAG = "receiver"


def root_handler(state: ReceiverState) -> RootHandler:
    """``GET|POST /`` with a token: the senders' token check; always 400 "Not implemented"."""

    async def root(request: Request) -> Response:
        await state.gate.check(request, gate.ANY)
        raise NotImplementedRoot()

    return root


def route(
    router: APIRouter, path: str, endpoint: Callable[..., Any], methods: list[str], **kwargs: Any
) -> None:
    """One route per method (own OpenAPI operation ids); HEAD stays out of the schema."""
    shown = [m for m in methods if m != "HEAD"]
    add_route(router, path, endpoint, shown, **kwargs)
    if "HEAD" in methods:
        add_route(router, path, endpoint, ["HEAD"], include_in_schema=False, **kwargs)


def mount(app: FastAPI, state: ReceiverState, *, prefix: str = "") -> None:
    """The original's routes at the root and, when set, under ``receiver.mount_prefix`` (the
    alias stays out of the OpenAPI document), the token check included."""
    router = APIRouter(tags=[TAG])

    async def files(request: Request) -> Response:
        """GET/HEAD lists the received files; POST uploads one."""
        if request.method == "POST":
            principal = await state.gate.check(request, (gate.UPLOAD,))
            return await handle_upload(state, request, principal)
        await state.gate.check(request, (gate.LIST,))
        names = await run_in_threadpool(state.storage.list_files)
        return wire.json_response({"files": names})

    async def download(request: Request, filename: str) -> Response:
        await state.gate.check(request, (gate.DOWNLOAD,))
        name = secure_filename(filename)
        opened = await run_in_threadpool(state.storage.open_listable, name) if name else None
        if opened is None:
            raise FileNotFound()
        try:
            sha256 = await run_in_threadpool(_known_sha256, state, opened.name, opened.inode)
        except BaseException:
            opened.close()
            raise
        return downloads.serve_file(request, opened, sha256=sha256)

    route(
        router,
        "/rest/api/files",
        files,
        ["GET", "HEAD", "POST"],
        summary="List received files (GET) or upload a ROOT file (POST)",
    )
    route(
        router,
        "/rest/api/files/{filename}",
        download,
        ["GET", "HEAD"],
        summary="Download a received file",
    )
    app.include_router(router)
    if prefix:
        app.include_router(router, prefix=prefix, include_in_schema=False)
        check = root_handler(state)
        for path in (prefix, prefix + "/"):
            app.add_api_route(path, check, methods=["GET", "HEAD", "POST"], include_in_schema=False)


def _known_sha256(state: ReceiverState, filename: str, inode: int) -> str | None:
    """The recorded checksum of exactly this file (same inode), if the index has it."""
    with state.db.read() as session:
        row = index.stored_row_for(session, filename, inode)
        return row.sha256 if row is not None else None
