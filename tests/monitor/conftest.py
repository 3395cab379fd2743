"""Fixtures of the monitor tests: an in-process app on either backend plus a token."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import runtime_of

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

# Short intervals for background work; no retention (fixed test timestamps are months old).
FAST_MONITOR = {"stale_sweep_interval": 0.5, "log_retention_days": 0}


@dataclass
class Api:
    """A test client with a monitor token and short helpers."""

    client: TestClient
    token: str

    @property
    def runtime(self) -> Any:
        return runtime_of(self.client)

    @property
    def state(self) -> Any:
        return self.runtime.services["monitor"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.client.patch(path, json=body, headers=self.auth, **kwargs)

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(path, json=body, headers=self.auth)

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.auth)

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def new_token(self, name: str, **kwargs: Any) -> str:
        return str(self.runtime.tokens.create(name, **kwargs))


@pytest.fixture
def make_api(make_client: Callable[..., TestClient]) -> Callable[..., Api]:
    def make(**overrides: Any) -> Api:
        monitor = {**FAST_MONITOR, **overrides.pop("monitor", {})}
        client = make_client(monitor=monitor, **overrides)
        token = runtime_of(client).tokens.create("agent", scopes=["monitor"])
        return Api(client, token)

    return make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


def log_record(**overrides: Any) -> dict[str, Any]:
    """A record as the testbed's REST logging handler sends it."""
    record = {
        "app_name": "base_agent",
        "instance_name": "data-agent-alice-7",
        "timestamp": "2026-08-07T10:30:00.123456",
        "level": 20,
        "levelname": "INFO",
        "message": "Processing file batch 1/10",
        "module": "data_processor",
        "funcname": "process_batch",
        "lineno": 45,
        "process": 1234,
        "thread": 140213245478656,
        "extra_data": None,
    }
    record.update(overrides)
    return record


def make_run(api: Api, number: int = 100010) -> dict[str, Any]:
    return api.created(
        "/api/runs/", {"run_number": number, "start_time": "2026-08-07T10:15:00.123456"}
    )


def make_stf(api: Api, run_id: int, name: str = "swf.100010.000001.stf", **extra: Any) -> Any:
    return api.created("/api/stf-files/", {"run": run_id, "stf_filename": name, **extra})
