"""Sequence counters and namespaces: the function endpoints agents call at start-up.

The counters (spec §2.16, §3.10) live in the persistent-state document (row 1 of
``swf_persistent_state``), as in the original, so the persistent-state view shows them. One
allocation is one unit of work that reads, increments and writes the document under a row lock
(``SELECT ... FOR UPDATE`` on PostgreSQL; the write transaction's ``BEGIN IMMEDIATE`` on
SQLite), so values are distinct and consecutive across threads, processes and hosts. Allocation
never consults the Run table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update

from daqhub.core.db import Database, isoformat, utcnow
from daqhub.core.outbox import emit
from daqhub.monitor import models as m
from daqhub.monitor.dialect import insert_ignore

STATE: Table = m.PersistentState.__table__  # type: ignore[assignment]
NAMESPACES: Table = m.Namespace.__table__  # type: ignore[assignment]
STATE_ROW = 1


@dataclass(frozen=True)
class Counter:
    name: str
    next_key: str
    last_key: str
    time_key: str
    first: int
    wire: str
    """Key of the value in the endpoint's response."""


RUN_NUMBER = Counter(
    "run_number", "next_run_number", "last_run_number", "last_run_start_time", 100010, "run_number"
)
AGENT_ID = Counter(
    "agent_id", "next_agent_id", "last_agent_id", "last_agent_registration_time", 1, "agent_id"
)
WORKFLOW_EXECUTION_ID = Counter(
    "workflow_execution_id",
    "next_workflow_execution_id",
    "last_workflow_execution_id",
    "last_workflow_execution_time",
    1,
    "sequence",
)


def allocate(db: Database, counter: Counter) -> int:
    """Hand out the counter's next value (strictly increasing, never reused)."""
    with db.write() as session:
        insert_ignore(session, STATE, {"id": STATE_ROW, "state_data": {}}, "id")
        data: dict[str, Any] = dict(
            session.scalar(
                select(STATE.c.state_data).where(STATE.c.id == STATE_ROW).with_for_update()
            )
            or {}
        )
        value = int(data.get(counter.next_key, counter.first))
        now = utcnow()
        data[counter.next_key] = value + 1
        data[counter.last_key] = value
        data[counter.time_key] = isoformat(now)
        session.execute(
            update(STATE).where(STATE.c.id == STATE_ROW).values(state_data=data, updated_at=now)
        )
        emit(session, f"monitor.counter.{counter.name}", {"value": value})
    return value


def state_document(db: Database) -> dict[str, Any]:
    with db.read() as session:
        return dict(session.scalar(select(STATE.c.state_data).where(STATE.c.id == STATE_ROW)) or {})


def ensure_namespace(
    db: Database, name: str, owner: str, description: str
) -> tuple[dict[str, Any], bool]:
    """Create the namespace unless it exists; the stored row (never overwritten) and created."""
    with db.write() as session:
        created = insert_ignore(
            session, NAMESPACES, {"name": name, "owner": owner, "description": description}, "name"
        )
        row = session.execute(
            select(NAMESPACES.c.name, NAMESPACES.c.owner, NAMESPACES.c.description).where(
                NAMESPACES.c.name == name
            )
        ).one()
        if created:
            emit(session, "monitor.namespace.created", {"name": name, "owner": owner})
    return {"name": row.name, "owner": row.owner, "description": row.description}, created
