"""The testbed's agent-side code paths, as the field's agents run them, end to end.

Bodies, paths and the order of calls follow swf-common-lib's BaseAgent and REST logging
handler and the testbed agents: start-up (agent id, subscriber registration, heartbeats),
a data agent recording a run and its STF files, a fast-monitoring agent registering FastMon
files by STF filename, a fast-processing agent posting flat TF slices, and the workflow runner
creating a definition, an execution and run states.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from daqhub.client.monitor import MonitorClient, RestLogHandler
from tests.monitor.conftest import Api

USER = "alice"
QUEUE = "/topic/epictopic"


class Agent:
    """BaseAgent's REST conversation with the monitor (requests replaced by the test client)."""

    def __init__(self, api: Api, agent_type: str, namespace: str = "alice-dev") -> None:
        self.api = api
        self.agent_type = agent_type
        self.namespace = namespace
        self.session: Any = api.client
        self.headers = {"Authorization": f"Token {api.token}"}
        agent_id = self._call("post", "/state/next-agent-id/")["agent_id"]
        self.agent_name = f"{agent_type.lower()}-agent-{USER}-{agent_id}"
        self.operational_state = "STARTING"
        self.logger = logging.getLogger(f"test-agent-{self.agent_name}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.handler = RestLogHandler(
            "http://testserver", "base_agent", self.agent_name, http=api.client
        )
        self.logger.addHandler(self.handler)
        self._stop = threading.Event()
        self._beats = 0

    def _call(self, method: str, endpoint: str, body: Any = None) -> Any:
        response = self.session.request(
            method.upper(),
            f"/api{endpoint}",
            json=body,
            headers=self.headers,
            follow_redirects=False,
        )
        assert not 300 <= response.status_code < 400, "agents treat redirects as fatal"
        if response.status_code == 400:
            text = response.text.lower()
            if "already exists" in text and "subscriber" in text:
                return {"status": "already_exists"}
        assert response.status_code < 400, (endpoint, response.status_code, response.text)
        return response.json()

    def register_subscriber(self) -> Any:
        return self._call(
            "post",
            "/subscribers/",
            {
                "subscriber_name": f"{self.agent_name}-{QUEUE}",
                "description": f"{self.agent_type} agent subscribing to {QUEUE}",
                "is_active": True,
                "fraction": 1.0,
            },
        )

    def send_heartbeat(self, status: str = "OK") -> Any:
        return self._call(
            "post",
            "/systemagents/heartbeat/",
            {
                "instance_name": self.agent_name,
                "agent_type": self.agent_type,
                "status": status,
                "description": f"{self.agent_type} agent. MQ: connected",
                "mq_connected": True,
                "pid": 4242,
                "hostname": "pc01",
                "operational_state": self.operational_state,
                "namespace": self.namespace,
            },
        )

    def start(self, beat_interval: float = 0.05) -> None:
        assert self._call("get", "/systemagents/") is not None  # check_monitor_health
        self._call("post", "/namespaces/ensure/", {"name": self.namespace, "owner": USER})
        self.register_subscriber()
        self.operational_state = "READY"
        self.send_heartbeat()
        self.logger.info(f"{self.agent_name} is running", extra={"username": USER})

        def beat() -> None:
            while not self._stop.wait(beat_interval):
                self.send_heartbeat()
                self._beats += 1

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        while self._beats < 3:
            time.sleep(0.01)
        self._stop.set()
        self._thread.join()
        self.operational_state = "EXITED"
        self.send_heartbeat(status="EXITED")
        self.logger.removeHandler(self.handler)


def test_agent_start_up_heartbeats_and_shutdown(make_api: Any) -> None:
    api = make_api(monitor={"naive_timezone": "UTC"})
    agent = Agent(api, "DATA")
    assert agent.agent_name == "data-agent-alice-1"
    agent.start()
    agents = api.get("/api/systemagents/").json()
    assert [(a["instance_name"], a["status"], a["operational_state"]) for a in agents] == [
        ("data-agent-alice-1", "OK", "READY")
    ]
    agent.stop()
    stored = api.get("/api/systemagents/?instance_name=data-agent-alice-1").json()[0]
    assert (stored["status"], stored["operational_state"]) == ("EXITED", "EXITED")
    assert stored["agent_type"] == "DATA"
    # A restart under the same name: the duplicate subscriber is recognised, not fatal.
    assert agent.register_subscriber() == {"status": "already_exists"}
    assert len(api.get("/api/subscribers/").json()) == 1
    second = Agent(api, "DATA")
    assert second.agent_name == "data-agent-alice-2"
    # The log handler's record arrived with the agent's context and its real thread id.
    logs = api.get("/api/logs/?instance_name=data-agent-alice-1").json()
    assert logs[0]["message"] == "data-agent-alice-1 is running"
    assert logs[0]["extra_data"] == {"username": USER}
    assert logs[0]["thread"] == threading.main_thread().ident
    assert logs[0]["funcname"] == "start"
    delay = datetime.now(UTC) - datetime.fromisoformat(logs[0]["timestamp"])
    assert abs(delay.total_seconds()) < 60


