"""Agents, logs, runs, files, slices, workers, run states, state events, subscribers and
message dispatches (spec §2.3-2.13)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, case

from daqhub.monitor import listing as f
from daqhub.monitor import rules
from daqhub.monitor.catalog.tables import (
    AGENT_STATUS,
    AGENT_TYPES,
    AGENTS,
    DELIVERY_TYPE,
    DISPATCHES,
    EVENTS,
    FASTMON,
    FILE_STATUS,
    LOG_LEVELS,
    LOGS,
    OPERATIONAL_STATE,
    RUN_STATES,
    RUNS,
    SLICES,
    STF,
    SUBSCRIBERS,
    WORKERS,
    metadata_field,
    pk,
    related,
)
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
from daqhub.monitor.resource import Relation, Resource

SYSTEM_AGENTS = Resource(
    path="systemagents",
    table=AGENTS,
    title="SystemAgent",
    verbose="system agent",
    lookup="id",
    fields=(
        pk("id"),
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
        metadata_field(),
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
    pk("id"),
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
        pk("run_id"),
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
        related("run", "int"),
        string("machine_state", 64, default="physics", blank=False),
        string("stf_filename", 255, required=True),
        integer("file_size_bytes", null=True, big=True),
        string("checksum", 64, null=True),
        created(),
        string("status", 20, choices=FILE_STATUS),
        metadata_field(),
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
        metadata_field(),
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
        pk("id"),
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
        metadata_field(),
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
        metadata_field(),
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
        metadata_field(),
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
        pk("event_id"),
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
        pk("subscriber_id"),
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
        related("stf_file", "uuid"),
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
