"""Retract, retract-partition, statistics, reset, liveness and readiness (items 21-29)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from tests.conftest import runtime_of
from tests.connectivity.conftest import CC_TEST, UIDS, lookup, post

RETRACT_ALL = {
    "partition": "ccTest",
    "connections": [{"connection_id": u, "data_type": "TPSet"} for u in UIDS],
}


def test_retract_all_removes_partition(published: TestClient) -> None:  # item 21
    assert post(published, "/retract", RETRACT_ALL).status_code == 200
    assert lookup(published, "ccTest", "DRO.*").status_code == 404
    again = post(published, "/retract", RETRACT_ALL)
    assert again.status_code == 404
    assert again.json()["message"] == "Partition ccTest not found"


def test_retract_with_unknown_uid(published: TestClient) -> None:  # item 22
    body = {
        "partition": "ccTest",
        "connections": [{"connection_id": "DRO-000-tp_to_trigger"}, {"connection_id": "X"}],
    }
    response = post(published, "/retract", body)
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "Connection(s) not found in partition ccTest: X",
        "missing": ["X"],
    }
    assert [e["uid"] for e in lookup(published, "ccTest", "DRO.*").json()] == [
        "DRO-001-tp_to_trigger"
    ]


def test_retract_removes_expired_entries_too(make_client: Any) -> None:
    # No retention sweep: with the clock moved years ahead it would purge the partition first.
    client = make_client(connectivity={"expired_retention": 0})
    assert post(client, "/publish", CC_TEST).status_code == 200
    registry = runtime_of(client).services["connectivity"].registry
    registry.clock = lambda _s: 4_000_000_000.0  # far in the future: everything expired
    assert lookup(client, "ccTest", "DRO.*").json() == []
    assert post(client, "/retract", RETRACT_ALL).status_code == 200
    assert lookup(client, "ccTest", "DRO.*").status_code == 404


def test_retract_ignores_data_type(published: TestClient) -> None:
    body = {
        "partition": "ccTest",
        "connections": [{"connection_id": "DRO-000-tp_to_trigger", "data_type": "Nope"}],
    }
    assert post(published, "/retract", body).status_code == 200
    assert [e["uid"] for e in lookup(published, "ccTest", "DRO.*").json()] == [
        "DRO-001-tp_to_trigger"
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"nope",
        {"connections": []},
        {"partition": "ccTest"},
        {"partition": "ccTest", "connections": [{"data_type": "TPSet"}]},
        {
            "partition": "ccTest",
            "connections": [{"connection_id": "DRO-000-tp_to_trigger"}, {"nope": 1}],
        },
        {"partition": "ccTest", "connections": [{"connection_id": 5}]},
        {"partition": "ccTest", "connections": ["DRO-000-tp_to_trigger"]},
    ],
)
def test_malformed_retract_is_400_and_removes_nothing(
    published: TestClient, body: Any
) -> None:  # 23
    response = post(published, "/retract", body)
    assert response.status_code == 400
    assert len(lookup(published, "ccTest", "DRO.*").json()) == 2
    assert post(published, "/publish", CC_TEST).status_code == 200


def test_retract_partition_form_and_json(published: TestClient) -> None:  # item 24
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (
        post(published, "/retract-partition", b"partition=ccTest", headers=form).status_code == 200
    )
    assert lookup(published, "ccTest", "DRO.*").status_code == 404
    assert (
        post(published, "/retract-partition", b"partition=ccTest", headers=form).status_code == 404
    )
    assert post(published, "/publish", CC_TEST).status_code == 200
    assert post(published, "/retract-partition", {"partition": "ccTest"}).status_code == 200
    again = post(published, "/retract-partition", {"partition": "ccTest"})
    assert again.status_code == 404
    assert again.json()["message"] == "Partition ccTest not found"
    assert post(published, "/retract-partition", b"").status_code == 400
    assert post(published, "/retract-partition", b"partition=", headers=form).status_code == 400
    assert published.get("/retract-partition").status_code == 405


def test_retract_partition_json_sent_as_form(published: TestClient) -> None:  # item 25
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = post(published, "/retract-partition", b'{"partition":"ccTest"}', headers=headers)
    assert response.status_code == 200
    assert lookup(published, "ccTest", "DRO.*").status_code == 404


def test_retract_partition_multipart_form(published: TestClient) -> None:
    response = published.post("/retract-partition", files={"partition": (None, "ccTest")})
    assert response.status_code == 200
    assert lookup(published, "ccTest", "DRO.*").status_code == 404


def test_form_without_content_type(published: TestClient) -> None:
    response = post(published, "/retract-partition", b"partition=ccTest", headers={})
    assert response.status_code == 200


def test_retract_session_alias(published: TestClient) -> None:  # item 26
    assert post(published, "/retract-session", {"session": "ccTest"}).status_code == 200
    assert lookup(published, "ccTest", "DRO.*").status_code == 404
    assert post(published, "/retract-session", {"session": "ccTest"}).status_code == 404


def test_stats_and_reset_stats(published: TestClient) -> None:  # item 27
    lookup(published, "ccTest", "DRO.*")
    stats = published.get("/stats")
    assert stats.status_code == 200
    assert "<h1>Connection server statistics</h1>" in stats.text
    assert "<p>1 calls to publish" in stats.text
    assert "<p>2 connections published" in stats.text
    assert "<p>1 calls to lookup, 2 connections returned" in stats.text
    reset = published.get("/resetStats")
    assert reset.status_code == 200
    assert "<p>1 calls to publish" in reset.text  # the counts from before the reset
    assert "<p>0 calls to publish" in published.get("/stats").text
    assert published.post("/resetStats").status_code == 200


def test_reset_service(published: TestClient) -> None:  # item 28
    response = published.get("/resetService")
    assert response.status_code == 200
    assert "<p>1 calls to publish" in response.text
    assert lookup(published, "ccTest", "DRO.*").status_code == 404
    assert "<p>0 calls to publish" in published.get("/stats").text
    assert published.post("/resetService").status_code == 200


def test_live_and_ready(client: TestClient) -> None:  # item 29, healthy half
    assert client.get("/live").text == "OK"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.text == "OK"


def test_ready_is_503_when_the_store_is_unreachable(client: TestClient) -> None:  # item 29
    runtime = runtime_of(client)
    state = runtime.services["connectivity"]
    real_engine = state.registry.db.engine
    dead = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    state.registry.db.engine = dead
    state.registry.db.session_factory.configure(bind=dead)
    try:
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.text == "Not Ready"
        assert client.get("/").status_code == 503
        assert lookup(client, "ccTest", "DRO.*").status_code == 503
        assert post(client, "/publish", CC_TEST).status_code == 503
    finally:
        state.registry.db.engine = real_engine
        state.registry.db.session_factory.configure(bind=real_engine)
        dead.dispose()
    assert client.get("/ready").status_code == 200


@pytest.mark.parametrize("route", ["/resetStats", "/resetService", "/purge"])
def test_admin_routes_can_be_disabled_or_need_a_token(make_client: Any, route: str) -> None:
    disabled = make_client(connectivity={"admin_auth": "disabled"})
    assert disabled.get(route).status_code == 403
    guarded = make_client(connectivity={"admin_auth": "token"})
    assert guarded.get(route).status_code == 403
    token = runtime_of(guarded).tokens.create("ops")
    assert guarded.get(route, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    limited = runtime_of(guarded).tokens.create("ro", scopes=["connectivity"])
    assert guarded.get(route, headers={"Authorization": f"Bearer {limited}"}).status_code == 403


def test_dump_page_is_bounded_and_escaped(make_client: Any) -> None:
    client = make_client(connectivity={"dump_row_limit": 3})
    connections = [
        {
            "uid": f"<script>u{i}</script>",
            "uri": "tcp://h:1",
            "data_type": "T",
            "connection_type": 0,
        }
        for i in range(5)
    ]
    assert (
        post(client, "/publish", {"partition": "<b>p</b>", "connections": connections}).status_code
        == 200
    )
    page = client.get("/").text
    assert "\u2026 2 more entries not shown" in page
    assert "&lt;script&gt;u0&lt;/script&gt;" in page
    assert "<script>u0" not in page
    assert "&lt;b&gt;p&lt;/b&gt;" in page
    assert "u3" not in page
