"""Quotas, deadlines, network allow-list, optional tokens, long poll (§3.5-§3.8, §4.5)."""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.testclient import TestClient

from daqhub.app import create_app
from daqhub.client import ConnectivityClient, Endpoint, PartitionNotFoundError
from tests.conftest import runtime_of
from tests.connectivity.conftest import CC_TEST, lookup, post


def _conn(uid: str) -> dict[str, Any]:
    return {"uid": uid, "uri": "u", "data_type": "T", "connection_type": 0}


def test_partition_quota_is_507_and_stores_nothing(make_client: Any) -> None:
    client = make_client(connectivity={"max_partitions": 2})
    for name in ("a", "b"):
        assert (
            post(client, "/publish", {"partition": name, "connections": [_conn("x")]}).status_code
            == 200
        )
    response = post(client, "/publish", {"partition": "c", "connections": [_conn("x")]})
    assert response.status_code == 507
    assert response.json()["error"] == "quota_exceeded"
    assert lookup(client, "c", ".*", "T").status_code == 404
    assert (
        post(client, "/publish", {"partition": "a", "connections": [_conn("y")]}).status_code == 200
    )


def test_entry_quota_is_507_and_stores_nothing(make_client: Any) -> None:
    client = make_client(connectivity={"max_entries_per_partition": 3})
    assert (
        post(
            client, "/publish", {"partition": "p", "connections": [_conn("a"), _conn("b")]}
        ).status_code
        == 200
    )
    response = post(
        client, "/publish", {"partition": "p", "connections": [_conn("a"), _conn("c"), _conn("d")]}
    )
    assert response.status_code == 507
    assert [e["uid"] for e in lookup(client, "p", ".*", "T").json()] == ["a", "b"]
    # Refreshing existing entries never counts against the quota.
    assert (
        post(
            client,
            "/publish",
            {"partition": "p", "connections": [_conn("a"), _conn("b"), _conn("c")]},
        ).status_code
        == 200
    )


def test_request_deadline_answers_503(make_client: Any, backend: str) -> None:
    client = make_client(connectivity={"request_deadline": 1e-9})
    assert post(client, "/publish", CC_TEST).status_code == 503
    if backend == "postgresql":  # SQLite lookups read the WAL snapshot inline, in microseconds
        assert lookup(client, "ccTest", "DRO.*").json()["error"] == "service_unavailable"


def test_network_allow_list(make_settings: Any) -> None:
    settings = make_settings(connectivity={"allowed_networks": ["10.0.0.0/8", "::1/128"]})
    app = create_app(settings)
    with TestClient(app, client=("192.168.1.5", 4000)) as outside:
        response = post(outside, "/publish", CC_TEST)
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
    with TestClient(app, client=("10.1.2.3", 4000)) as inside:
        assert post(inside, "/publish", CC_TEST).status_code == 200


def test_optional_token_requirement(make_client: Any) -> None:
    client = make_client(connectivity={"require_token": True})
    assert post(client, "/publish", CC_TEST).status_code == 403
    tokens = runtime_of(client).tokens
    good = tokens.create("daq", scopes=["connectivity"])
    other = tokens.create("dqm", scopes=["receiver"])
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {good}"}
    assert post(client, "/publish", CC_TEST, headers=auth).status_code == 200
    bad = {"Authorization": f"Bearer {other}"}
    assert post(client, "/publish", CC_TEST, headers=bad).status_code == 403


def test_long_poll_lookup_waits_for_the_publish(client: TestClient) -> None:
    assert post(client, "/publish", {"partition": "ccTest", "connections": []}).status_code == 200

    def publish_later() -> None:
        time.sleep(0.3)
        post(client, "/publish", CC_TEST)

    threading.Thread(target=publish_later).start()
    start = time.monotonic()
    response = post(
        client, "/getconnection/ccTest?wait_ms=3000", {"uid_regex": "DRO.*", "data_type": "TPSet"}
    )
    assert response.status_code == 200
    assert len(response.json()) == 2
    assert time.monotonic() - start < 2.5
    # Without a match, it answers [] after the wait.
    start = time.monotonic()
    empty = post(
        client, "/getconnection/ccTest?wait_ms=200", {"uid_regex": "nope", "data_type": "TPSet"}
    )
    assert empty.json() == [] and time.monotonic() - start >= 0.2


