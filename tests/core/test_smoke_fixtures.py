"""The fixtures themselves: both database backends start empty and migrated."""

from __future__ import annotations

from starlette.testclient import TestClient

from daqhub.core import migrations


def test_backend_is_migrated_and_empty(client: TestClient, database_url: str) -> None:
    assert migrations.is_current(database_url)
    response = client.get("/api/v1/partitions")
    assert response.status_code == 200
    assert response.json() == []


def test_readyz(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] is True
