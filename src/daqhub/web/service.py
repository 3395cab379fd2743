"""The ``ui`` service: what the services share on the main listener.

Each service mounts its own pages; this serves the files they share, such as the stylesheet
(``/static/...``), and the token admin API (``/api/v1/tokens``, :mod:`daqhub.web.tokens_api`).
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from daqhub.core.errors import ErrorFormats
from daqhub.core.runtime import Runtime
from daqhub.core.service import Listener, Service
from daqhub.web import tokens_api


class WebService(Service):
    name = "ui"

    def mount(
        self, app: FastAPI, runtime: Runtime, listener: Listener, formats: ErrorFormats
    ) -> None:
        static = resources.files("daqhub.web") / "static"
        app.mount("/static", StaticFiles(directory=str(static)), name="static")
        tokens_api.mount(app, runtime, formats)


service = WebService()