def test_python_client(client: TestClient) -> None:
    api = ConnectivityClient("http://testserver", http=client)
    api.publish("ccTest", [Endpoint("a", "tcp://h:1", "T"), Endpoint("b", "tcp://h:2", "T", 1, 3)])
    assert api.lookup("ccTest", ".*", "T") == [
        Endpoint("a", "tcp://h:1", "T"),
        Endpoint("b", "tcp://h:2", "T", 1, 3),
    ]
    api.retract("ccTest", ["a"])
    assert [e.uid for e in api.lookup("ccTest", ".*", "T")] == ["b"]
    assert api.partitions()[0]["partition"] == "ccTest"
    api.retract_partition("ccTest")
    try:
        api.lookup("ccTest", ".*", "T")
    except PartitionNotFoundError:
        pass
    else:
        raise AssertionError("expected PartitionNotFoundError")


def test_partition_views(published: TestClient) -> None:
    lookup(published, "ccTest", "missing.*")
    summary = published.get("/api/v1/partitions").json()
    assert (
        summary[0]["partition"] == "ccTest"
        and summary[0]["live"] == 2
        and summary[0]["expired"] == 0
    )
    detail = published.get("/api/v1/partitions/ccTest").json()
    assert [e["uid"] for e in detail] == ["DRO-000-tp_to_trigger", "DRO-001-tp_to_trigger"]
    assert detail[0]["publish_count"] == 1 and detail[0]["expired"] is False
    assert detail[0]["last_published_at"].endswith("+00:00")
    assert published.get("/api/v1/partitions/nope").status_code == 404
    runtime_of(published).services["connectivity"].flush()
    misses = published.get("/api/v1/partitions/ccTest/lookups?result=miss").json()
    assert misses[0]["uid_regex"] == "missing.*"


def test_a_flush_waits_for_one_already_writing(published: TestClient) -> None:
    """The periodic flush may have taken the records an explicit flush is meant to write: the
    explicit one returns only once they are in the database."""
    state = runtime_of(published).services["connectivity"]
    registry = state.registry
    real = registry.record_misses
    writing = threading.Event()

    def slow(misses: list[dict[str, Any]], keep: int) -> None:
        writing.set()
        time.sleep(0.5)
        real(misses, keep)

    registry.record_misses = slow
    background = threading.Thread(target=state.flush)  # as the periodic task does
    try:
        lookup(published, "ccTest", "late.*")
        background.start()
        assert writing.wait(5)
        state.flush()
        misses = published.get("/api/v1/partitions/ccTest/lookups?result=miss").json()
        assert [m["uid_regex"] for m in misses] == ["late.*"]
    finally:
        if background.is_alive():
            background.join()
        registry.record_misses = real


def test_metrics(published: TestClient) -> None:
    lookup(published, "ccTest", "DRO.*")
    lookup(published, "nope", "DRO.*")
    text = published.get("/metrics").text
    assert (
        'daqhub_connectivity_requests_total{method="POST",route="/publish",status="200"} 1.0'
        in text
    )
    assert 'daqhub_connectivity_lookups_total{result="hit"} 1.0' in text
    assert 'daqhub_connectivity_lookups_total{result="unknown_partition"} 1.0' in text
    assert "daqhub_connectivity_partitions 1.0" in text
    assert 'daqhub_connectivity_entries{state="live"} 2.0' in text
    assert "daqhub_connectivity_request_seconds_bucket" in text


def test_entry_table_is_analyzed_after_a_large_publish(postgres_url: str, tmp_path: Any) -> None:
    """A DAQ that publishes thousands of entries at once gets plans from real statistics."""
    from daqhub.connectivity.registry import Registry
    from daqhub.connectivity.requests import parse_publish
    from daqhub.connectivity.settings import ConnectivitySettings
    from daqhub.core.db import Database

    db = Database(postgres_url)
    registry = Registry(db, ConnectivitySettings())
    body = {"partition": "big", "connections": [_conn(f"u{i}") for i in range(3000)]}
    import json

    registry.publish(parse_publish(json.dumps(body).encode(), max_connections=10_000))
    assert registry.refresh_statistics() is True
    with db.engine.connect() as conn:
        estimated = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE relname = 'conn_entries'"
        ).scalar_one()
    assert estimated == 3000
    db.dispose()
