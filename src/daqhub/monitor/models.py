"""Tables of the workflow monitor, under the original swf-monitor table names (spec §2).

Operators migrate from the original by table copy, so names, column names (Django's ``<fk>_id``)
and widths follow it; deliberate widenings are noted. The API reads and writes these tables
with SQLAlchemy Core statements (see :mod:`daqhub.monitor.resources`); the ORM classes exist
for the schema and for readable domain code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from daqhub.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


def _created() -> Any:
    return mapped_column(UTCDateTime, default=utcnow)


def _updated() -> Any:
    return mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SystemAgent(Base):
    __tablename__ = "swf_systemagent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_name: Mapped[str] = mapped_column(String(100), unique=True)
    agent_type: Mapped[str] = mapped_column(String(100))  # widened from 20
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="UNKNOWN")  # widened from 10
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    agent_url: Mapped[str | None] = mapped_column(String(200))
    workflow_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    current_stf_count: Mapped[int] = mapped_column(Integer, default=0)
    total_stf_processed: Mapped[int] = mapped_column(Integer, default=0)
    last_stf_processed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(100))
    operational_state: Mapped[str] = mapped_column(String(20), default="STARTING")
    namespace: Mapped[str | None] = mapped_column(String(100), index=True)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class AppLog(Base):
    __tablename__ = "swf_applog"
    __table_args__ = (
        Index("ix_swf_applog_ts_app_inst", "timestamp", "app_name", "instance_name"),
        Index("ix_swf_applog_app_inst_ts", "app_name", "instance_name", "timestamp"),
        {"sqlite_autoincrement": True},  # ids never reused after retention (log tailing)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    app_name: Mapped[str] = mapped_column(String(100), index=True)
    instance_name: Mapped[str] = mapped_column(String(100), index=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    level: Mapped[int] = mapped_column(Integer, default=0, index=True)
    levelname: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    module: Mapped[str] = mapped_column(String(255))
    funcname: Mapped[str] = mapped_column(String(255))
    lineno: Mapped[int] = mapped_column(Integer)
    process: Mapped[int] = mapped_column(Integer)
    thread: Mapped[int] = mapped_column(BigInteger)
    extra_data: Mapped[Any] = mapped_column(JSONType, nullable=True)


class Run(Base):
    __tablename__ = "swf_runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_number: Mapped[int] = mapped_column(Integer, unique=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_conditions: Mapped[Any] = mapped_column(JSONType, nullable=True)


class StfFile(Base):
    __tablename__ = "swf_stf_files"

    file_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("swf_runs.run_id", ondelete="CASCADE"), index=True
    )
    machine_state: Mapped[str] = mapped_column(String(64), default="physics")
    stf_filename: Mapped[str] = mapped_column(String(255), unique=True)
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    status: Mapped[str] = mapped_column(String(20), default="registered", index=True)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    daq_state: Mapped[str | None] = mapped_column(String(20))
    daq_substate: Mapped[str | None] = mapped_column(String(20))
    workflow_status: Mapped[str | None] = mapped_column(String(30))
    tf_count: Mapped[int | None] = mapped_column(Integer)


class FastMonFile(Base):
    __tablename__ = "swf_fastmon_files"

    tf_file_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    stf_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("swf_stf_files.file_id", ondelete="CASCADE"), index=True
    )
    tf_filename: Mapped[str] = mapped_column(String(255), unique=True)
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="registered", index=True)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    tf_count: Mapped[int | None] = mapped_column(Integer)
    tf_first: Mapped[int | None] = mapped_column(Integer)
    tf_last: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class TFSlice(Base):
    __tablename__ = "swf_tf_slices"
    __table_args__ = (UniqueConstraint("tf_filename", "slice_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    fastmon_file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("swf_fastmon_files.tf_file_id", ondelete="CASCADE"), index=True
    )
    tf_filename: Mapped[str] = mapped_column(String(255), index=True)
    stf_filename: Mapped[str | None] = mapped_column(String(255), index=True)
    slice_id: Mapped[int] = mapped_column(Integer)
    tf_first: Mapped[int] = mapped_column(Integer)
    tf_last: Mapped[int] = mapped_column(Integer)
    tf_count: Mapped[int] = mapped_column(Integer)
    run_number: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    assigned_worker: Mapped[str | None] = mapped_column(String(255))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Worker(Base):
    __tablename__ = "swf_workers"

    worker_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_number: Mapped[int] = mapped_column(Integer, index=True)
    panda_job: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20))
    current_slice_id: Mapped[int | None] = mapped_column(Integer)
    tf_filename: Mapped[str | None] = mapped_column(String(255))
    slices_completed: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)


class RunState(Base):
    __tablename__ = "swf_run_state"

    run_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    phase: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    substate: Mapped[str | None] = mapped_column(String(20))
    target_worker_count: Mapped[int] = mapped_column(Integer)
    active_worker_count: Mapped[int] = mapped_column(Integer, default=0)
    stf_samples_received: Mapped[int] = mapped_column(Integer, default=0)
    slices_created: Mapped[int] = mapped_column(Integer, default=0)
    slices_queued: Mapped[int] = mapped_column(Integer, default=0)
    slices_processing: Mapped[int] = mapped_column(Integer, default=0)
    slices_completed: Mapped[int] = mapped_column(Integer, default=0)
    slices_failed: Mapped[int] = mapped_column(Integer, default=0)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = _updated()
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    ingest_created: Mapped[bool] = mapped_column(Boolean, default=False)
    """Created by broker ingest and not yet written through REST (spec §3.9.6)."""


class SystemStateEvent(Base):
    __tablename__ = "swf_system_state_events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    run_number: Mapped[int] = mapped_column(Integer, index=True)
    event_type: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    substate: Mapped[str | None] = mapped_column(String(20))
    event_data: Mapped[Any] = mapped_column(JSONType)


class Subscriber(Base):
    __tablename__ = "swf_subscribers"
    __table_args__ = (Index("ix_swf_subscribers_delivery_active", "delivery_type", "is_active"),)

    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_name: Mapped[str] = mapped_column(String(255), unique=True)
    fraction: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    delivery_type: Mapped[str] = mapped_column(String(20), default="activemq")
    client_ip: Mapped[str | None] = mapped_column(String(45))
    client_location: Mapped[str] = mapped_column(String(255), default="")
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_filters: Mapped[Any] = mapped_column(JSONType, default=dict)
    messages_received: Mapped[int] = mapped_column(Integer, default=0)
    messages_sent: Mapped[int] = mapped_column(Integer, default=0)
    messages_dropped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MessageQueueDispatch(Base):
    __tablename__ = "swf_message_queue_dispatches"

    dispatch_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    stf_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("swf_stf_files.file_id", ondelete="CASCADE"), index=True
    )
    dispatch_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_content: Mapped[Any] = mapped_column(JSONType, nullable=True)
    is_successful: Mapped[bool | None] = mapped_column(Boolean)
    error_message: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    message_type: Mapped[str | None] = mapped_column(String(50))
    sender_agent: Mapped[str | None] = mapped_column(String(100))
    recipient_agent: Mapped[str | None] = mapped_column(String(100))


class STFWorkflow(Base):
    __tablename__ = "swf_stf_workflows"

    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    file_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    namespace: Mapped[str | None] = mapped_column(String(100), index=True)
    execution_id: Mapped[str | None] = mapped_column(String(100), index=True)
    run_id: Mapped[str | None] = mapped_column(String(50), index=True)
    daq_state: Mapped[str] = mapped_column(String(20))
    daq_substate: Mapped[str] = mapped_column(String(20))
    generated_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    stf_start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    stf_end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    current_status: Mapped[str] = mapped_column(String(30), default="generated")
    current_agent: Mapped[str] = mapped_column(String(20), default="daqsim")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stf_metadata: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class AgentWorkflowStage(Base):
    __tablename__ = "swf_agent_workflow_stages"
    __table_args__ = (UniqueConstraint("workflow_id", "agent_name", "agent_type"),)

    stage_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("swf_stf_workflows.workflow_id", ondelete="CASCADE"), index=True
    )
    agent_name: Mapped[str] = mapped_column(String(100))
    agent_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), default="generated")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processing_time_seconds: Mapped[float | None] = mapped_column(Float)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    input_message: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output_message: Mapped[Any] = mapped_column(JSONType, nullable=True)
    stage_metadata: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WorkflowMessage(Base):
    __tablename__ = "swf_workflow_messages"

    message_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("swf_stf_workflows.workflow_id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("swf_agent_workflow_stages.stage_id", ondelete="CASCADE"), index=True
    )
    message_type: Mapped[str] = mapped_column(String(50), index=True)
    request_id: Mapped[int | None] = mapped_column(Integer)
    sender_agent: Mapped[str | None] = mapped_column(String(100), index=True)
    recipient_agent: Mapped[str | None] = mapped_column(String(100))
    sender_type: Mapped[str | None] = mapped_column(String(20))
    recipient_type: Mapped[str | None] = mapped_column(String(20))
    namespace: Mapped[str | None] = mapped_column(String(100), index=True)
    execution_id: Mapped[str | None] = mapped_column(String(100), index=True)
    run_id: Mapped[str | None] = mapped_column(String(50), index=True)
    message_content: Mapped[Any] = mapped_column(JSONType)
    message_metadata: Mapped[Any] = mapped_column(JSONType, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_successful: Mapped[bool | None] = mapped_column(Boolean)
    error_message: Mapped[str | None] = mapped_column(Text)
    queue_name: Mapped[str | None] = mapped_column(String(100))
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    stream_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    broker_message_id: Mapped[str | None] = mapped_column(String(255), unique=True)


class WorkflowDefinition(Base):
    __tablename__ = "swf_workflow_definitions"
    __table_args__ = (UniqueConstraint("workflow_name", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    workflow_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    workflow_type: Mapped[str] = mapped_column(String(100))
    definition: Mapped[str] = mapped_column(Text)
    parameter_values: Mapped[Any] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WorkflowExecution(Base):
    __tablename__ = "swf_workflow_executions"

    execution_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    workflow_definition_id: Mapped[int] = mapped_column(
        ForeignKey("swf_workflow_definitions.id", ondelete="CASCADE"), index=True
    )
    namespace: Mapped[str | None] = mapped_column(String(100), index=True)
    parameter_values: Mapped[Any] = mapped_column(JSONType)
    performance_metrics: Mapped[Any] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(50), default="pending", index=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    executed_by: Mapped[str] = mapped_column(String(100))


class Namespace(Base):
    __tablename__ = "swf_namespace"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[Any] = mapped_column("metadata", JSONType, nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class PersistentState(Base):
    """One JSON document (row 1) holding the sequence counters (spec §2.16)."""

    __tablename__ = "swf_persistent_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state_data: Mapped[Any] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = _updated()
