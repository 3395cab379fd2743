"""The token admin API (receiver spec §4.5): create, import, list, rotate with overlap, revoke."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import runtime_of


@pytest.fixture
def admin(make_client: Callable[..., TestClient]) -> tuple[TestClient, dict[str, str]]:
    client = make_client()
    value = runtime_of(client).tokens.create("root", scopes=["admin"])
    return client, {"Authorization": f"Bearer {value}"}


def receiver_accepts(client: TestClient, value: str) -> bool:
    """The receiver's token check on ``/``: a valid token gets "Not implemented"."""
    answer = client.get("/", headers={"token": value}).json()
    return bool(answer == {"message": "Not implemented"})


def test_needs_an_admin_token(
    admin: tuple[TestClient, dict[str, str]], make_client: Callable[..., TestClient]
) -> None:
    client, _ = admin
    assert client.get("/api/v1/tokens").status_code == 401
    answer = client.get("/api/v1/tokens", headers={"Authorization": "Bearer wrong"})
    assert (answer.status_code, answer.json()) == (401, {"detail": "Invalid token."})
    upload_only = runtime_of(client).tokens.create("emc", scopes=["receiver:upload"])
    answer = client.get("/api/v1/tokens", headers={"Authorization": f"Token {upload_only}"})
    assert answer.status_code == 403
    assert answer.json() == {"detail": "A token with the admin scope is required."}


def test_create_list_and_revoke(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = admin
    answer = client.post(
        "/api/v1/tokens", json={"name": "dqm-emc", "scopes": ["receiver:upload"]}, headers=auth
    )
    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    created = answer.json()
    assert created["name"] == "dqm-emc" and len(created["token"]) == 40
    assert receiver_accepts(client, created["token"])

    listing = client.get("/api/v1/tokens", headers=auth)
    assert listing.status_code == 200
    names = {t["name"]: t for t in listing.json()["tokens"]}
    assert set(names) == {"root", "dqm-emc"}
    assert names["dqm-emc"]["scopes"] == ["receiver:upload"]
    assert names["dqm-emc"]["state"] == "active"
    assert created["token"] not in listing.text

    assert client.delete("/api/v1/tokens/dqm-emc", headers=auth).json() == {
        "name": "dqm-emc",
        "revoked": True,
    }
    assert not receiver_accepts(client, created["token"])
    again = client.delete("/api/v1/tokens/dqm-emc", headers=auth)
    assert (again.status_code, again.json()) == (404, {"detail": "Not found."})


def test_import_a_legacy_value_and_refusals(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = admin
    legacy: dict[str, Any] = {"name": "overwatch", "scopes": ["receiver"], "value": "123456789"}
    answer = client.post("/api/v1/tokens", json=legacy, headers=auth)
    assert answer.status_code == 201 and answer.json()["token"] == "123456789"
    assert receiver_accepts(client, "123456789")
    assert client.post("/api/v1/tokens", json=legacy, headers=auth).status_code == 409
    admin_scope = client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}, headers=auth
    )
    assert admin_scope.status_code == 403
    assert admin_scope.json() == {"detail": "Only the command line can create admin tokens."}
    unknown = client.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]}, headers=auth)
    assert unknown.status_code == 400 and "unknown scope" in unknown.json()["detail"]
    missing = client.post("/api/v1/tokens", json={"name": "x"}, headers=auth)
    assert missing.status_code == 400 and set(missing.json()) == {"detail"}


def test_rotate_with_overlap(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = admin
    old = client.post(
        "/api/v1/tokens", json={"name": "dqm-tpc", "scopes": ["receiver"]}, headers=auth
    ).json()["token"]
    answer = client.post(
        "/api/v1/tokens/dqm-tpc/rotate", json={"overlap_seconds": 0.5}, headers=auth
    )
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    rotated = answer.json()
    assert rotated["name"] == "dqm-tpc" and rotated["previous_valid_until"]
    new = rotated["token"]
    assert new != old
    assert receiver_accepts(client, old) and receiver_accepts(client, new)
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=auth).json()["tokens"]}
    assert listed["dqm-tpc"]["previous_expires_at"] == rotated["previous_valid_until"]
    time.sleep(0.6)
    assert not receiver_accepts(client, old)
    assert receiver_accepts(client, new)

    default = client.post("/api/v1/tokens/dqm-tpc/rotate", headers=auth).json()
    assert default["previous_valid_until"]  # the configured overlap (one day by default)
    assert receiver_accepts(client, new) and receiver_accepts(client, default["token"])
    assert client.post("/api/v1/tokens/missing/rotate", headers=auth).status_code == 404
    refused = client.post("/api/v1/tokens/root/rotate", headers=auth)
    assert refused.status_code == 403
