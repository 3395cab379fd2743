"""Tables and value sets the resource declarations share (spec §2.2), and field helpers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from daqhub.monitor import models as m
from daqhub.monitor.fields import Field, json_field
from daqhub.monitor.resource import pk_relation_parser

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


def pk(name: str) -> Field:
    return Field(name, pk_relation_parser("int"), read_only=True, kind="integer")


def related(name: str, kind: str, *, required: bool = True, null: bool = False) -> Field:
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


def metadata_field() -> Field:
    return json_field("metadata", null=True)
