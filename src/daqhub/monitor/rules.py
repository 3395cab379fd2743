"""Resource-specific write rules (spec §3.9), run inside the generic write's unit of work.

* TF slices accept two request shapes (current: ``fastmon_file`` names a FastMon file; flat:
  ``tf_filename``/``stf_filename`` strings) and always store both names.
* A FastMon file created after its slices links the unlinked ones; its documented TF range
  invariant is logged, not enforced.
* A run-state POST adopts a row that broker ingest created, instead of failing as a duplicate;
  phase/state/substate changes stamp ``state_changed_at``.
* A workflow stage that completes gets ``processing_time_seconds``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from daqhub.core.db import utcnow
from daqhub.monitor import models as m
from daqhub.monitor.fields import REQUIRED
from daqhub.monitor.resource import WriteContext

log = logging.getLogger("daqhub.monitor")

RUN_STATE_COUNTERS = (
    "active_worker_count",
    "stf_samples_received",
    "slices_created",
    "slices_queued",
    "slices_processing",
    "slices_completed",
    "slices_failed",
)

_FASTMON: Table = m.FastMonFile.__table__  # type: ignore[assignment]
_STF: Table = m.StfFile.__table__  # type: ignore[assignment]
_SLICES: Table = m.TFSlice.__table__  # type: ignore[assignment]
_RUN_STATES: Table = m.RunState.__table__  # type: ignore[assignment]


def check_tf_range(_session: Session, write: WriteContext) -> None:
    first, last = write.current("tf_first"), write.current("tf_last")
    if first is None or last is None:
        return
    if not 0 <= first <= last:
        log.warning(
            "FastMon file %s: tf_first=%s, tf_last=%s break 0 <= tf_first <= tf_last",
            write.current("tf_filename"),
            first,
            last,
        )


def link_slices(session: Session, key: Any, created: bool) -> None:
    """Link slices stored in the flat shape before their FastMon file existed."""
    if not created:
        return
    row = session.execute(
        select(_FASTMON.c.tf_filename, _STF.c.stf_filename)
        .select_from(_FASTMON.join(_STF, _FASTMON.c.stf_file_id == _STF.c.file_id))
        .where(_FASTMON.c.tf_file_id == key)
    ).first()
    if row is None:
        return
    session.execute(
        update(_SLICES)
        .where(_SLICES.c.tf_filename == row.tf_filename, _SLICES.c.fastmon_file_id.is_(None))
        .values(fastmon_file_id=key, stf_filename=row.stf_filename)
    )


def slice_shape(session: Session, write: WriteContext) -> None:
    values, errors = write.values, write.errors
    name = values.pop("fastmon_file", None)
    if name is not None:
        found = session.execute(
            select(_FASTMON.c.tf_file_id, _FASTMON.c.tf_filename, _STF.c.stf_filename)
            .select_from(_FASTMON.join(_STF, _FASTMON.c.stf_file_id == _STF.c.file_id))
            .where(_FASTMON.c.tf_filename == name)
        ).first()
        if found is None:
            errors["fastmon_file"] = [f"Object with tf_filename={name} does not exist."]
            return
        values.update(
            fastmon_file_id=found.tf_file_id,
            tf_filename=found.tf_filename,
            stf_filename=found.stf_filename,
        )
        return
    flat = "tf_filename" in values
    if write.creating and not flat:
        if "tf_filename" not in errors:
            errors["fastmon_file"] = [REQUIRED]
        return
    if flat:
        write.unique_messages[("tf_filename", "slice_id")] = (
            "The fields tf_filename, slice_id must make a unique set."
        )
        linked = session.execute(
            select(_FASTMON.c.tf_file_id, _STF.c.stf_filename)
            .select_from(_FASTMON.join(_STF, _FASTMON.c.stf_file_id == _STF.c.file_id))
            .where(_FASTMON.c.tf_filename == values["tf_filename"])
        ).first()
        if linked is not None:
            values["fastmon_file_id"] = linked.tf_file_id
            if values.get("stf_filename") is None:
                values["stf_filename"] = linked.stf_filename
        elif not write.creating:
            values["fastmon_file_id"] = None


def run_state_write(session: Session, write: WriteContext) -> None:
    values = write.values
    values["ingest_created"] = False
    if write.creating:
        number = values.get("run_number")
        if number is None or "run_number" in write.errors:
            return
        row = (
            session.execute(
                select(_RUN_STATES).where(_RUN_STATES.c.run_number == number).with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None or not row["ingest_created"]:
            return
        # Adopt the row broker ingest created: the request's fields win, counters never shrink.
        for counter in RUN_STATE_COUNTERS:
            if counter in values:
                values[counter] = max(values[counter], row[counter] or 0)
        write.adopt = number
        return
    existing = write.existing or {}
    changed = any(
        k in values and values[k] != existing.get(k) for k in ("phase", "state", "substate")
    )
    if changed and "state_changed_at" not in write.data:
        values["state_changed_at"] = utcnow()


def stage_timing(_session: Session, write: WriteContext) -> None:
    if "processing_time_seconds" in write.data:
        return
    completed, started = write.current("completed_at"), write.current("started_at")
    if "completed_at" in write.values and completed is not None and started is not None:
        write.values["processing_time_seconds"] = (completed - started).total_seconds()
