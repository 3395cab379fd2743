"""The receiver's web pages (spec §4.3): runs list, run page with JSROOT histogram display.

Pages are rendered from ``web/templates/receiver/``; the run page then lives on the daqhub API
(``/api/v1/receiver/...``): it draws objects with the JSROOT bundled in
``web/static/jsroot/`` (served here, no CDN), reading the ROOT file through the Range-capable
content route, and refreshes itself from the receiver's event stream. Access needs a token with
the receiver's list scope, presented once on the sign-in form and kept in an HttpOnly cookie.
Nothing here redirects: an anonymous visitor gets the sign-in form in place (401).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from daqhub import __version__
from daqhub.core.db import utcnow
from daqhub.core.http import client_address
from daqhub.receiver import gate, index
from daqhub.receiver.errors import ApiForbidden, NotAuthenticated
from daqhub.receiver.naming import ZURICH
from daqhub.receiver.state import ReceiverState

PREFIX = "/ui/receiver"
STATIC = f"{PREFIX}/static"
COOKIE_SECONDS = 12 * 3600


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("daqhub.web", "templates"),
        autoescape=select_autoescape(default=True),
    )
    env.filters["utc"] = lambda ts: _fmt(ts, UTC)
    env.filters["zurich"] = lambda ts: _fmt(ts, ZURICH)
    env.filters["size"] = _size
    return env


def _fmt(timestamp: int | None, zone: Any) -> str:
    if timestamp is None:
        return ""
    try:
        value = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(timestamp))
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, ValueError):
        return str(timestamp)


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _safe_next(value: str | None) -> str:
    if value and value.startswith(PREFIX) and "//" not in value and "\\" not in value:
        return value
    return PREFIX


def mount(app: FastAPI, state: ReceiverState) -> None:
    env = _environment()
    router = APIRouter(prefix=PREFIX, tags=["receiver"], include_in_schema=False)
    common = {"static": STATIC, "api": "/api/v1/receiver", "ui": PREFIX, "version": __version__}

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(f"receiver/{name}").render(**common, **values)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    async def signed_in(request: Request) -> Response | None:
        """None when the visitor may see pages; else the sign-in page to answer with."""
        try:
            await state.gate.check_api(
                request, (gate.LIST,), open_access=state.settings.open_read_access
            )
        except NotAuthenticated:
            return page("login.html", 401, next=str(request.url.path), error=None)
        except ApiForbidden:
            return page(
                "login.html",
                403,
                next=str(request.url.path),
                error="This token may not read the receiver's files.",
            )
        return None

    async def runs_page(request: Request) -> Response:
        if (refused := await signed_in(request)) is not None:
            return refused
        live_after = utcnow() - timedelta(seconds=state.settings.live_window)

        def load() -> list[dict[str, Any]]:
            with state.db.read() as session:
                return index.runs_summary(
                    session, start=None, end=None, agent=None, limit=500, live_after=live_after
                )

        runs = await run_in_threadpool(load)
        return page("runs.html", runs=runs)

    async def run_page(request: Request, run: str) -> Response:
        if (refused := await signed_in(request)) is not None:
            return refused
        try:
            number = int(run)
        except ValueError:
            return page("run.html", 404, run=run, detail_json="null", missing=True)

        def load() -> dict[str, Any] | None:
            with state.db.read() as session:
                return index.run_detail(session, number, index.UploadFilter())

        detail = await run_in_threadpool(load)
        # Inside <script>: no "<" at all, so nothing can end or comment out the element.
        payload = json.dumps(detail or {"run": number, "agents": {}}).replace("<", "\\u003c")
        return page(
            "run.html",
            200 if detail else 404,
            run=number,
            detail_json=payload,
            missing=detail is None,
        )

    async def login(request: Request) -> Response:
        """GET: the sign-in form. POST: check the token and keep it in the page cookie."""
        if request.method != "POST":
            return page("login.html", next=_safe_next(request.query_params.get("next")), error=None)
        form = await request.form()
        token = str(form.get("token") or "").strip()
        target = _safe_next(str(form.get("next") or ""))
        if not token:
            return page("login.html", 401, next=target, error="Enter a token.")
        try:
            await state.gate.authorize(token, client_address(request), (gate.LIST,))
        except NotAuthenticated:
            return page("login.html", 401, next=target, error="That token is not valid.")
        except ApiForbidden:
            return page(
                "login.html",
                403,
                next=target,
                error="This token may not read the receiver's files.",
            )
        response = page("signed_in.html", next=target)
        response.set_cookie(
            gate.UI_COOKIE,
            token,
            max_age=COOKIE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        response = page("login.html", next=PREFIX, error=None)
        response.delete_cookie(gate.UI_COOKIE, path="/")
        return response

    router.add_api_route("", runs_page, methods=["GET", "HEAD"])
    router.add_api_route("/runs/{run}", run_page, methods=["GET", "HEAD"])
    router.add_api_route("/login", login, methods=["GET", "HEAD", "POST"])
    router.add_api_route("/logout", logout, methods=["POST"])
    app.include_router(router)
    web = resources.files("daqhub.web")
    app.mount(
        f"{STATIC}/jsroot",
        StaticFiles(directory=str(web / "static" / "jsroot")),
        name="receiver-jsroot",
    )
    app.mount(
        f"{STATIC}/app",
        StaticFiles(directory=str(web / "static" / "receiver")),
        name="receiver-static",
    )
