"""Heartbeats, the stale rule, liveness and agent CRUD: checklist items 22-32."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from daqhub.monitor.catalog import AGENTS
from tests.monitor.conftest import Api

BASE = {
    "instance_name": "data-agent-alice-7",
    "agent_type": "DATA",
    "status": "OK",
    "description": "DATA agent. MQ: connected",
    "mq_connected": True,
    "pid": 41213,
    "hostname": "pc01",
    "operational_state": "READY",
    "namespace": "alice-dev",
}


def _beat(api: Api, **body: Any) -> Any:
    return api.post("/api/systemagents/heartbeat/", body)


def _age(api: Api, name: str, minutes: float) -> None:
    with api.runtime.db.write() as session:
        session.execute(
            update(AGENTS)
            .where(AGENTS.c.instance_name == name)
            .values(last_heartbeat=datetime.now(UTC) - timedelta(minutes=minutes))
        )


def test_first_heartbeat_creates_then_updates(api: Api) -> None:
    first = _beat(api, **BASE)
    assert first.status_code == 201
    agent = first.json()
    assert list(agent) == [
        "id",
        "instance_name",
        "agent_type",
        "description",
        "status",
        "last_heartbeat",
        "agent_url",
        "workflow_enabled",
        "current_stf_count",
        "total_stf_processed",
        "last_stf_processed",
        "pid",
        "hostname",
        "operational_state",
        "namespace",
        "metadata",
        "created_at",
        "updated_at",
    ]
    assert agent["status"] == "OK"
    assert agent["pid"] == 41213
    assert agent["namespace"] == "alice-dev"
    second = _beat(api, **BASE)
    assert second.status_code == 200
    assert second.json()["id"] == agent["id"]
    assert len(api.get("/api/systemagents/").json()) == 1


def test_last_heartbeat_is_the_server_clock(api: Api) -> None:
    before = datetime.now(UTC)
    agent = _beat(api, **BASE, last_heartbeat="2020-01-01T00:00:00Z", timestamp="2020-01-01").json()
    seen = datetime.fromisoformat(agent["last_heartbeat"])
    assert abs((seen - before).total_seconds()) < 2


def test_instance_name_is_required(api: Api) -> None:
    for body in ({"status": "OK"}, {"instance_name": ""}, {"instance_name": None}):
        response = api.post("/api/systemagents/heartbeat/", body)
        assert response.status_code == 400
        assert response.json() == {"instance_name": ["This field is required."]}


def test_values_are_stored_verbatim(api: Api) -> None:
    for i, kind in enumerate(("DATA", "DAQ_Simulator", "agent_manager", "stf_datataking")):
        assert _beat(api, instance_name=f"a{i}", agent_type=kind).json()["agent_type"] == kind
    exited = _beat(
        api,
        instance_name="x",
        status="EXITED",
        operational_state="EXITED",
        pid=7,
        hostname="h",
        namespace="n",
    ).json()
    assert (exited["status"], exited["operational_state"]) == ("EXITED", "EXITED")
    assert (exited["pid"], exited["hostname"], exited["namespace"]) == (7, "h", "n")
    assert _beat(api, instance_name="y", status="OK").json()["status"] == "OK"


def test_omitted_fields_reset_and_extras_are_ignored(api: Api) -> None:
    _beat(api, **BASE)
    agent = _beat(
        api,
        instance_name=BASE["instance_name"],
        metadata={"x": 1},
        current_stf_count=5,
        total_stf_processed=9,
        mq_connected=False,
    ).json()
    assert agent["description"] == ""
    assert agent["namespace"] is None
    assert agent["agent_type"] == "other"
    assert agent["status"] == "OK"
    # Written only when sent: these keep their values.
    assert (agent["pid"], agent["hostname"], agent["operational_state"]) == (
        41213,
        "pc01",
        "READY",
    )
    assert agent["metadata"] is None
    assert (agent["current_stf_count"], agent["total_stf_processed"]) == (0, 0)


def test_type_errors_and_widths(api: Api) -> None:
    assert _beat(api, instance_name="a", pid="abc").json() == {
        "pid": ["A valid integer is required."]
    }
    assert _beat(api, instance_name="a", workflow_enabled="maybe").json() == {
        "workflow_enabled": ["Must be a valid boolean."]
    }
    long = _beat(api, instance_name="a", agent_type="t" * 101)
    assert long.status_code == 400
    assert long.json() == {"agent_type": ["Ensure this field has no more than 100 characters."]}
    wide = _beat(api, instance_name="a", agent_type="t" * 60, status="s" * 15)
    assert wide.status_code == 201
    assert wide.json()["agent_type"] == "t" * 60


def test_concurrent_first_heartbeats_make_one_row(api: Api) -> None:
    def beat(_i: int) -> int:
        return int(_beat(api, instance_name="racer", status="OK").status_code)

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(beat, range(20)))
    assert sorted(codes) == [200] * 19 + [201]
    assert len(api.get("/api/systemagents/?instance_name=racer").json()) == 1


def test_stale_agents_exit_after_any_heartbeat(make_api: Any) -> None:
    api = make_api(monitor={"stale_sweep_interval": 3600})
    for name in ("old", "recent", "gone"):
        _beat(api, instance_name=name, operational_state="READY")
    _age(api, "old", 4)
    _age(api, "recent", 2)
    _beat(api, instance_name="other")
    agents = {a["instance_name"]: a for a in api.get("/api/systemagents/").json()}
    assert (agents["old"]["status"], agents["old"]["operational_state"]) == ("EXITED", "EXITED")
    assert (agents["recent"]["status"], agents["recent"]["operational_state"]) == ("OK", "READY")
    revived = _beat(api, instance_name="old").json()
    assert revived["status"] == "OK"
    assert revived["operational_state"] == "EXITED"  # changes only when a heartbeat sends it


def test_stale_agents_exit_without_heartbeats(api: Api) -> None:
    _beat(api, instance_name="old", operational_state="READY")
    _age(api, "old", 4)
    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline:
        with api.runtime.db.read() as session:
            state = (
                session.execute(AGENTS.select().where(AGENTS.c.instance_name == "old"))
                .mappings()
                .one()
            )
        if state["status"] == "EXITED":
            break
        time.sleep(0.05)
    assert state is not None
    assert (state["status"], state["operational_state"]) == ("EXITED", "EXITED")


def test_agents_list_sweeps_first(make_api: Any) -> None:
    api = make_api(monitor={"stale_sweep_interval": 3600})
    _beat(api, instance_name="old")
    _age(api, "old", 5)
    api.state.agents._last_view_sweep = 0.0
    assert api.get("/api/systemagents/").json()[0]["status"] == "EXITED"


def test_liveness(api: Api) -> None:
    for name in ("four", "six"):
        _beat(api, instance_name=name)
    _age(api, "four", 4)
    _age(api, "six", 6)
    api.created("/api/systemagents/", {"instance_name": "never", "agent_type": "data"})
    assert api.state.agents.liveness() == {"four": "alive", "six": "dead", "never": "dead"}


def test_crud_validates_choices(api: Api) -> None:
    missing = api.post("/api/systemagents/", {"instance_name": "a"})
    assert missing.status_code == 400
    assert missing.json() == {"agent_type": ["This field is required."]}
    bogus = api.post("/api/systemagents/", {"instance_name": "a", "agent_type": "bogus"})
    assert bogus.json() == {"agent_type": ['"bogus" is not a valid choice.']}
    bad_url = api.post(
        "/api/systemagents/", {"instance_name": "a", "agent_type": "data", "agent_url": "nope"}
    )
    assert bad_url.json() == {"agent_url": ["Enter a valid URL."]}
    created = api.created(
        "/api/systemagents/",
        {"instance_name": "a", "agent_type": "data", "agent_url": "http://pc01:8080/x"},
    )
    assert created["status"] == "UNKNOWN"
    assert created["operational_state"] == "STARTING"
    duplicate = api.post("/api/systemagents/", {"instance_name": "a", "agent_type": "data"})
    assert duplicate.json() == {
        "instance_name": ["system agent with this instance name already exists."]
    }
    bad_status = api.patch(f"/api/systemagents/{created['id']}/", {"status": "SLEEPY"})
    assert bad_status.json() == {"status": ['"SLEEPY" is not a valid choice.']}
    assert api.delete(f"/api/systemagents/{created['id']}/").status_code == 204
    assert api.get(f"/api/systemagents/{created['id']}/").status_code == 404
