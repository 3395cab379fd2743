"""The monitor's REST collections (spec §2 and §3.6), declared once each.

Field order is the wire order of the original serializers. Every collection answers at
``/api/<path>/`` and ``/api/<path>/<key>/``; its filters, default ordering, uniqueness rules and
special behaviour (hooks in :mod:`daqhub.monitor.rules`) are listed here and nowhere else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, case

from daqhub.monitor import listing as f
from daqhub.monitor import models as m
from daqhub.monitor import rules
from daqhub.monitor.fields import (
    Field,
    boolean,
    created,
    dt,
    floating,
    integer,
    ip,
    json_field,
    string,
    url,
    uuid_field,
)
from daqhub.monitor.resource import Relation, Resource, pk_relation_parser

AGENT_STATUS = ("UNKNOWN", "OK", "WARNING", "ERROR", "EXITED")
OPERATIONAL_STATE = ("STARTING", "READY", "PROCESSING", "EXITED")
AGENT_TYPES = (
    "daqsim",
    "data",
    "processing",
    "fastmon",
    "workflow_runner",
    "monitor",
    "sse_sender",
    "sse_receiver",
    "test",
    "other",
)
FILE_STATUS = ("registered", "processing", "processed", "failed", "done")
LOG_LEVELS = (0, 10, 20, 30, 40, 50)
DAQ_STATE = ("no_beam", "beam", "run", "calib", "test")
DAQ_SUBSTATE = (
    "not_ready",
    "ready",
    "physics",
    "standby",
    "lumi",
    "eic",
    "epic",
    "daq",
    "calib",
)
WORKFLOW_AGENT = ("daqsim", "data", "processing", "fastmon", "monitor")
WORKFLOW_STATUS = (
    "generated",
    *(f"{a}_{s}" for a in WORKFLOW_AGENT[:4] for s in ("received", "processing", "complete")),
    "workflow_complete",
    "failed",
)
DELIVERY_TYPE = ("activemq", "sse")


def _t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


AGENTS, LOGS, RUNS, STF, FASTMON, SLICES = (
    _t(m.SystemAgent),
    _t(m.AppLog),
    _t(m.Run),
    _t(m.StfFile),
    _t(m.FastMonFile),
    _t(m.TFSlice),
)
WORKERS, RUN_STATES, EVENTS, SUBSCRIBERS, DISPATCHES = (
    _t(m.Worker),
    _t(m.RunState),
    _t(m.SystemStateEvent),
    _t(m.Subscriber),
    _t(m.MessageQueueDispatch),
)
WORKFLOWS, STAGES, MESSAGES, DEFINITIONS, EXECUTIONS, NAMESPACES = (
    _t(m.STFWorkflow),
    _t(m.AgentWorkflowStage),
    _t(m.WorkflowMessage),
    _t(m.WorkflowDefinition),
    _t(m.WorkflowExecution),
    _t(m.Namespace),
)


def _pk(name: str, kind: str = "int") -> Field:
    return Field(name, pk_relation_parser("int"), read_only=True, kind="integer")


def _related(name: str, kind: str, *, required: bool = True, null: bool = False) -> Field:
    if kind == "uuid":
        return Field(
            name,
            pk_relation_parser("uuid"),
            required=required,
            null=null,
            dump=lambda v: None if v is None else str(v),
            kind="uuid",
        )
    return Field(name, pk_relation_parser("int"), required=required, null=null, kind="integer")


def _metadata() -> Field:
    return json_field("metadata", null=True)


SYSTEM_AGENTS = Resource(
    path="systemagents",
    table=AGENTS,
    title="SystemAgent",
    verbose="system agent",
    lookup="id",
    fields=(
        _pk("id"),
        string("instance_name", 100, required=True),
        string("agent_type", 100, required=True, choices=AGENT_TYPES),
        string("description", default="", blank=True),
        string("status", 20, choices=AGENT_STATUS),
        dt("last_heartbeat", null=True),
        url("agent_url", 200, null=True),
        boolean("workflow_enabled"),
        integer("current_stf_count"),
        integer("total_stf_processed"),
        dt("last_stf_processed", null=True),
        integer("pid", null=True),
        string("hostname", 100, null=True),
        string("operational_state", 20, choices=OPERATIONAL_STATE),
        string("namespace", 100, null=True),
        _metadata(),
        created(),
        created("updated_at"),
    ),
    filters={
        name: f.exact(AGENTS.c[name])
        for name in (
            "instance_name",
            "agent_type",
            "status",
            "operational_state",
            "namespace",
            "hostname",
        )
    },
    ordering=(("id", False),),
    unique=("instance_name",),
    event="agent",
)

LOG_FIELDS = (
    _pk("id"),
    string("app_name", 100, required=True),
    string("instance_name", 100, required=True),
    dt("timestamp", required=True),
    integer("level", choices=LOG_LEVELS, default=0),
    string("levelname", 50, required=True),
    string("message", required=True, blank=True),
    string("module", 255, required=True),
    string("funcname", 255, required=True),
    integer("lineno", required=True),
    integer("process", required=True),
    integer("thread", required=True, big=True),
    json_field("extra_data", null=True),
)

APP_LOGS = Resource(
    path="logs",
    table=LOGS,
    title="AppLog",
    verbose="app log",
    lookup="id",
    fields=LOG_FIELDS,
    filters={
        "app_name": f.exact(LOGS.c.app_name),
        "instance_name": f.exact(LOGS.c.instance_name),
        "levelname": f.exact(LOGS.c.levelname),
        "level": f.integer(LOGS.c.level),
        "min_level": f.at_least(LOGS.c.level),
        "module": f.exact(LOGS.c.module),
        "funcname": f.exact(LOGS.c.funcname),
        "start_time": f.since(LOGS.c.timestamp),
        "end_time": f.until(LOGS.c.timestamp),
        "search": f.contains(LOGS.c.message),
        "execution_id": f.json_key(LOGS.c.extra_data, "execution_id"),
        "run_id": f.json_key(LOGS.c.extra_data, "run_id"),
        "username": f.json_key(LOGS.c.extra_data, "username"),
        "after_id": f.Filter(lambda v: LOGS.c.id > v, f.parse_int, "must be an integer"),
    },
    ordering=(("timestamp", True), ("id", True)),
)

RUN_RESOURCE = Resource(
    path="runs",
    table=RUNS,
    title="Run",
    verbose="run",
    lookup="run_id",
    fields=(
        _pk("run_id"),
        integer("run_number", required=True),
        dt("start_time", required=True),
        dt("end_time", null=True),
        json_field("run_conditions", null=True),
    ),
    filters={
        "run_number": f.integer(RUNS.c.run_number, "must be an integer run number"),
        "active": f.is_null(RUNS.c.end_time),
    },
    ordering=(("run_id", False),),
    unique=("run_number",),
    event="run",
)

STF_FILES = Resource(
    path="stf-files",
    table=STF,
    title="StfFile",
    verbose="stf file",
    lookup="file_id",
    key_kind="uuid",
    fields=(
        uuid_field("file_id", read_only=True),
        _related("run", "int"),
        string("machine_state", 64, default="physics", blank=False),
        string("stf_filename", 255, required=True),
        integer("file_size_bytes", null=True, big=True),
        string("checksum", 64, null=True),
        created(),
        string("status", 20, choices=FILE_STATUS),
        _metadata(),
        uuid_field("workflow_id", null=True),
        string("daq_state", 20, null=True),
        string("daq_substate", 20, null=True),
        string("workflow_status", 30, null=True),
        integer("tf_count", null=True),
    ),
    relations=(Relation("run", "run_id", RUNS, "run_id"),),
    filters={
        "stf_filename": f.exact(STF.c.stf_filename),
        "run_number": f.Filter(
            lambda v: STF.c.run_id.in_(
                RUNS.select().with_only_columns(RUNS.c.run_id).where(RUNS.c.run_number == v)
            ),
            lambda v, _z: int(v) if v.isdigit() else _raise(v),
            "must be an integer run number",
        ),
        "status": f.exact(STF.c.status),
        "workflow_id": f.uuid_exact(
            STF.c.workflow_id,
            "must be a UUID; to select a workflow's files filter by run_number/status",
        ),
        "run": f.integer(STF.c.run_id),
        "machine_state": f.exact(STF.c.machine_state),
    },
    ordering=(("created_at", False),),
    unique=("stf_filename",),
    event="stf_file",
)


def _raise(value: str) -> Any:
    raise ValueError(value)


FASTMON_FILES = Resource(
    path="fastmon-files",
    table=FASTMON,
    title="FastMonFile",
    verbose="fast mon file",
    lookup="tf_file_id",
    key_kind="uuid",
    fields=(
        uuid_field("tf_file_id", read_only=True),
        Field("stf_file", string("stf_file", 255).parse, required=True),
        string("tf_filename", 255, required=True),
        integer("file_size_bytes", null=True, big=True),
        string("checksum", 64, null=True),
        string("status", 20, choices=FILE_STATUS),
        _metadata(),
        integer("tf_count", null=True),
        integer("tf_first", null=True),
        integer("tf_last", null=True),
        created(),
        created("updated_at"),
    ),
    relations=(Relation("stf_file", "stf_file_id", STF, "file_id", by="stf_filename"),),
    filters={
        "tf_filename": f.exact(FASTMON.c.tf_filename),
        "stf_filename": f.exact(STF.c.stf_filename),
        "status": f.exact(FASTMON.c.status),
        "run_number": f.Filter(
            lambda v: STF.c.run_id.in_(
                RUNS.select().with_only_columns(RUNS.c.run_id).where(RUNS.c.run_number == v)
            ),
            lambda v, _z: int(v) if v.isdigit() else _raise(v),
            "must be an integer run number",
        ),
    },
    ordering=(("created_at", False),),
    unique=("tf_filename",),
    prepare=rules.check_tf_range,
    after_write=rules.link_slices,
    event="fastmon_file",
)


def _slice_link(table: Table) -> Any:
    return case((table.c.fastmon_file_id.is_not(None), table.c.tf_filename), else_=None)


TF_SLICES = Resource(
    path="tf-slices",
    table=SLICES,
    title="TFSlice",
    verbose="tf slice",
    lookup="id",
    fields=(
        _pk("id"),
        Field("fastmon_file", string("fastmon_file", 255).parse, null=True),
        string("tf_filename", 255),
        string("stf_filename", 255, null=True),
        integer("slice_id", required=True),
        integer("tf_first", required=True),
        integer("tf_last", required=True),
        integer("tf_count", required=True),
        integer("run_number", required=True),
        string("status", 20),
        integer("retries"),
        _metadata(),
        string("assigned_worker", 255, null=True),
        dt("assigned_at", null=True),
        dt("completed_at", null=True),
        created(),
        created("updated_at"),
    ),
    expressions={"fastmon_file": _slice_link},
    filters={
        "id": f.integer(SLICES.c.id),
        "fastmon_file_id": f.uuid_exact(SLICES.c.fastmon_file_id),
        "run_number": f.integer(SLICES.c.run_number, "must be an integer run number"),
        "status": f.exact(SLICES.c.status),
        "fastmon_file__stf_file__stf_filename": f.Filter(
            lambda v: (SLICES.c.stf_filename == v) & SLICES.c.fastmon_file_id.is_not(None)
        ),
        "assigned_worker": f.exact(SLICES.c.assigned_worker),
        "fastmon_file__tf_filename": f.Filter(
            lambda v: (SLICES.c.tf_filename == v) & SLICES.c.fastmon_file_id.is_not(None)
        ),
        "slice_id": f.integer(SLICES.c.slice_id),
        "tf_filename": f.exact(SLICES.c.tf_filename),
        "stf_filename": f.exact(SLICES.c.stf_filename),
    },
    ordering=(("id", False),),
    unique_together=(("tf_filename", "slice_id"),),
    unique_together_names=(("fastmon_file", "slice_id"),),
    prepare=rules.slice_shape,
    event="tf_slice",
)

WORKER_RESOURCE = Resource(
    path="workers",
    table=WORKERS,
    title="Worker",
    verbose="worker",
    lookup="worker_id",
    key_kind="str",
    fields=(
        string("worker_id", 255, required=True),
        integer("run_number", required=True),
        string("panda_job", 255, required=True),
        string("location", 255, required=True),
        string("status", 20, required=True),
        integer("current_slice_id", null=True),
        string("tf_filename", 255, null=True),
        integer("slices_completed"),
        dt("started_at", required=True),
        dt("last_heartbeat", null=True),
        dt("ended_at", null=True),
        _metadata(),
    ),
    filters={
        "run_number": f.integer(WORKERS.c.run_number, "must be an integer run number"),
        "status": f.exact(WORKERS.c.status),
        "location": f.exact(WORKERS.c.location),
    },
    ordering=(("worker_id", False),),
    unique=("worker_id",),
    event="worker",
)

RUN_STATE_RESOURCE = Resource(
    path="run-states",
    table=RUN_STATES,
    title="RunState",
    verbose="run state",
    lookup="run_number",
    fields=(
        integer("run_number", required=True),
        string("phase", 20, required=True),
        string("state", 20, required=True),
        string("substate", 20, null=True),
        integer("target_worker_count", required=True),
        *(integer(name) for name in rules.RUN_STATE_COUNTERS),
        dt("state_changed_at", required=True),
        created("updated_at"),
        _metadata(),
    ),
    filters={
        "phase": f.exact(RUN_STATES.c.phase),
        "state": f.exact(RUN_STATES.c.state),
    },
    ordering=(("run_number", False),),
    unique=("run_number",),
    prepare=rules.run_state_write,
    event="run_state",
)

SYSTEM_STATE_EVENTS = Resource(
    path="system-state-events",
    table=EVENTS,
    title="SystemStateEvent",
    verbose="system state event",
    lookup="event_id",
    fields=(
        _pk("event_id"),
        dt("timestamp", required=True),
        integer("run_number", required=True),
        string("event_type", 50, required=True),
        string("state", 20, required=True),
        string("substate", 20, null=True),
        json_field("event_data", required=True),
    ),
    filters={
        "run_number": f.integer(EVENTS.c.run_number, "must be an integer run number"),
        "event_type": f.exact(EVENTS.c.event_type),
        "state": f.exact(EVENTS.c.state),
    },
    ordering=(("event_id", False),),
    event="system_state_event",
)

SUBSCRIBER_RESOURCE = Resource(
    path="subscribers",
    table=SUBSCRIBERS,
    title="Subscriber",
    verbose="subscriber",
    lookup="subscriber_id",
    fields=(
        _pk("subscriber_id"),
        string("subscriber_name", 255, required=True),
        floating("fraction", null=True),
        string("description", null=True),
        boolean("is_active"),
        string("delivery_type", 20, choices=DELIVERY_TYPE),
        ip("client_ip", null=True),
        string("client_location", 255, blank=True),
        dt("connected_at", null=True),
        dt("disconnected_at", null=True),
        dt("last_activity", null=True),
        json_field("message_filters"),
        integer("messages_received"),
        integer("messages_sent"),
        integer("messages_dropped"),
        created(),
        created("updated_at"),
    ),
    filters={
        "subscriber_name": f.exact(SUBSCRIBERS.c.subscriber_name),
        "delivery_type": f.exact(SUBSCRIBERS.c.delivery_type),
        "is_active": f.boolean(SUBSCRIBERS.c.is_active),
    },
    ordering=(("subscriber_id", False),),
    unique=("subscriber_name",),
    event="subscriber",
)

MESSAGE_DISPATCHES = Resource(
    path="message-dispatches",
    table=DISPATCHES,
    title="MessageQueueDispatch",
    verbose="message queue dispatch",
    lookup="dispatch_id",
    key_kind="uuid",
    fields=(
        uuid_field("dispatch_id", read_only=True),
        _related("stf_file", "uuid"),
        created("dispatch_time"),
        json_field("message_content", null=True),
        boolean("is_successful", null=True),
        string("error_message", null=True),
        uuid_field("workflow_id", null=True),
        string("message_type", 50, null=True),
        string("sender_agent", 100, null=True),
        string("recipient_agent", 100, null=True),
    ),
    relations=(Relation("stf_file", "stf_file_id", STF, "file_id"),),
    filters={
        "stf_file": f.uuid_exact(DISPATCHES.c.stf_file_id),
        "workflow_id": f.uuid_exact(DISPATCHES.c.workflow_id),
        "message_type": f.exact(DISPATCHES.c.message_type),
        "is_successful": f.boolean(DISPATCHES.c.is_successful),
    },
    ordering=(("dispatch_time", False),),
    event="message_dispatch",
)

STF_WORKFLOWS = Resource(
    path="workflows",
    table=WORKFLOWS,
    title="STFWorkflow",
    verbose="stf workflow",
    lookup="workflow_id",
    key_kind="uuid",
    fields=(
        uuid_field("workflow_id", read_only=True),
        string("filename", 255, required=True),
        uuid_field("file_id", null=True),
        string("namespace", 100, null=True),
        string("execution_id", 100, null=True),
        string("run_id", 50, null=True),
        string("daq_state", 20, required=True, choices=DAQ_STATE),
        string("daq_substate", 20, required=True, choices=DAQ_SUBSTATE),
        dt("generated_time", required=True),
        dt("stf_start_time", required=True),
        dt("stf_end_time", required=True),
        string("current_status", 30, choices=WORKFLOW_STATUS),
        string("current_agent", 20, choices=WORKFLOW_AGENT),
        dt("completed_at", null=True),
        dt("failed_at", null=True),
        string("failure_reason", null=True),
        json_field("stf_metadata", null=True),
        created(),
        created("updated_at"),
    ),
    filters={
        name: f.exact(WORKFLOWS.c[name])
        for name in ("filename", "run_id", "namespace", "execution_id", "current_status")
    },
    ordering=(("generated_time", True),),
    unique=("filename",),
    event="workflow",
)

WORKFLOW_STAGES = Resource(
    path="workflow-stages",
    table=STAGES,
    title="AgentWorkflowStage",
    verbose="agent workflow stage",
    lookup="stage_id",
    key_kind="uuid",
    fields=(
        uuid_field("stage_id", read_only=True),
        _related("workflow", "uuid"),
        string("agent_name", 100, required=True),
        string("agent_type", 20, required=True, choices=WORKFLOW_AGENT),
        string("status", 30, choices=WORKFLOW_STATUS),
        dt("received_at", null=True),
        dt("started_at", null=True),
        dt("completed_at", null=True),
        dt("failed_at", null=True),
        floating("processing_time_seconds", null=True),
        string("failure_reason", null=True),
        json_field("input_message", null=True),
        json_field("output_message", null=True),
        json_field("stage_metadata", null=True),
        created(),
        created("updated_at"),
    ),
    relations=(Relation("workflow", "workflow_id", WORKFLOWS, "workflow_id"),),
    filters={
        "workflow": f.uuid_exact(STAGES.c.workflow_id),
        "agent_name": f.exact(STAGES.c.agent_name),
        "agent_type": f.exact(STAGES.c.agent_type),
        "status": f.exact(STAGES.c.status),
    },
    ordering=(("workflow", False), ("created_at", False)),
    unique_together=(("workflow_id", "agent_name", "agent_type"),),
    unique_together_names=(("workflow", "agent_name", "agent_type"),),
    prepare=rules.stage_timing,
    event="workflow_stage",
)


def _message_order(params: Any) -> tuple[tuple[str, bool], ...]:
    ascending = bool((params.get("execution_id") or "").strip())
    return (("sent_at", not ascending),)


WORKFLOW_MESSAGES = Resource(
    path="workflow-messages",
    table=MESSAGES,
    title="WorkflowMessage",
    verbose="workflow message",
    lookup="message_id",
    key_kind="uuid",
    fields=(
        uuid_field("message_id", read_only=True),
        _related("workflow", "uuid", required=False, null=True),
        _related("stage", "uuid", required=False, null=True),
        string("message_type", 50, required=True),
        integer("request_id", null=True),
        string("sender_agent", 100, null=True),
        string("recipient_agent", 100, null=True),
        string("sender_type", 20, null=True, choices=WORKFLOW_AGENT),
        string("recipient_type", 20, null=True, choices=WORKFLOW_AGENT),
        string("namespace", 100, null=True),
        string("execution_id", 100, null=True),
        string("run_id", 50, null=True),
        json_field("message_content", required=True),
        json_field("message_metadata"),
        created("sent_at"),
        dt("delivered_at", null=True),
        dt("acknowledged_at", null=True),
        boolean("is_successful", null=True),
        string("error_message", null=True),
        string("queue_name", 100, null=True),
        string("correlation_id", 100, null=True),
        integer("stream_seq", read_only=True, big=True),
        string("broker_message_id", 255, read_only=True),
    ),
    relations=(
        Relation("workflow", "workflow_id", WORKFLOWS, "workflow_id"),
        Relation("stage", "stage_id", STAGES, "stage_id"),
    ),
    filters={
        "execution_id": f.exact(MESSAGES.c.execution_id),
        "namespace": f.exact(MESSAGES.c.namespace),
        "message_type": f.exact(MESSAGES.c.message_type),
        "run_id": f.exact(MESSAGES.c.run_id),
        "sender_agent": f.exact(MESSAGES.c.sender_agent),
        "recipient_agent": f.exact(MESSAGES.c.recipient_agent),
        "workflow": f.uuid_exact(MESSAGES.c.workflow_id),
        "since": f.since(MESSAGES.c.sent_at),
    },
    ordering_for=_message_order,
    event="workflow_message",
)

WORKFLOW_DEFINITIONS = Resource(
    path="workflow-definitions",
    table=DEFINITIONS,
    title="WorkflowDefinition",
    verbose="workflow definition",
    lookup="id",
    fields=(
        _pk("id"),
        string("workflow_name", 200, required=True),
        string("version", 50, required=True),
        string("workflow_type", 100, required=True),
        string("definition", required=True),
        json_field("parameter_values"),
        string("created_by", 100, required=True),
        created(),
        created("updated_at"),
    ),
    filters={
        "workflow_name": f.exact(DEFINITIONS.c.workflow_name),
        "version": f.exact(DEFINITIONS.c.version),
        "workflow_type": f.exact(DEFINITIONS.c.workflow_type),
    },
    ordering=(("id", False),),
    unique_together=(("workflow_name", "version"),),
    unique_together_names=(("workflow_name", "version"),),
    event="workflow_definition",
)

WORKFLOW_EXECUTIONS = Resource(
    path="workflow-executions",
    table=EXECUTIONS,
    title="WorkflowExecution",
    verbose="workflow execution",
    lookup="execution_id",
    key_kind="str",
    fields=(
        string("execution_id", 100, required=True),
        _related("workflow_definition", "int"),
        string("namespace", 100, null=True),
        json_field("parameter_values", required=True),
        json_field("performance_metrics", null=True),
        string("status", 50),
        dt("start_time", required=True),
        dt("end_time", null=True),
        string("executed_by", 100, required=True),
    ),
    relations=(Relation("workflow_definition", "workflow_definition_id", DEFINITIONS, "id"),),
    filters={
        "status": f.exact(EXECUTIONS.c.status),
        "namespace": f.exact(EXECUTIONS.c.namespace),
        "executed_by": f.exact(EXECUTIONS.c.executed_by),
        "workflow_name": f.Filter(
            lambda v: EXECUTIONS.c.workflow_definition_id.in_(
                DEFINITIONS.select()
                .with_only_columns(DEFINITIONS.c.id)
                .where(DEFINITIONS.c.workflow_name == v)
            )
        ),
        "workflow_definition": f.integer(EXECUTIONS.c.workflow_definition_id),
    },
    ordering=(("start_time", True),),
    unique=("execution_id",),
    event="workflow_execution",
)

NAMESPACE_RESOURCE = Resource(
    path="namespaces",
    table=NAMESPACES,
    title="Namespace",
    verbose="namespace",
    lookup="name",
    key_kind="str",
    fields=(
        string("name", 100, required=True),
        string("owner", 100, required=True),
        string("description", default="", blank=True),
        _metadata(),
        created(),
        created("updated_at"),
    ),
    filters={"owner": f.exact(NAMESPACES.c.owner)},
    ordering=(("name", False),),
    writable=False,
)

RESOURCES: tuple[Resource, ...] = (
    SYSTEM_AGENTS,
    APP_LOGS,
    RUN_RESOURCE,
    STF_FILES,
    FASTMON_FILES,
    TF_SLICES,
    WORKER_RESOURCE,
    RUN_STATE_RESOURCE,
    SYSTEM_STATE_EVENTS,
    SUBSCRIBER_RESOURCE,
    MESSAGE_DISPATCHES,
    STF_WORKFLOWS,
    WORKFLOW_STAGES,
    WORKFLOW_MESSAGES,
    WORKFLOW_DEFINITIONS,
    WORKFLOW_EXECUTIONS,
    NAMESPACE_RESOURCE,
)
