"""The ``/ui/connectivity`` page: the registry, live (spec/connectivity.md §4.2).

A static page whose script reads the JSON views and follows the change-event stream; the
server renders nothing from client data into HTML here, so nothing needs escaping twice.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from daqhub.connectivity.settings import ConnectivitySettings

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Connectivity - daqhub</title>
<link rel="stylesheet" href="/static/daqhub.css"></head>
<body data-ttl="{ttl}">
<nav><a href="/">daqhub</a> | <strong>Connectivity</strong></nav>
<main>
<h1>Connectivity registry</h1>
<p>Entries expire {ttl} s after their last publish. <span id="status">loading...</span></p>
<p><label>uid pattern <input id="uid-filter" placeholder="DRO.*"></label>
<label>data type <input id="type-filter" placeholder="TPSet"></label></p>
<div id="partitions"></div>
</main>
<script src="/static/connectivity/connectivity.js"></script>
</body></html>
"""


def mount(app: FastAPI, settings: ConnectivitySettings) -> None:
    page = PAGE.format(ttl=escape(f"{settings.entry_ttl:g}"))

    @app.get("/ui/connectivity", tags=["connectivity"], include_in_schema=False)
    async def connectivity_page() -> HTMLResponse:
        return HTMLResponse(page)

    # The page's script, also on listeners that serve this service alone (no ``ui``).
    static = resources.files("daqhub.web") / "static" / "connectivity"
    app.mount(
        "/static/connectivity", StaticFiles(directory=str(static)), name="connectivity-static"
    )
