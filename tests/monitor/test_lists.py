"""List shape, pagination and filters: checklist items 10-16 and spec §3.5."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.monitor.conftest import Api, log_record, make_run, make_stf
from tests.monitor.test_transport import LIST_PATHS


def _stf_files(api: Api, count: int) -> dict[str, Any]:
    run = make_run(api)
    for i in range(count):
        make_stf(api, run["run_id"], f"swf.100010.{i:06d}.stf")
    return run


def test_bare_array_by_default_envelope_with_limit(api: Api) -> None:
    _stf_files(api, 5)
    bare = api.get("/api/stf-files/")
    assert isinstance(bare.json(), list)
    assert len(bare.json()) == 5
    assert bare.headers["x-total-count"] == "5"
    page = api.get("/api/stf-files/?limit=2&run_number=100010")
    body = page.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["previous"] is None
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {"limit": ["2"], "offset": ["2"], "run_number": ["100010"]}
    assert body["next"].startswith("http://testserver/api/stf-files/?")
    second = api.get(body["next"]).json()
    assert [r["stf_filename"] for r in second["results"]] == [
        "swf.100010.000002.stf",
        "swf.100010.000003.stf",
    ]
    assert "offset" not in parse_qs(urlsplit(second["previous"]).query)
    last = api.get("/api/stf-files/?limit=2&offset=4").json()
    assert last["next"] is None
    assert len(last["results"]) == 1
    assert parse_qs(urlsplit(last["previous"]).query)["offset"] == ["2"]
    for bad in ("abc", "0", "-1", ""):
        assert isinstance(api.get(f"/api/stf-files/?limit={bad}").json(), list)
    assert api.get("/api/stf-files/?limit=2&offset=x").json()["results"][0]["stf_filename"] == (
        "swf.100010.000000.stf"
    )


def test_external_base_url_and_limit_clamp(make_api: Any) -> None:
    api = make_api(monitor={"external_base_url": "https://host/swf-monitor/", "max_page_limit": 2})
    _stf_files(api, 3)
    body = api.get("/api/stf-files/?limit=50").json()
    assert len(body["results"]) == 2
    assert body["next"].startswith("https://host/swf-monitor/api/stf-files/?limit=2&offset=2")


@pytest.mark.parametrize("path", [p for p in LIST_PATHS if "summary" not in p])
def test_every_list_paginates_on_request(api: Api, path: str) -> None:
    api.post("/api/systemagents/heartbeat/", {"instance_name": "a"})
    api.client.post("/api/logs/", json=log_record())
    body = api.get(f"{path}?limit=1").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert len(body["results"]) <= 1


def test_typed_filters_reject_garbage(api: Api) -> None:
    bad_run = api.get("/api/stf-files/?run_number=abc")
    assert bad_run.status_code == 400
    assert bad_run.json() == {"run_number": "must be an integer run number"}
    bad_uuid = api.get("/api/stf-files/?workflow_id=notauuid")
    assert bad_uuid.status_code == 400
    assert bad_uuid.json() == {
        "workflow_id": "must be a UUID; to select a workflow's files filter by run_number/status"
    }
    assert api.get("/api/subscribers/?is_active=maybe").status_code == 400
    assert api.get("/api/logs/?start_time=yesterday").status_code == 400


def test_filters_combine_and_ignore_blanks_and_unknowns(api: Api) -> None:
    run = _stf_files(api, 3)
    stf = api.get("/api/stf-files/").json()
    api.patch(f"/api/stf-files/{stf[0]['file_id']}/", {"status": "processed"})
    assert len(api.get("/api/stf-files/?status=processed").json()) == 1
    assert len(api.get("/api/stf-files/?status=processed&run_number=1").json()) == 0
    assert len(api.get("/api/stf-files/?status=%20&bogus=1").json()) == 3
    assert len(api.get(f"/api/stf-files/?run={run['run_id']}").json()) == 3


def test_runs_honour_run_number(api: Api) -> None:
    make_run(api, 100010)
    make_run(api, 100011)
    only = api.get("/api/runs/?run_number=100011").json()
    assert [r["run_number"] for r in only] == [100011]
    assert api.get("/api/runs/?run_number=5").json() == []
    api.patch(f"/api/runs/{only[0]['run_id']}/", {"end_time": "2026-08-07T12:00:00Z"})
    assert [r["run_number"] for r in api.get("/api/runs/?active=true").json()] == [100010]
    assert [r["run_number"] for r in api.get("/api/runs/?active=0").json()] == [100011]


def test_fastmon_files_by_tf_filename(api: Api) -> None:
    run = make_run(api)
    make_stf(api, run["run_id"], "a.stf")
    for name in ("a.tf.1", "a.tf.2"):
        api.created("/api/fastmon-files/", {"stf_file": "a.stf", "tf_filename": name})
    assert [f["tf_filename"] for f in api.get("/api/fastmon-files/?tf_filename=a.tf.2").json()] == [
        "a.tf.2"
    ]
    assert api.get("/api/fastmon-files/?tf_filename=nope").json() == []
    assert len(api.get("/api/fastmon-files/?stf_filename=a.stf").json()) == 2
    assert len(api.get("/api/fastmon-files/?run_number=100010").json()) == 2


def _definition(api: Api) -> dict[str, Any]:
    return api.created(
        "/api/workflow-definitions/",
        {
            "workflow_name": "stf_datataking",
            "version": "1.0",
            "workflow_type": "simulation",
            "definition": "def run(): pass",
            "created_by": "alice",
        },
    )


def test_executions_by_status(api: Api) -> None:
    definition = _definition(api)
    for i, status in enumerate(("running", "completed", "running")):
        api.created(
            "/api/workflow-executions/",
            {
                "execution_id": f"stf_datataking-alice-{i:04d}",
                "workflow_definition": definition["id"],
                "parameter_values": {},
                "status": status,
                "start_time": f"2026-08-07T10:0{i}:00",
                "executed_by": "alice",
            },
        )
    running = api.get("/api/workflow-executions/?status=running").json()
    assert [e["execution_id"] for e in running] == [
        "stf_datataking-alice-0002",
        "stf_datataking-alice-0000",
    ]
    by_name = api.get("/api/workflow-executions/?workflow_name=stf_datataking").json()
    assert len(by_name) == 3


def test_workflow_messages_by_execution_oldest_first(api: Api) -> None:
    for i, execution in enumerate(("E", "other", "E", "E")):
        api.created(
            "/api/workflow-messages/",
            {"message_type": f"t{i}", "execution_id": execution, "message_content": {"i": i}},
        )
    mine = api.get("/api/workflow-messages/?execution_id=E").json()
    assert [m["message_type"] for m in mine] == ["t0", "t2", "t3"]
    everything = api.get("/api/workflow-messages/").json()
    assert [m["message_type"] for m in everything] == ["t3", "t2", "t1", "t0"]


def test_logs_newest_first_and_filtered_server_side(api: Api) -> None:
    records = [
        log_record(app_name="a", levelname="ERROR", level=40, timestamp="2026-08-07T10:00:01"),
        log_record(app_name="a", levelname="INFO", level=20, timestamp="2026-08-07T10:00:02"),
        log_record(app_name="b", levelname="ERROR", level=40, timestamp="2026-08-07T10:00:03"),
        log_record(
            app_name="a",
            levelname="ERROR",
            level=40,
            timestamp="2026-08-07T10:00:04",
            message="STF missing",
            extra_data={"execution_id": "E1", "run_id": 100010, "username": "alice"},
        ),
    ]
    for record in records:
        assert api.client.post("/api/logs/", json=record).status_code == 201
    stamps = [r["timestamp"] for r in api.get("/api/logs/").json()]
    assert stamps == sorted(stamps, reverse=True)
    errors = api.get("/api/logs/?app_name=a&levelname=ERROR").json()
    assert len(errors) == 2
    assert {r["app_name"] for r in errors} == {"a"}
    assert len(api.get("/api/logs/?min_level=30").json()) == 3
    assert len(api.get("/api/logs/?level=20").json()) == 1
    assert [r["message"] for r in api.get("/api/logs/?search=stf%20MISS").json()] == ["STF missing"]
    assert len(api.get("/api/logs/?execution_id=E1").json()) == 1
    assert len(api.get("/api/logs/?run_id=100010").json()) == 1
    assert len(api.get("/api/logs/?username=alice").json()) == 1
    window = "start_time=2026-08-07T10:00:02&end_time=2026-08-07T10:00:03"
    assert len(api.get(f"/api/logs/?{window}").json()) == 2
    first = api.get("/api/logs/?limit=1").json()["results"][0]["id"]
    assert len(api.get(f"/api/logs/?after_id={first - 2}").json()) == 2


def test_unpaged_logs_are_capped(make_api: Any) -> None:
    api = make_api(monitor={"logs_max_unpaged": 3})
    for second in range(5):
        stamp = f"2026-08-07T10:00:0{second}"
        api.client.post("/api/logs/", json=log_record(timestamp=stamp))
    capped = api.get("/api/logs/")
    assert len(capped.json()) == 3
    assert capped.headers["x-result-truncated"] == "true"
    assert capped.headers["x-total-count"] == "5"
    assert capped.json()[0]["timestamp"].startswith("2026-08-07T14:00:04")
    paged = api.get("/api/logs/?limit=5").json()
    assert len(paged["results"]) == 5
    assert "x-result-truncated" not in api.get("/api/runs/").headers
