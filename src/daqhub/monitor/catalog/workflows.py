"""STF workflows, stages, workflow messages, definitions, executions and namespaces
(spec §2.14-2.15)."""

from __future__ import annotations

from typing import Any

from daqhub.monitor import listing as f
from daqhub.monitor import rules
from daqhub.monitor.catalog.tables import (
    DAQ_STATE,
    DAQ_SUBSTATE,
    DEFINITIONS,
    EXECUTIONS,
    MESSAGES,
    NAMESPACES,
    STAGES,
    WORKFLOW_AGENT,
    WORKFLOW_STATUS,
    WORKFLOWS,
    metadata_field,
    pk,
    related,
)
from daqhub.monitor.fields import (
    boolean,
    created,
    dt,
    floating,
    integer,
    json_field,
    string,
    uuid_field,
)
from daqhub.monitor.resource import Relation, Resource

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
        related("workflow", "uuid"),
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
        related("workflow", "uuid", required=False, null=True),
        related("stage", "uuid", required=False, null=True),
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
        pk("id"),
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
        related("workflow_definition", "int"),
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
        metadata_field(),
        created(),
        created("updated_at"),
    ),
    filters={"owner": f.exact(NAMESPACES.c.owner)},
    ordering=(("name", False),),
    writable=False,
)
