"""State counters and namespaces: checklist items 33-37 and spec §2.16, §3.10-3.11."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import OperationalError

from daqhub.monitor import counters
from tests.monitor.conftest import Api


def test_run_numbers_start_at_100010(api: Api) -> None:
    first = api.post("/api/state/next-run-number/")
    assert first.status_code == 200
    assert first.json() == {"run_number": 100010, "status": "success"}
    assert api.post("/api/state/next-run-number/").json()["run_number"] == 100011


def test_counters_are_independent(api: Api) -> None:
    assert api.post("/api/state/next-agent-id/").json() == {"agent_id": 1, "status": "success"}
    assert api.post("/api/state/next-agent-id/").json()["agent_id"] == 2
    assert api.post("/api/state/next-workflow-execution-id/").json() == {
        "sequence": 1,
        "status": "success",
    }
    assert api.post("/api/state/next-run-number/").json()["run_number"] == 100010
    document = counters.state_document(api.runtime.db)
    assert document["next_run_number"] == 100011
    assert document["last_run_number"] == 100010
    assert document["next_agent_id"] == 3
    assert document["last_agent_id"] == 2
    assert document["next_workflow_execution_id"] == 2
    assert document["last_workflow_execution_id"] == 1
    assert {"last_run_start_time", "last_agent_registration_time"} <= set(document)


def test_counters_ignore_the_body(api: Api) -> None:
    response = api.client.post(
        "/api/state/next-run-number/",
        content=b"not json at all",
        headers={**api.auth, "Content-Type": "text/plain"},
    )
    assert response.json() == {"run_number": 100010, "status": "success"}


def test_workflow_execution_ids_need_credentials(api: Api) -> None:
    response = api.client.post("/api/state/next-workflow-execution-id/")
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers


def test_concurrent_allocations_are_distinct_and_consecutive(api: Api) -> None:
    def allocate(_i: int) -> int:
        return int(api.post("/api/state/next-run-number/").json()["run_number"])

    with ThreadPoolExecutor(10) as pool:
        numbers = sorted(pool.map(allocate, range(40)))
    assert numbers == list(range(100010, 100050))


def test_storage_failure_has_a_short_message(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> int:
        raise OperationalError("SELECT secret", {}, Exception("disk I/O error at /var/db"))

    monkeypatch.setattr(counters, "allocate", broken)
    response = api.post("/api/state/next-run-number/")
    assert response.status_code == 500
    assert response.json() == {"error": "Failed to allocate run number", "status": "error"}


def test_ensure_namespace_is_idempotent(api: Api) -> None:
    first = api.post("/api/namespaces/ensure/", {"name": "alice-dev", "owner": "alice"})
    assert first.status_code == 200
    assert first.json() == {
        "name": "alice-dev",
        "owner": "alice",
        "description": "",
        "created": True,
        "status": "success",
    }
    again = api.post(
        "/api/namespaces/ensure/", {"name": "alice-dev", "owner": "bob", "description": "new"}
    )
    assert again.status_code == 200
    assert again.json() == {
        "name": "alice-dev",
        "owner": "alice",
        "description": "",
        "created": False,
        "status": "success",
    }
    listed = api.get("/api/namespaces/").json()
    assert [n["name"] for n in listed] == ["alice-dev"]
    assert api.get("/api/namespaces/alice-dev/").json()["owner"] == "alice"
    assert api.get("/api/namespaces/?owner=bob").json() == []


def test_ensure_namespace_errors(api: Api) -> None:
    no_name = api.post("/api/namespaces/ensure/", {"owner": "alice"})
    assert no_name.status_code == 400
    assert no_name.json() == {"error": "name is required", "status": "error"}
    no_owner = api.post("/api/namespaces/ensure/", {"name": "x"})
    assert no_owner.status_code == 400
    assert no_owner.json() == {"error": "owner is required", "status": "error"}
    blank = api.post("/api/namespaces/ensure/", {"name": "x", "owner": "  "})
    assert blank.json() == {"error": "owner is required", "status": "error"}
    assert api.client.post("/api/namespaces/ensure/", json={"name": "x"}).status_code == 403


def test_concurrent_ensure_creates_once(api: Api) -> None:
    def ensure(i: int) -> bool:
        body = {"name": "shared", "owner": f"user{i}"}
        response = api.post("/api/namespaces/ensure/", body)
        assert response.status_code == 200
        return bool(response.json()["created"])

    with ThreadPoolExecutor(10) as pool:
        created = list(pool.map(ensure, range(10)))
    assert created.count(True) == 1


def test_namespaces_collection_is_read_only(api: Api) -> None:
    assert api.client.post("/api/namespaces/", json={}).status_code == 403
    response = api.post("/api/namespaces/", {"name": "x", "owner": "y"})
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
