"""Agents: the heartbeat upsert, the stale-agent rule and liveness (spec §3.8, §3.9.1).

A heartbeat always writes the identity fields (falling back to their defaults, so omitted
values are reset, as the original did), writes four optional fields only when sent, stamps
``last_heartbeat`` with the server clock, and then sweeps stale agents. The upsert is an
insert-or-ignore followed by an update in one unit of work, so concurrent first heartbeats
create one row and exactly one of them reports 201.

The stale sweep also runs every ``stale_sweep_interval`` in one process and, cheaply, before
the agents list is served, so views are right even when nobody sends heartbeats. Liveness
(alive / dead) is what the legacy MCP endpoints and the dashboard report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update

from daqhub.core.db import Database, utcnow
from daqhub.core.outbox import emit
from daqhub.monitor.catalog import AGENTS, SYSTEM_AGENTS
from daqhub.monitor.dialect import insert_ignore
from daqhub.monitor.errors import ValidationFailed
from daqhub.monitor.fields import REQUIRED, Context, Invalid, parse_bool, parse_int

EXITED = "EXITED"

_ALWAYS: dict[str, tuple[Any, int | None]] = {
    "agent_type": ("other", 100),
    "description": ("", None),
    "status": ("OK", 20),
    "agent_url": (None, 200),
    "namespace": (None, 100),
}
"""Written on every heartbeat: (default when omitted, column width)."""
_IF_SENT_TEXT = {"operational_state": 20, "hostname": 100}


def _text(value: Any, width: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid("Not a valid string.")
    text = str(value)
    if width is not None and len(text) > width:
        raise Invalid(f"Ensure this field has no more than {width} characters.")
    return text


def parse_heartbeat(data: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Column values of a heartbeat body; ValidationFailed with field messages otherwise."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    name = data.get("instance_name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise ValidationFailed({"instance_name": [REQUIRED]})
    try:
        values["instance_name"] = _text(name, 100)
    except Invalid as exc:
        errors["instance_name"] = [exc.message]
    for field, (default, width) in _ALWAYS.items():
        raw = data.get(field)
        if raw is None:
            values[field] = default
            continue
        try:
            values[field] = _text(raw, width)
        except Invalid as exc:
            errors[field] = [exc.message]
    for field, width in _IF_SENT_TEXT.items():
        if field in data:
            try:
                values[field] = None if data[field] is None else _text(data[field], width)
            except Invalid as exc:
                errors[field] = [exc.message]
    if "operational_state" in values and values["operational_state"] is None:
        errors["operational_state"] = ["This field may not be null."]
    parsers = {"pid": parse_int(), "workflow_enabled": parse_bool}
    for field, parse in parsers.items():
        if field in data:
            raw = data[field]
            if raw is None and field == "pid":
                values[field] = None
                continue
            try:
                values[field] = parse(raw, ctx)
            except Invalid as exc:
                errors[field] = [exc.message]
    if errors:
        raise ValidationFailed(errors)
    return values


class AgentBook:
    """Heartbeats, sweeps and liveness over the ``swf_systemagent`` table."""

    def __init__(
        self,
        db: Database,
        *,
        stale_after: float,
        alive_within: float,
        view_sweep_interval: float = 5.0,
    ) -> None:
        self._db = db
        self.stale_after = timedelta(seconds=stale_after)
        self.alive_within = timedelta(seconds=alive_within)
        self._view_sweep_interval = view_sweep_interval
        self._last_view_sweep = 0.0
        self._lock = threading.Lock()

    def heartbeat(self, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Upsert by ``instance_name``; the stored agent and whether it was created."""
        now = utcnow()
        row = {**values, "last_heartbeat": now}
        with self._db.write() as session:
            created = insert_ignore(session, AGENTS, row, "instance_name")
            if not created:
                session.execute(
                    update(AGENTS)
                    .where(AGENTS.c.instance_name == values["instance_name"])
                    .values(**row, updated_at=now)
                )
            self._sweep(session, now)
            agent = (
                session.execute(
                    SYSTEM_AGENTS.select().where(AGENTS.c.instance_name == values["instance_name"])
                )
                .mappings()
                .one()
            )
            rendered = SYSTEM_AGENTS.render(agent)
            emit(
                session,
                "monitor.agent.heartbeat",
                {
                    "instance_name": rendered["instance_name"],
                    "status": rendered["status"],
                    "operational_state": rendered["operational_state"],
                    "created": created,
                },
            )
        return rendered, created

    def _sweep(self, session: Any, now: datetime) -> list[str]:
        cutoff = now - self.stale_after
        names = list(
            session.scalars(
                update(AGENTS)
                .where(
                    AGENTS.c.last_heartbeat < cutoff,
                    AGENTS.c.status != EXITED,
                    AGENTS.c.operational_state != EXITED,
                )
                .values(status=EXITED, operational_state=EXITED, updated_at=now)
                .returning(AGENTS.c.instance_name)
            )
        )
        if names:
            emit(session, "monitor.agent.stale", {"instance_names": names})
        return names

    def sweep(self) -> list[str]:
        """Mark agents silent for longer than ``stale_after`` as EXITED; their names."""
        now = utcnow()
        cutoff = now - self.stale_after
        with self._db.read() as session:
            pending = session.scalar(
                select(
                    exists().where(
                        AGENTS.c.last_heartbeat < cutoff,
                        AGENTS.c.status != EXITED,
                        AGENTS.c.operational_state != EXITED,
                    )
                )
            )
        if not pending:
            return []
        with self._db.write() as session:
            return self._sweep(session, now)

    def sweep_before_view(self) -> None:
        """The sweep before serving agent views, at most every few seconds per process."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_view_sweep < self._view_sweep_interval:
                return
            self._last_view_sweep = now
        self.sweep()

    def liveness(self) -> dict[str, str]:
        """``instance_name -> "alive" | "dead"`` for every agent."""
        cutoff = utcnow() - self.alive_within
        with self._db.read() as session:
            rows = session.execute(
                select(AGENTS.c.instance_name, AGENTS.c.last_heartbeat).order_by(AGENTS.c.id)
            ).all()
        return {
            name: "alive" if seen is not None and seen >= cutoff else "dead" for name, seen in rows
        }
