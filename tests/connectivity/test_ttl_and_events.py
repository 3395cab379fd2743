"""Soft state: TTL, purge, retention and change events (checklist items 19, 20, 37; §3.6, §4.3)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import runtime_of
from tests.connectivity.conftest import CC_TEST, UIDS, ManualClock, lookup, post


def test_entry_expires_after_ttl_and_revives(client: TestClient, clock: ManualClock) -> None:
    assert post(client, "/publish", CC_TEST).status_code == 200
    assert len(lookup(client, "ccTest", "DRO.*").json()) == 2
    clock.advance(9.999)
    assert len(lookup(client, "ccTest", "DRO.*").json()) == 2
    clock.advance(0.001)  # now - last_published == TTL: expired (live is strictly less)
    response = lookup(client, "ccTest", "DRO.*")
    assert response.status_code == 200
    assert response.json() == []
    page = client.get("/").text
    assert page.count("<strike>") == 2
    assert "DRO-000-tp_to_trigger" in page
    assert post(client, "/publish", CC_TEST).status_code == 200
    assert [e["uid"] for e in lookup(client, "ccTest", "DRO.*").json()] == UIDS


def test_purge_removes_expired_entries(client: TestClient, clock: ManualClock) -> None:  # item 20
    assert post(client, "/publish", CC_TEST).status_code == 200
    clock.advance(11)
    assert client.get("/purge").status_code == 200
    page = client.get("/").text
    assert "DRO-000-tp_to_trigger" not in page
    assert "strike" not in page
    assert lookup(client, "ccTest", "DRO.*").status_code == 404  # left empty: removed


def test_purge_keeps_live_entries(client: TestClient, clock: ManualClock) -> None:
    assert post(client, "/publish", CC_TEST).status_code == 200
    clock.advance(5)
    fresh = {"partition": "ccTest", "connections": [CC_TEST["connections"][1]]}
    assert post(client, "/publish", fresh).status_code == 200
    clock.advance(6)
    assert client.post("/purge").status_code == 200
    assert [e["uid"] for e in lookup(client, "ccTest", "DRO.*").json()] == ["DRO-001-tp_to_trigger"]


def test_retention_sweep_forgets_dead_sessions(make_client: Any) -> None:
    client = make_client(connectivity={"expired_retention": 60})
    manual = ManualClock()
    registry = runtime_of(client).services["connectivity"].registry
    registry.clock = manual
    assert post(client, "/publish", CC_TEST).status_code == 200
    manual.advance(30)
    assert registry.purge(older_than=60) == 0
    assert lookup(client, "ccTest", "DRO.*").json() == []  # expired but still known
    manual.advance(31)
    assert registry.purge(older_than=60) == 2
    assert lookup(client, "ccTest", "DRO.*").status_code == 404


def _collect(client: TestClient, action: Any, types: list[str], count: int) -> list[Any]:
    """Subscribe to the bus, run ``action``, and return the first ``count`` events."""
    runtime = runtime_of(client)

    async def subscribe() -> Any:
        return await runtime.bus.subscribe(types=types)

    portal = client.portal  # type: ignore[attr-defined]
    subscription = portal.call(subscribe)
    action()

    async def take() -> list[Any]:
        events = []
        while len(events) < count:
            event = await subscription.get(timeout=5)
            if event is None:
                break
            events.append(event)
        subscription.close()
        return events

    return portal.call(take)  # type: ignore[no-any-return]


def test_events_for_added_changed_and_unchanged(client: TestClient) -> None:  # item 37
    first = _collect(client, lambda: post(client, "/publish", CC_TEST), ["connectivity.*"], 3)
    assert [e.type for e in first] == [
        "connectivity.partition.created",
        "connectivity.connection.added",
        "connectivity.connection.added",
    ]
    assert first[1].data["uid"] == "DRO-000-tp_to_trigger"
    assert first[1].data["partition"] == "ccTest"
    assert [e.data["seq"] for e in first] == [1, 2, 3]
    assert first[0].id < first[1].id < first[2].id

    changed = {
        "partition": "ccTest",
        "connections": [dict(CC_TEST["connections"][0], uri="tcp://new:1")],
    }

    def refresh_then_change() -> None:
        assert post(client, "/publish", CC_TEST).status_code == 200  # refresh: no event
        assert post(client, "/publish", changed).status_code == 200

    events = _collect(client, refresh_then_change, ["connectivity.*"], 1)
    assert events[0].type == "connectivity.connection.changed"
    assert events[0].data["old"]["uri"] == "tcp://192.168.1.100:1234"
    assert events[0].data["new"]["uri"] == "tcp://new:1"


def test_expiry_event_within_ttl_plus_one_second(make_client: Any) -> None:
    client = make_client(connectivity={"entry_ttl": 0.3, "sweep_interval": 0.05})
    events = _collect(
        client,
        lambda: post(
            client, "/publish", {"partition": "p", "connections": [CC_TEST["connections"][0]]}
        ),
        ["connectivity.connection.expired", "connectivity.connection.added"],
        2,
    )
    assert [e.type for e in events] == [
        "connectivity.connection.added",
        "connectivity.connection.expired",
    ]
    added, expired = events
    from datetime import datetime

    lag = datetime.fromisoformat(expired.time) - datetime.fromisoformat(added.time)
    assert 0.3 <= lag.total_seconds() < 1.3
    # A republish revives it, with an event.
    revived = _collect(
        client,
        lambda: post(
            client, "/publish", {"partition": "p", "connections": [CC_TEST["connections"][0]]}
        ),
        ["connectivity.connection.revived"],
        1,
    )
    assert revived[0].data["uid"] == "DRO-000-tp_to_trigger"


def test_retract_events(client: TestClient) -> None:
    assert post(client, "/publish", CC_TEST).status_code == 200
    body = {"partition": "ccTest", "connections": [{"connection_id": u} for u in UIDS]}
    events = _collect(client, lambda: post(client, "/retract", body), ["connectivity.*"], 3)
    assert [e.type for e in events] == [
        "connectivity.connection.retracted",
        "connectivity.connection.retracted",
        "connectivity.partition.retracted",
    ]


def test_event_stream_over_sse(client: TestClient) -> None:
    """The SSE view of the bus, filtered by partition."""
    import threading

    got: list[str] = []
    ready = threading.Event()

    def read() -> None:
        with client.stream("GET", "/api/v1/events?partition=ccTest") as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("event:"):
                    got.append(line.split(":", 1)[1].strip())
                    if len(got) == 3:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(5)
    assert (
        post(
            client, "/publish", {"partition": "other", "connections": [CC_TEST["connections"][0]]}
        ).status_code
        == 200
    )
    assert post(client, "/publish", CC_TEST).status_code == 200
    reader.join(5)
    assert got == [
        "connectivity.partition.created",
        "connectivity.connection.added",
        "connectivity.connection.added",
    ]


@pytest.mark.parametrize("ttl", ["1", "1.5"])
def test_entry_ttl_environment_variable(
    ttl: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from daqhub.settings import load_settings

    monkeypatch.setenv("ENTRY_TTL", ttl)
    assert load_settings(overrides={"data_dir": tmp_path}).connectivity.entry_ttl == float(ttl)
    monkeypatch.setenv("DAQHUB_CONNECTIVITY__ENTRY_TTL", "7")
    assert load_settings(overrides={"data_dir": tmp_path}).connectivity.entry_ttl == 7.0


@pytest.mark.parametrize("ttl", ["0", "-1"])
def test_non_positive_ttl_is_refused(
    ttl: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from pydantic import ValidationError

    from daqhub.settings import load_settings

    monkeypatch.setenv("ENTRY_TTL", ttl)
    with pytest.raises(ValidationError):
        load_settings(overrides={"data_dir": tmp_path})


def test_refresh_keeps_entries_live_without_invalidating_the_cache(
    client: TestClient, clock: ManualClock
) -> None:
    registry = runtime_of(client).services["connectivity"].registry
    assert post(client, "/publish", CC_TEST).status_code == 200
    assert len(lookup(client, "ccTest", "DRO.*").json()) == 2
    loads = (registry.cache.full_loads, registry.cache.incremental_loads)
    for _ in range(3):
        clock.advance(8)  # each refresh lands before the TTL runs out
        assert post(client, "/publish", CC_TEST).status_code == 200
        assert len(lookup(client, "ccTest", "DRO.*").json()) == 2
    assert (registry.cache.full_loads, registry.cache.incremental_loads) == loads
    # A change of fields is picked up at once, incrementally.
    clock.advance(5)
    moved = {
        "partition": "ccTest",
        "connections": [dict(CC_TEST["connections"][1], uri="tcp://moved:1")],
    }
    assert post(client, "/publish", moved).status_code == 200
    assert lookup(client, "ccTest", "DRO-001.*").json()[0]["uri"] == "tcp://moved:1"
    assert registry.cache.incremental_loads == loads[1] + 1
    clock.advance(6)  # DRO-000 was last published 11 s ago, DRO-001 6 s ago
    assert [e["uid"] for e in lookup(client, "ccTest", "DRO.*").json()] == ["DRO-001-tp_to_trigger"]
