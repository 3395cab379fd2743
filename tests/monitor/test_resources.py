"""Collections and their rules: checklist items 38-50 and spec §3.6, §3.9.4-3.9.6."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from daqhub.core.outbox import OutboxEvent
from daqhub.monitor.catalog import RUN_STATES
from tests.monitor.conftest import Api, make_run, make_stf


def test_duplicate_subscriber_is_recognisable(api: Api) -> None:
    body = {"subscriber_name": "data-agent-alice-7-/topic/epictopic", "fraction": 1.0}
    created = api.created("/api/subscribers/", body)
    assert created["is_active"] is True
    assert created["delivery_type"] == "activemq"
    assert created["message_filters"] == {}
    duplicate = api.post("/api/subscribers/", body)
    assert duplicate.status_code == 400
    text = duplicate.text.lower()
    assert "already exists" in text
    assert "subscriber" in text
    assert duplicate.json() == {
        "subscriber_name": ["subscriber with this subscriber name already exists."]
    }
    assert api.get("/api/subscribers/?is_active=true").json()[0]["fraction"] == 1.0
    assert api.post("/api/subscribers/", {"subscriber_name": "x", "client_ip": "nope"}).json() == {
        "client_ip": ["Enter a valid IPv4 or IPv6 address."]
    }


def test_runs(api: Api) -> None:
    run = make_run(api)
    assert isinstance(run["run_id"], int)
    assert run["start_time"] == "2026-08-07T14:15:00.123456+00:00"
    patched = api.patch(f"/api/runs/{run['run_id']}/", {"end_time": "2026-08-07T11:00:00"})
    assert patched.status_code == 200
    assert patched.json()["end_time"] == "2026-08-07T15:00:00.000000+00:00"
    duplicate = api.post("/api/runs/", {"run_number": 100010, "start_time": "2026-08-07T10:00"})
    assert duplicate.status_code == 400
    assert duplicate.json() == {"run_number": ["run with this run number already exists."]}
    assert api.post("/api/runs/", {"run_number": "x"}).json() == {
        "run_number": ["A valid integer is required."],
        "start_time": ["This field is required."],
    }
    put = api.put(f"/api/runs/{run['run_id']}/", {"run_number": 100011})
    assert put.status_code == 400
    assert put.json() == {"start_time": ["This field is required."]}


def test_stf_files(api: Api) -> None:
    run = make_run(api)
    stf = make_stf(
        api,
        run["run_id"],
        file_size_bytes=1048576,
        metadata={"created_by": "data-agent-alice-3", "sequence": 1},
    )
    uuid.UUID(stf["file_id"])
    assert stf["run"] == run["run_id"]
    assert stf["machine_state"] == "physics"
    assert stf["status"] == "registered"
    duplicate = api.post(
        "/api/stf-files/", {"run": run["run_id"], "stf_filename": stf["stf_filename"]}
    )
    assert duplicate.json() == {"stf_filename": ["stf file with this stf filename already exists."]}
    bogus = api.post(
        "/api/stf-files/", {"run": run["run_id"], "stf_filename": "b", "status": "bogus"}
    )
    assert bogus.json() == {"status": ['"bogus" is not a valid choice.']}
    no_run = api.post("/api/stf-files/", {"run": 999, "stf_filename": "c"})
    assert no_run.json() == {"run": ['Invalid pk "999" - object does not exist.']}
    patched = api.patch(
        f"/api/stf-files/{stf['file_id']}/",
        {"status": "processed", "metadata": {"processed_by": "pp-agent-1"}},
    ).json()
    assert patched["metadata"] == {"processed_by": "pp-agent-1"}
    assert patched["status"] == "processed"
    assert patched["file_size_bytes"] == 1048576


def test_fastmon_files(api: Api) -> None:
    run = make_run(api)
    make_stf(api, run["run_id"], "swf.100010.000001.stf")
    created = api.created(
        "/api/fastmon-files/",
        {
            "stf_file": "swf.100010.000001.stf",
            "tf_filename": "swf.100010.000001.tf.0001",
            "file_size_bytes": 2048,
            "status": "registered",
            "metadata": {},
        },
    )
    assert created["stf_file"] == "swf.100010.000001.stf"
    uuid.UUID(created["tf_file_id"])
    unknown = api.post("/api/fastmon-files/", {"stf_file": "nope.stf", "tf_filename": "t"})
    assert unknown.status_code == 400
    assert unknown.json() == {"stf_file": ["Object with stf_filename=nope.stf does not exist."]}
    duplicate = api.post(
        "/api/fastmon-files/",
        {"stf_file": "swf.100010.000001.stf", "tf_filename": "swf.100010.000001.tf.0001"},
    )
    assert duplicate.json() == {
        "tf_filename": ["fast mon file with this tf filename already exists."]
    }
    # A range that breaks the documented invariant is accepted (and logged).
    assert (
        api.patch(
            f"/api/fastmon-files/{created['tf_file_id']}/", {"tf_first": 5, "tf_last": 1}
        ).status_code
        == 200
    )


def _slice(**extra: Any) -> dict[str, Any]:
    return {
        "slice_id": 1,
        "tf_first": 0,
        "tf_last": 9,
        "tf_count": 10,
        "run_number": 100010,
        **extra,
    }


def test_tf_slices_accept_both_shapes(api: Api) -> None:
    run = make_run(api)
    make_stf(api, run["run_id"], "a.stf")
    api.created("/api/fastmon-files/", {"stf_file": "a.stf", "tf_filename": "a.tf"})
    current = api.created("/api/tf-slices/", _slice(fastmon_file="a.tf"))
    assert (current["fastmon_file"], current["tf_filename"], current["stf_filename"]) == (
        "a.tf",
        "a.tf",
        "a.stf",
    )
    assert current["status"] == "queued"
    flat = api.created(
        "/api/tf-slices/", _slice(tf_filename="b.tf", stf_filename="b.stf", slice_id=2)
    )
    assert (flat["fastmon_file"], flat["tf_filename"], flat["stf_filename"]) == (
        None,
        "b.tf",
        "b.stf",
    )
    duplicate = api.post("/api/tf-slices/", _slice(fastmon_file="a.tf"))
    assert duplicate.json() == {
        "non_field_errors": ["The fields fastmon_file, slice_id must make a unique set."]
    }
    flat_duplicate = api.post("/api/tf-slices/", _slice(tf_filename="a.tf"))
    assert flat_duplicate.json() == {
        "non_field_errors": ["The fields tf_filename, slice_id must make a unique set."]
    }
    unknown = api.post("/api/tf-slices/", _slice(fastmon_file="nope.tf"))
    assert unknown.json() == {"fastmon_file": ["Object with tf_filename=nope.tf does not exist."]}
    neither = api.post("/api/tf-slices/", _slice())
    assert neither.json() == {"fastmon_file": ["This field is required."]}
    # Flat slices whose FastMon file arrives later are linked to it.
    make_stf(api, run["run_id"], "b.stf")
    api.created("/api/fastmon-files/", {"stf_file": "b.stf", "tf_filename": "b.tf"})
    assert api.get(f"/api/tf-slices/{flat['id']}/").json()["fastmon_file"] == "b.tf"


def test_tf_slice_filters_match_either_shape(api: Api) -> None:
    run = make_run(api)
    make_stf(api, run["run_id"], "a.stf")
    api.created("/api/fastmon-files/", {"stf_file": "a.stf", "tf_filename": "a.tf"})
    api.created("/api/tf-slices/", _slice(fastmon_file="a.tf", slice_id=3))
    api.created("/api/tf-slices/", _slice(tf_filename="z.tf", slice_id=4, run_number=100011))
    for run_number, slice_id in ((100010, 3), (100011, 4)):
        found = api.get(f"/api/tf-slices/?run_number={run_number}&slice_id={slice_id}").json()
        assert [s["slice_id"] for s in found] == [slice_id]
    assert len(api.get("/api/tf-slices/?tf_filename=z.tf").json()) == 1
    assert len(api.get("/api/tf-slices/?fastmon_file__tf_filename=a.tf").json()) == 1
    assert len(api.get("/api/tf-slices/?fastmon_file__stf_file__stf_filename=a.stf").json()) == 1
    assert len(api.get("/api/tf-slices/?stf_filename=a.stf").json()) == 1


def _run_state(**extra: Any) -> dict[str, Any]:
    return {
        "run_number": 100010,
        "phase": "initializing",
        "state": "imminent",
        "target_worker_count": 4,
        "state_changed_at": "2026-08-07T10:00:00",
        "metadata": {"execution_id": "E"},
        **extra,
    }


def test_run_states(api: Api) -> None:
    created = api.created("/api/run-states/", _run_state())
    assert created["slices_created"] == 0
    assert api.get("/api/run-states/100010/").json()["phase"] == "initializing"
    patched = api.patch("/api/run-states/100010/", {"phase": "physics", "state": "run"}).json()
    assert patched["phase"] == "physics"
    assert patched["state_changed_at"] > created["state_changed_at"]
    counters = api.patch("/api/run-states/100010/", {"slices_completed": 3}).json()
    assert counters["state_changed_at"] == patched["state_changed_at"]
    duplicate = api.post("/api/run-states/", _run_state())
    assert duplicate.json() == {"run_number": ["run state with this run number already exists."]}
    assert [s["run_number"] for s in api.get("/api/run-states/?phase=physics").json()] == [100010]


def test_run_state_post_adopts_an_ingest_created_row(api: Api) -> None:
    with api.runtime.db.write() as session:
        session.execute(
            insert(RUN_STATES).values(
                run_number=100010,
                phase="initializing",
                state="beam",
                substate="not_ready",
                target_worker_count=0,
                slices_created=7,
                state_changed_at=datetime.now(UTC),
                metadata={},
                ingest_created=True,
            )
        )
    response = api.post("/api/run-states/", _run_state(slices_created=2))
    assert response.status_code == 201
    body = response.json()
    assert (body["state"], body["target_worker_count"], body["slices_created"]) == (
        "imminent",
        4,
        7,
    )
    with api.runtime.db.read() as session:
        assert session.scalar(select(RUN_STATES.c.ingest_created)) is False
    assert api.post("/api/run-states/", _run_state()).status_code == 400


def _definition(api: Api) -> dict[str, Any]:
    return api.created(
        "/api/workflow-definitions/",
        {
            "workflow_name": "stf_datataking",
            "version": "1.0",
            "workflow_type": "simulation",
            "definition": "...",
            "parameter_values": {"stf_count": 5},
            "created_by": "alice",
            "created_at": "2020-01-01T00:00:00",
        },
    )


def test_workflow_definitions(api: Api) -> None:
    definition = _definition(api)
    assert definition["created_at"] > "2021"
    query = "/api/workflow-definitions/?workflow_name=stf_datataking&version="
    assert len(api.get(query + "1.0").json()) == 1
    assert api.get(query + "2.0").json() == []
    duplicate = api.post(
        "/api/workflow-definitions/",
        {
            "workflow_name": "stf_datataking",
            "version": "1.0",
            "workflow_type": "x",
            "definition": "x",
            "created_by": "bob",
        },
    )
    assert duplicate.json() == {
        "non_field_errors": ["The fields workflow_name, version must make a unique set."]
    }


def test_workflow_executions(api: Api) -> None:
    definition = _definition(api)
    body = {
        "execution_id": "stf_datataking-alice-0001",
        "workflow_definition": definition["id"],
        "namespace": "alice-dev",
        "parameter_values": {"stf_count": 5},
        "status": "running",
        "start_time": "2026-08-07T10:00:00",
        "executed_by": "alice",
    }
    created = api.created("/api/workflow-executions/", body)
    assert created["workflow_definition"] == definition["id"]
    done = api.patch(
        "/api/workflow-executions/stf_datataking-alice-0001/",
        {"status": "completed", "end_time": "2026-08-07T10:05:00"},
    )
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert api.post("/api/workflow-executions/", body).json() == {
        "execution_id": ["workflow execution with this execution id already exists."]
    }
    missing = api.post(
        "/api/workflow-executions/", {**body, "execution_id": "x", "workflow_definition": 99}
    )
    assert missing.json() == {"workflow_definition": ['Invalid pk "99" - object does not exist.']}


def _workflow(api: Api) -> dict[str, Any]:
    return api.created(
        "/api/workflows/",
        {
            "filename": "swf.100010.000001.stf",
            "daq_state": "run",
            "daq_substate": "physics",
            "generated_time": "2026-08-07T10:00:00",
            "stf_start_time": "2026-08-07T10:00:00",
            "stf_end_time": "2026-08-07T10:00:01",
        },
    )


def test_workflows_and_stages(api: Api) -> None:
    workflow = _workflow(api)
    assert workflow["current_status"] == "generated"
    assert api.post("/api/workflows/", {"filename": workflow["filename"]}).json()["filename"] == [
        "stf workflow with this filename already exists."
    ]
    no_workflow = api.post("/api/workflow-stages/", {"agent_name": "a", "agent_type": "data"})
    assert no_workflow.status_code == 400
    assert no_workflow.json() == {"workflow": ["This field is required."]}
    bad_status = api.post(
        "/api/workflow-stages/",
        {
            "workflow": workflow["workflow_id"],
            "agent_name": "a",
            "agent_type": "data",
            "status": "nope",
        },
    )
    assert bad_status.json() == {"status": ['"nope" is not a valid choice.']}
    stage = api.created(
        "/api/workflow-stages/",
        {
            "workflow": workflow["workflow_id"],
            "agent_name": "data-agent",
            "agent_type": "data",
            "status": "data_received",
            "started_at": "2026-08-07T10:00:00",
        },
    )
    done = api.patch(
        f"/api/workflow-stages/{stage['stage_id']}/",
        {"status": "data_complete", "completed_at": "2026-08-07T10:00:02.5"},
    ).json()
    assert done["processing_time_seconds"] == 2.5
    again = api.post(
        "/api/workflow-stages/",
        {"workflow": workflow["workflow_id"], "agent_name": "data-agent", "agent_type": "data"},
    )
    assert again.json() == {
        "non_field_errors": ["The fields workflow, agent_name, agent_type must make a unique set."]
    }
    message = api.created(
        "/api/workflow-messages/",
        {
            "workflow": workflow["workflow_id"],
            "stage": stage["stage_id"],
            "message_type": "stf_ready",
            "run_id": 100010,
            "message_content": {"msg_type": "stf_ready"},
        },
    )
    assert message["run_id"] == "100010"
    assert message["stream_seq"] is None
    assert message["message_metadata"] == {}
    assert (
        api.get(f"/api/workflow-stages/?workflow={workflow['workflow_id']}").json()[0]["stage_id"]
        == stage["stage_id"]
    )


def test_message_dispatches(api: Api) -> None:
    run = make_run(api)
    stf = make_stf(api, run["run_id"])
    created = api.created(
        "/api/message-dispatches/",
        {"stf_file": stf["file_id"], "message_content": {"a": 1}, "message_type": "stf_ready"},
    )
    assert created["dispatch_time"] is not None
    assert created["is_successful"] is None
    key = created["dispatch_id"]
    assert api.get(f"/api/message-dispatches/{key}/").json() == created
    patched = api.patch(f"/api/message-dispatches/{key}/", {"is_successful": True}).json()
    assert patched["is_successful"] is True
    assert (
        api.get(f"/api/message-dispatches/?stf_file={stf['file_id']}").json()[0]["dispatch_id"]
        == key
    )
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        response = api.post("/api/message-dispatches/", {"stf_file": bad})
        assert response.status_code == 400
        assert "stf_file" in response.json()
    assert api.delete(f"/api/message-dispatches/{key}/").status_code == 204
    assert api.get(f"/api/message-dispatches/{key}/").status_code == 404


def test_workers_and_system_state_events(api: Api) -> None:
    worker = api.created(
        "/api/workers/",
        {
            "worker_id": "w1",
            "run_number": 100010,
            "panda_job": "j1",
            "location": "BNL",
            "status": "running",
            "started_at": "2026-08-07T10:00:00",
        },
    )
    assert worker["slices_completed"] == 0
    assert api.post("/api/workers/", {**worker}).json() == {
        "worker_id": ["worker with this worker id already exists."]
    }
    assert api.get("/api/workers/?location=BNL").json()[0]["worker_id"] == "w1"
    assert api.patch("/api/workers/w1/", {"status": "done"}).json()["status"] == "done"
    event = api.created(
        "/api/system-state-events/",
        {
            "timestamp": "2026-08-07T10:00:00",
            "run_number": 100010,
            "event_type": "state_change",
            "state": "run",
            "event_data": {},
        },
    )
    assert event["event_data"] == {}
    assert len(api.get("/api/system-state-events/?event_type=state_change").json()) == 1


def test_deleting_a_run_deletes_its_files_and_events_are_recorded(api: Api) -> None:
    run = make_run(api)
    make_stf(api, run["run_id"])
    assert api.delete(f"/api/runs/{run['run_id']}/").status_code == 204
    assert api.get("/api/stf-files/").json() == []
    with api.runtime.db.read() as session:
        types = set(session.scalars(select(OutboxEvent.type)))
    assert {"monitor.run.created", "monitor.stf_file.created", "monitor.run.deleted"} <= types