def test_logging_handler_posts_like_the_testbed(make_api: Any) -> None:
    api = make_api(monitor={"naive_timezone": "UTC"})
    logger = logging.getLogger("test-rest-handler")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = RestLogHandler(
        "http://testserver", "daq_simulator", "daqsim-agent-alice-3", http=api.client
    )
    logger.addHandler(handler)
    try:
        before = time.time()
        logger.warning("run %s imminent", 100010, extra={"execution_id": "E7", "run_id": 100010})
        logger.error("STF missing")
        payload = handler.payload(logging.makeLogRecord({"msg": "x", "created": before}))
    finally:
        logger.removeHandler(handler)
    assert "+" not in payload["timestamp"] and "Z" not in payload["timestamp"]  # naive
    assert handler.failed is False
    records = api.get("/api/logs/?app_name=daq_simulator").json()
    assert [r["message"] for r in records] == ["STF missing", "run 100010 imminent"]
    assert records[1]["extra_data"] == {"execution_id": "E7", "run_id": 100010}
    assert records[1]["thread"] > 0
    assert api.get("/api/logs/?run_id=100010").json()[0]["levelname"] == "WARNING"
    summary = api.get("/api/logs/summary/").json()["daq_simulator"]["daqsim-agent-alice-3"]
    assert summary["error_counts"] == {"ERROR": 1, "WARNING": 1}


def test_logging_handler_falls_back_when_the_server_refuses(api: Api) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = RestLogHandler(
        "http://testserver/nowhere", "a", "i", http=api.client, fallback=Keep()
    )
    handler.emit(logging.makeLogRecord({"msg": "kept", "levelno": 20, "levelname": "INFO"}))
    assert handler.failed is True
    assert [r.getMessage() for r in seen] == ["kept"]


def test_data_fastmon_and_processing_agents(api: Api) -> None:
    client = MonitorClient("http://testserver", token=api.token, http=api.client)
    run_number = client.next_run_number()
    assert run_number == 100010
    run = client.create(
        "runs",
        {
            "run_number": run_number,
            "start_time": datetime.now().isoformat(),
            "run_conditions": {"beam_energy": "10x100"},
        },
    )
    names = [f"swf.{run_number}.{seq:06d}.stf" for seq in (1, 2)]
    for seq, name in enumerate(names, 1):
        stf = client.create(
            "stf-files",
            {
                "run": run["run_id"],
                "stf_filename": name,
                "file_size_bytes": 1048576,
                "machine_state": "physics",
                "status": "registered",
                "metadata": {"created_by": "data-agent-alice-3", "sequence": seq},
            },
        )
        client.update("stf-files", stf["file_id"], {"status": "processed"})
    # The fast-monitoring agent finds the run by number and registers TF files by STF name.
    found = client.list("runs", run_number=run_number)
    assert [r["run_id"] for r in found] == [run["run_id"]]
    for seq, name in enumerate(names, 1):
        tf = client.create(
            "fastmon-files",
            {
                "stf_file": name,
                "tf_filename": f"{name}.tf.{seq:04d}",
                "file_size_bytes": 2048,
                "status": "registered",
                "metadata": {"stf_source": name},
                "tf_count": 10,
                "tf_first": 0,
                "tf_last": 9,
            },
        )
        assert tf["stf_file"] == name
    # The fast-processing agent posts slices in the older flat shape.
    for slice_id in range(3):
        client.create(
            "tf-slices",
            {
                "slice_id": slice_id,
                "tf_first": slice_id,
                "tf_last": slice_id,
                "tf_count": 1,
                "tf_filename": f"{names[0]}.tf.0001",
                "stf_filename": names[0],
                "run_number": run_number,
                "status": "queued",
            },
        )
    slices = client.list("tf-slices", run_number=run_number)
    assert len(slices) == 3
    assert {s["fastmon_file"] for s in slices} == {f"{names[0]}.tf.0001"}
    assert client.page("stf-files", limit=1, run_number=run_number)["count"] == 2
    client.update("runs", run["run_id"], {"end_time": datetime.now().isoformat()})
    assert client.list("runs", active=True) == []


def test_workflow_runner(api: Api) -> None:
    client = MonitorClient("http://testserver", token=api.token, http=api.client)
    client.ensure_namespace("alice-dev", USER, "Alice's testbed")
    definition = client.create(
        "workflow-definitions",
        {
            "workflow_name": "stf_datataking",
            "version": "1.0",
            "workflow_type": "stf_processing",
            "definition": "workflow source",
            "parameter_values": {"stf_count": 2},
            "created_by": USER,
            "created_at": datetime.now().isoformat(),
        },
    )
    again = client.list("workflow-definitions", workflow_name="stf_datataking", version="1.0")
    assert [d["id"] for d in again] == [definition["id"]]
    sequence = client.next_workflow_execution_id()
    execution_id = f"stf_datataking-{USER}-{sequence:04d}"
    client.create(
        "workflow-executions",
        {
            "execution_id": execution_id,
            "workflow_definition": definition["id"],
            "namespace": "alice-dev",
            "parameter_values": {"stf_count": 2},
            "status": "running",
            "start_time": datetime.now().isoformat(),
            "executed_by": USER,
        },
    )
    run_number = client.next_run_number()
    client.create(
        "run-states",
        {
            "run_number": run_number,
            "phase": "initializing",
            "state": "imminent",
            "substate": "preparing",
            "target_worker_count": 2,
            "state_changed_at": datetime.now().isoformat(),
            "metadata": {"execution_id": execution_id},
        },
    )
    client.update("run-states", run_number, {"phase": "physics", "state": "run"})
    client.update("run-states", run_number, {"phase": "completed", "state": "ended"})
    client.update(
        "workflow-executions",
        execution_id,
        {"status": "completed", "end_time": datetime.now().isoformat()},
    )
    assert client.get("workflow-executions", execution_id)["status"] == "completed"
    assert client.list("workflow-executions", status="running") == []
    assert client.get("run-states", run_number)["state"] == "ended"
