"""monitor: agents, logs, runs, files, slices, workflows, counters (spec/monitor.md §2)

Revision ID: monitor_0001
Revises: core_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daqhub.core.db import UTCDateTime

revision = "monitor_0001"
down_revision = "core_0001"
branch_labels = ("monitor",)
depends_on = None

JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "swf_applog",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("app_name", sa.String(length=100), nullable=False),
        sa.Column("instance_name", sa.String(length=100), nullable=False),
        sa.Column("timestamp", UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("levelname", sa.String(length=50), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("module", sa.String(length=255), nullable=False),
        sa.Column("funcname", sa.String(length=255), nullable=False),
        sa.Column("lineno", sa.Integer(), nullable=False),
        sa.Column("process", sa.Integer(), nullable=False),
        sa.Column("thread", sa.BigInteger(), nullable=False),
        sa.Column("extra_data", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swf_applog")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_swf_applog_app_inst_ts",
        "swf_applog",
        ["app_name", "instance_name", "timestamp"],
        unique=False,
    )
    op.create_index(op.f("ix_swf_applog_app_name"), "swf_applog", ["app_name"], unique=False)
    op.create_index(
        op.f("ix_swf_applog_instance_name"), "swf_applog", ["instance_name"], unique=False
    )
    op.create_index(op.f("ix_swf_applog_level"), "swf_applog", ["level"], unique=False)
    op.create_index(op.f("ix_swf_applog_timestamp"), "swf_applog", ["timestamp"], unique=False)
    op.create_index(
        "ix_swf_applog_ts_app_inst",
        "swf_applog",
        ["timestamp", "app_name", "instance_name"],
        unique=False,
    )

    op.create_table(
        "swf_namespace",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_swf_namespace")),
    )
    op.create_table(
        "swf_persistent_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state_data", JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swf_persistent_state")),
    )
    op.create_table(
        "swf_run_state",
        sa.Column("run_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("substate", sa.String(length=20), nullable=True),
        sa.Column("target_worker_count", sa.Integer(), nullable=False),
        sa.Column("active_worker_count", sa.Integer(), nullable=False),
        sa.Column("stf_samples_received", sa.Integer(), nullable=False),
        sa.Column("slices_created", sa.Integer(), nullable=False),
        sa.Column("slices_queued", sa.Integer(), nullable=False),
        sa.Column("slices_processing", sa.Integer(), nullable=False),
        sa.Column("slices_completed", sa.Integer(), nullable=False),
        sa.Column("slices_failed", sa.Integer(), nullable=False),
        sa.Column("state_changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("ingest_created", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_number", name=op.f("pk_swf_run_state")),
    )
    op.create_table(
        "swf_runs",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("start_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_conditions", JSON, nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_swf_runs")),
        sa.UniqueConstraint("run_number", name=op.f("uq_swf_runs_run_number")),
    )
    op.create_table(
        "swf_stf_workflows",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=True),
        sa.Column("namespace", sa.String(length=100), nullable=True),
        sa.Column("execution_id", sa.String(length=100), nullable=True),
        sa.Column("run_id", sa.String(length=50), nullable=True),
        sa.Column("daq_state", sa.String(length=20), nullable=False),
        sa.Column("daq_substate", sa.String(length=20), nullable=False),
        sa.Column("generated_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("stf_start_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("stf_end_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("current_status", sa.String(length=30), nullable=False),
        sa.Column("current_agent", sa.String(length=20), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("stf_metadata", JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_swf_stf_workflows")),
        sa.UniqueConstraint("filename", name=op.f("uq_swf_stf_workflows_filename")),
    )
    op.create_index(
        op.f("ix_swf_stf_workflows_execution_id"),
        "swf_stf_workflows",
        ["execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_stf_workflows_generated_time"),
        "swf_stf_workflows",
        ["generated_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_stf_workflows_namespace"), "swf_stf_workflows", ["namespace"], unique=False
    )
    op.create_index(
        op.f("ix_swf_stf_workflows_run_id"), "swf_stf_workflows", ["run_id"], unique=False
    )

    op.create_table(
        "swf_subscribers",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_name", sa.String(length=255), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("delivery_type", sa.String(length=20), nullable=False),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("client_location", sa.String(length=255), nullable=False),
        sa.Column("connected_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("disconnected_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_activity", UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_filters", JSON, nullable=False),
        sa.Column("messages_received", sa.Integer(), nullable=False),
        sa.Column("messages_sent", sa.Integer(), nullable=False),
        sa.Column("messages_dropped", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_swf_subscribers")),
        sa.UniqueConstraint("subscriber_name", name=op.f("uq_swf_subscribers_subscriber_name")),
    )
    op.create_index(
        "ix_swf_subscribers_delivery_active",
        "swf_subscribers",
        ["delivery_type", "is_active"],
        unique=False,
    )

    op.create_table(
        "swf_system_state_events",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", UTCDateTime(timezone=True), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("substate", sa.String(length=20), nullable=True),
        sa.Column("event_data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_swf_system_state_events")),
    )
    op.create_index(
        op.f("ix_swf_system_state_events_run_number"),
        "swf_system_state_events",
        ["run_number"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_system_state_events_timestamp"),
        "swf_system_state_events",
        ["timestamp"],
        unique=False,
    )

    op.create_table(
        "swf_systemagent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_name", sa.String(length=100), nullable=False),
        sa.Column("agent_type", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_heartbeat", UTCDateTime(timezone=True), nullable=True),
        sa.Column("agent_url", sa.String(length=200), nullable=True),
        sa.Column("workflow_enabled", sa.Boolean(), nullable=False),
        sa.Column("current_stf_count", sa.Integer(), nullable=False),
        sa.Column("total_stf_processed", sa.Integer(), nullable=False),
        sa.Column("last_stf_processed", UTCDateTime(timezone=True), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(length=100), nullable=True),
        sa.Column("operational_state", sa.String(length=20), nullable=False),
        sa.Column("namespace", sa.String(length=100), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swf_systemagent")),
        sa.UniqueConstraint("instance_name", name=op.f("uq_swf_systemagent_instance_name")),
    )
    op.create_index(
        op.f("ix_swf_systemagent_last_heartbeat"),
        "swf_systemagent",
        ["last_heartbeat"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_systemagent_namespace"), "swf_systemagent", ["namespace"], unique=False
    )

    op.create_table(
        "swf_workers",
        sa.Column("worker_id", sa.String(length=255), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("panda_job", sa.String(length=255), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_slice_id", sa.Integer(), nullable=True),
        sa.Column("tf_filename", sa.String(length=255), nullable=True),
        sa.Column("slices_completed", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_swf_workers")),
    )
    op.create_index(op.f("ix_swf_workers_run_number"), "swf_workers", ["run_number"], unique=False)

    op.create_table(
        "swf_workflow_definitions",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("workflow_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("workflow_type", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("parameter_values", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swf_workflow_definitions")),
        sa.UniqueConstraint(
            "workflow_name", "version", name=op.f("uq_swf_workflow_definitions_workflow_name")
        ),
    )
    op.create_table(
        "swf_agent_workflow_stages",
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("agent_name", sa.String(length=100), nullable=False),
        sa.Column("agent_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("processing_time_seconds", sa.Float(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("input_message", JSON, nullable=True),
        sa.Column("output_message", JSON, nullable=True),
        sa.Column("stage_metadata", JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["swf_stf_workflows.workflow_id"],
            name=op.f("fk_swf_agent_workflow_stages_workflow_id_swf_stf_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stage_id", name=op.f("pk_swf_agent_workflow_stages")),
        sa.UniqueConstraint(
            "workflow_id",
            "agent_name",
            "agent_type",
            name=op.f("uq_swf_agent_workflow_stages_workflow_id"),
        ),
    )
    op.create_index(
        op.f("ix_swf_agent_workflow_stages_workflow_id"),
        "swf_agent_workflow_stages",
        ["workflow_id"],
        unique=False,
    )

    op.create_table(
        "swf_stf_files",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("machine_state", sa.String(length=64), nullable=False),
        sa.Column("stf_filename", sa.String(length=255), nullable=False),
        sa.Column("file_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("workflow_id", sa.Uuid(), nullable=True),
        sa.Column("daq_state", sa.String(length=20), nullable=True),
        sa.Column("daq_substate", sa.String(length=20), nullable=True),
        sa.Column("workflow_status", sa.String(length=30), nullable=True),
        sa.Column("tf_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["swf_runs.run_id"],
            name=op.f("fk_swf_stf_files_run_id_swf_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_swf_stf_files")),
        sa.UniqueConstraint("stf_filename", name=op.f("uq_swf_stf_files_stf_filename")),
    )
    op.create_index(op.f("ix_swf_stf_files_run_id"), "swf_stf_files", ["run_id"], unique=False)
    op.create_index(op.f("ix_swf_stf_files_status"), "swf_stf_files", ["status"], unique=False)
    op.create_index(
        op.f("ix_swf_stf_files_workflow_id"), "swf_stf_files", ["workflow_id"], unique=False
    )

    op.create_table(
        "swf_workflow_executions",
        sa.Column("execution_id", sa.String(length=100), nullable=False),
        sa.Column("workflow_definition_id", BIGID, nullable=False),
        sa.Column("namespace", sa.String(length=100), nullable=True),
        sa.Column("parameter_values", JSON, nullable=False),
        sa.Column("performance_metrics", JSON, nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("start_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_time", UTCDateTime(timezone=True), nullable=True),
        sa.Column("executed_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_definition_id"],
            ["swf_workflow_definitions.id"],
            name=op.f("fk_swf_workflow_executions_workflow_definition_id_swf_workflow_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_swf_workflow_executions")),
    )
    op.create_index(
        op.f("ix_swf_workflow_executions_namespace"),
        "swf_workflow_executions",
        ["namespace"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_executions_start_time"),
        "swf_workflow_executions",
        ["start_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_executions_status"),
        "swf_workflow_executions",
        ["status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_executions_workflow_definition_id"),
        "swf_workflow_executions",
        ["workflow_definition_id"],
        unique=False,
    )

    op.create_table(
        "swf_fastmon_files",
        sa.Column("tf_file_id", sa.Uuid(), nullable=False),
        sa.Column("stf_file_id", sa.Uuid(), nullable=False),
        sa.Column("tf_filename", sa.String(length=255), nullable=False),
        sa.Column("file_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("tf_count", sa.Integer(), nullable=True),
        sa.Column("tf_first", sa.Integer(), nullable=True),
        sa.Column("tf_last", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["stf_file_id"],
            ["swf_stf_files.file_id"],
            name=op.f("fk_swf_fastmon_files_stf_file_id_swf_stf_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tf_file_id", name=op.f("pk_swf_fastmon_files")),
        sa.UniqueConstraint("tf_filename", name=op.f("uq_swf_fastmon_files_tf_filename")),
    )
    op.create_index(
        op.f("ix_swf_fastmon_files_status"), "swf_fastmon_files", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_swf_fastmon_files_stf_file_id"), "swf_fastmon_files", ["stf_file_id"], unique=False
    )

    op.create_table(
        "swf_message_queue_dispatches",
        sa.Column("dispatch_id", sa.Uuid(), nullable=False),
        sa.Column("stf_file_id", sa.Uuid(), nullable=False),
        sa.Column("dispatch_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_content", JSON, nullable=True),
        sa.Column("is_successful", sa.Boolean(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.Uuid(), nullable=True),
        sa.Column("message_type", sa.String(length=50), nullable=True),
        sa.Column("sender_agent", sa.String(length=100), nullable=True),
        sa.Column("recipient_agent", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["stf_file_id"],
            ["swf_stf_files.file_id"],
            name=op.f("fk_swf_message_queue_dispatches_stf_file_id_swf_stf_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dispatch_id", name=op.f("pk_swf_message_queue_dispatches")),
    )
    op.create_index(
        op.f("ix_swf_message_queue_dispatches_stf_file_id"),
        "swf_message_queue_dispatches",
        ["stf_file_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_message_queue_dispatches_workflow_id"),
        "swf_message_queue_dispatches",
        ["workflow_id"],
        unique=False,
    )

    op.create_table(
        "swf_workflow_messages",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=True),
        sa.Column("stage_id", sa.Uuid(), nullable=True),
        sa.Column("message_type", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("sender_agent", sa.String(length=100), nullable=True),
        sa.Column("recipient_agent", sa.String(length=100), nullable=True),
        sa.Column("sender_type", sa.String(length=20), nullable=True),
        sa.Column("recipient_type", sa.String(length=20), nullable=True),
        sa.Column("namespace", sa.String(length=100), nullable=True),
        sa.Column("execution_id", sa.String(length=100), nullable=True),
        sa.Column("run_id", sa.String(length=50), nullable=True),
        sa.Column("message_content", JSON, nullable=False),
        sa.Column("message_metadata", JSON, nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("is_successful", sa.Boolean(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("queue_name", sa.String(length=100), nullable=True),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("stream_seq", sa.BigInteger(), nullable=True),
        sa.Column("broker_message_id", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["swf_agent_workflow_stages.stage_id"],
            name=op.f("fk_swf_workflow_messages_stage_id_swf_agent_workflow_stages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["swf_stf_workflows.workflow_id"],
            name=op.f("fk_swf_workflow_messages_workflow_id_swf_stf_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_swf_workflow_messages")),
        sa.UniqueConstraint(
            "broker_message_id", name=op.f("uq_swf_workflow_messages_broker_message_id")
        ),
        sa.UniqueConstraint("stream_seq", name=op.f("uq_swf_workflow_messages_stream_seq")),
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_execution_id"),
        "swf_workflow_messages",
        ["execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_message_type"),
        "swf_workflow_messages",
        ["message_type"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_namespace"),
        "swf_workflow_messages",
        ["namespace"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_run_id"), "swf_workflow_messages", ["run_id"], unique=False
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_sender_agent"),
        "swf_workflow_messages",
        ["sender_agent"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_sent_at"), "swf_workflow_messages", ["sent_at"], unique=False
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_stage_id"),
        "swf_workflow_messages",
        ["stage_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_swf_workflow_messages_workflow_id"),
        "swf_workflow_messages",
        ["workflow_id"],
        unique=False,
    )

    op.create_table(
        "swf_tf_slices",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("fastmon_file_id", sa.Uuid(), nullable=True),
        sa.Column("tf_filename", sa.String(length=255), nullable=False),
        sa.Column("stf_filename", sa.String(length=255), nullable=True),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("tf_first", sa.Integer(), nullable=False),
        sa.Column("tf_last", sa.Integer(), nullable=False),
        sa.Column("tf_count", sa.Integer(), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("assigned_worker", sa.String(length=255), nullable=True),
        sa.Column("assigned_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fastmon_file_id"],
            ["swf_fastmon_files.tf_file_id"],
            name=op.f("fk_swf_tf_slices_fastmon_file_id_swf_fastmon_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swf_tf_slices")),
        sa.UniqueConstraint("tf_filename", "slice_id", name=op.f("uq_swf_tf_slices_tf_filename")),
    )
    op.create_index(
        op.f("ix_swf_tf_slices_fastmon_file_id"), "swf_tf_slices", ["fastmon_file_id"], unique=False
    )
    op.create_index(
        op.f("ix_swf_tf_slices_run_number"), "swf_tf_slices", ["run_number"], unique=False
    )
    op.create_index(op.f("ix_swf_tf_slices_status"), "swf_tf_slices", ["status"], unique=False)
    op.create_index(
        op.f("ix_swf_tf_slices_stf_filename"), "swf_tf_slices", ["stf_filename"], unique=False
    )
    op.create_index(
        op.f("ix_swf_tf_slices_tf_filename"), "swf_tf_slices", ["tf_filename"], unique=False
    )


def downgrade() -> None:
    op.drop_table("swf_tf_slices")
    op.drop_table("swf_workflow_messages")
    op.drop_table("swf_message_queue_dispatches")
    op.drop_table("swf_fastmon_files")
    op.drop_table("swf_workflow_executions")
    op.drop_table("swf_stf_files")
    op.drop_table("swf_agent_workflow_stages")
    op.drop_table("swf_workflow_definitions")
    op.drop_table("swf_workers")
    op.drop_table("swf_systemagent")
    op.drop_table("swf_system_state_events")
    op.drop_table("swf_subscribers")
    op.drop_table("swf_stf_workflows")
    op.drop_table("swf_runs")
    op.drop_table("swf_run_state")
    op.drop_table("swf_persistent_state")
    op.drop_table("swf_namespace")
    op.drop_table("swf_applog")
