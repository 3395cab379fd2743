"""Fixtures of the connectivity tests: the spec's ccTest document and a manual clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import runtime_of

CC_TEST: dict[str, Any] = {
    "partition": "ccTest",
    "connections": [
        {
            "connection_type": 0,
            "data_type": "TPSet",
            "uid": "DRO-000-tp_to_trigger",
            "uri": "tcp://192.168.1.100:1234",
        },
        {
            "connection_type": 0,
            "data_type": "TPSet",
            "uid": "DRO-001-tp_to_trigger",
            "uri": "tcp://192.168.1.100:1235",
            "capacity": 0,
        },
    ],
}
UIDS = ["DRO-000-tp_to_trigger", "DRO-001-tp_to_trigger"]


def post(client: TestClient, path: str, body: Any, method: str = "POST", **kwargs: Any) -> Any:
    """Send ``body`` as raw JSON bytes (the way both real clients do)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    return client.request(method, path, content=content, headers=headers, **kwargs)


def lookup(client: TestClient, partition: str, regex: str, data_type: str = "TPSet") -> Any:
    return post(client, f"/getconnection/{partition}", {"uid_regex": regex, "data_type": data_type})


class ManualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self, _session: Any) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(client: TestClient) -> ManualClock:
    """Replace the registry's database clock with one the test moves by hand."""
    manual = ManualClock()
    runtime_of(client).services["connectivity"].registry.clock = manual
    return manual


@pytest.fixture
def sqlite_client(tmp_path: Any, sqlite_url: str) -> Iterator[TestClient]:
    """For tests of the HTTP layer alone, where the database backend makes no difference."""
    from daqhub.app import create_app
    from daqhub.settings import Settings
    from tests.conftest import FAST

    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, **FAST)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def published(client: TestClient) -> TestClient:
    response = post(client, "/publish", CC_TEST)
    assert response.status_code == 200
    return client


Poster = Callable[..., Any]
