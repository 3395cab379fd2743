"""The metadata index: writing upload rows, and the queries behind the daqhub API and web page.

Publishing a valid file and recording it happen in one unit of work, under a per-name lock
(:func:`lock_name`), so that concurrent uploads of the same name, replicas and the directory
scan agree on which row is ``stored``: the rename into the data folder happens inside the
transaction that inserts the row, marks the previous row ``superseded`` and emits the events.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, select, text, update
from sqlalchemy.orm import Session

from daqhub.core.db import isoformat, utcnow
from daqhub.core.outbox import emit
from daqhub.receiver.errors import BadQuery
from daqhub.receiver.models import STATES, ReceiverUpload
from daqhub.receiver.naming import EPOCH, zurich_time

SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]

LOCK_NAMES = 0x0DA9_0C
LOCK_SCAN = 0x0DA9_0D
VALID_STATES = ("stored", "superseded", "consumed")
MAX_LIMIT = 1000


def lock_name(session: Session, filename: str) -> None:
    """Serialise publishers of one name (and the scan) across processes and replicas.

    SQLite write units already run one at a time (``BEGIN IMMEDIATE``). On PostgreSQL a
    transaction-scoped advisory lock per name, plus a shared lock the scan takes exclusively.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = zlib.crc32(filename.encode()) & 0x7FFF_FFFF
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:a, 0)"), {"a": LOCK_SCAN})
    session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK_NAMES, "b": key})


def lock_scan(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:a, 0)"), {"a": LOCK_SCAN})


def event_data(row: ReceiverUpload) -> dict[str, Any]:
    return {
        "upload_id": row.upload_id,
        "filename": row.filename,
        "agent": row.agent,
        "run": row.run,
        "timestamp": row.timestamp,
        "data_status": row.data_status,
        "size": row.size,
        "sha256": row.sha256,
        "objects": row.objects,
        "supersedes": row.supersedes,
        "token_name": row.token_name,
    }


def supersede_previous(session: Session, row: ReceiverUpload) -> str | None:
    """Mark earlier ``stored`` rows of ``row.filename`` superseded; the latest one's id."""
    previous = session.scalars(
        select(ReceiverUpload)
        .where(
            ReceiverUpload.filename == row.filename,
            ReceiverUpload.state == "stored",
            ReceiverUpload.upload_id != row.upload_id,
        )
        .order_by(ReceiverUpload.id)
    ).all()
    now = utcnow()
    for old in previous:
        old.state = "superseded"
        old.state_changed_at = now
        emit(
            session,
            "receiver.file.superseded",
            {**event_data(old), "superseded_by": row.upload_id},
        )
    return previous[-1].upload_id if previous else None


def to_record(row: ReceiverUpload, *, contents: bool = True) -> dict[str, Any]:
    """The wire form of an index row (spec §4.1; timestamps per DESIGN shared contract 10)."""
    try:
        time_utc = isoformat(EPOCH + timedelta(seconds=row.timestamp))
        time_local = zurich_time(row.timestamp).isoformat()
    except (OverflowError, ValueError):
        time_utc = time_local = None
    record: dict[str, Any] = {
        "upload_id": row.upload_id,
        "filename": row.filename,
        "agent": row.agent,
        "agent_raw": row.agent_raw,
        "run": row.run,
        "timestamp": row.timestamp,
        "time_utc": time_utc,
        "time_local": time_local,
        "data_status": row.data_status,
        "received_at": isoformat(row.received_at),
        "size": row.size,
        "sha256": row.sha256,
        "state": row.state,
        "objects": row.objects,
        "token_name": row.token_name,
        "client": row.client,
        "supersedes": row.supersedes,
        "processing_compatible": row.processing_compatible,
        "origin": row.origin,
        "reason": row.reason,
        "integrity_ok": row.integrity_ok,
        "verified_at": isoformat(row.verified_at),
    }
    if contents:
        record["contents"] = row.contents
    return record


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadFilter:
    run: int | None = None
    agent: str | None = None
    state: str | None = None
    data_status: int | None = None
    start: float | None = None
    end: float | None = None
    time_field: str = "timestamp"

    def apply(self, query: SelectT) -> SelectT:
        if self.run is not None:
            query = query.where(ReceiverUpload.run == self.run)
        if self.agent is not None:
            query = query.where(ReceiverUpload.agent == self.agent)
        if self.state is not None:
            if self.state not in STATES:
                raise BadQuery(f"state must be one of {', '.join(STATES)}")
            query = query.where(ReceiverUpload.state == self.state)
        if self.data_status is not None:
            query = query.where(ReceiverUpload.data_status == self.data_status)
        if self.time_field == "received":
            if self.start is not None:
                query = query.where(ReceiverUpload.received_at >= _utc(self.start))
            if self.end is not None:
                query = query.where(ReceiverUpload.received_at <= _utc(self.end))
        else:
            if self.start is not None:
                query = query.where(ReceiverUpload.timestamp >= int(self.start))
            if self.end is not None:
                query = query.where(ReceiverUpload.timestamp <= int(self.end))
        return query


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("id:"):
            raise ValueError(raw)
        return int(raw[3:])
    except ValueError:
        raise BadQuery("invalid cursor") from None


def list_uploads(
    session: Session, flt: UploadFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = flt.apply(select(ReceiverUpload))
    if cursor:
        query = query.where(ReceiverUpload.id < decode_cursor(cursor))
    rows = session.scalars(query.order_by(ReceiverUpload.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit and page else None
    return [to_record(row, contents=False) for row in page], next_cursor


def get_upload(session: Session, upload_id: str) -> ReceiverUpload | None:
    return session.scalar(select(ReceiverUpload).where(ReceiverUpload.upload_id == upload_id))


def stored_row_for(session: Session, filename: str, inode: int) -> ReceiverUpload | None:
    return session.scalar(
        select(ReceiverUpload)
        .where(
            ReceiverUpload.filename == filename,
            ReceiverUpload.state == "stored",
            ReceiverUpload.inode == inode,
        )
        .order_by(ReceiverUpload.id.desc())
        .limit(1)
    )


def runs_summary(
    session: Session,
    *,
    start: float | None,
    end: float | None,
    agent: str | None,
    limit: int,
    live_after: datetime,
) -> list[dict[str, Any]]:
    """Per run: agents with file counts, first/last timestamp, latest data status, bytes."""
    flt = UploadFilter(agent=agent, start=start, end=end)
    valid = ReceiverUpload.state.in_(VALID_STATES)
    run_query = flt.apply(
        select(ReceiverUpload.run).where(valid).group_by(ReceiverUpload.run)
    ).order_by(ReceiverUpload.run.desc())
    runs = [r for (r,) in session.execute(run_query.limit(limit)).all()]
    if not runs:
        return []
    grouped = flt.apply(
        select(
            ReceiverUpload.run,
            ReceiverUpload.agent,
            func.count(),
            func.min(ReceiverUpload.timestamp),
            func.max(ReceiverUpload.timestamp),
            func.sum(ReceiverUpload.size),
            func.max(ReceiverUpload.id),
            func.max(ReceiverUpload.received_at),
        )
        .where(valid, ReceiverUpload.run.in_(runs))
        .group_by(ReceiverUpload.run, ReceiverUpload.agent)
    )
    stats = session.execute(grouped).all()
    latest_ids = [row[6] for row in stats]
    statuses = dict(
        session.execute(
            select(ReceiverUpload.id, ReceiverUpload.data_status).where(
                ReceiverUpload.id.in_(latest_ids)
            )
        ).all()
    )
    invalid = dict(
        session.execute(
            select(ReceiverUpload.run, func.count())
            .where(ReceiverUpload.run.in_(runs), ReceiverUpload.state.in_(("invalid", "purged")))
            .group_by(ReceiverUpload.run)
        ).all()
    )
    by_run: dict[int, dict[str, Any]] = {}
    for run, agent_name, count, first, last, size, latest_id, last_received in stats:
        entry = by_run.setdefault(
            run,
            {
                "run": run,
                "agents": {},
                "files": 0,
                "first_timestamp": first,
                "last_timestamp": last,
                "bytes": 0,
                "last_received_at": last_received,
                "invalid": int(invalid.get(run, 0)),
            },
        )
        entry["agents"][agent_name] = {
            "files": int(count),
            "first_timestamp": first,
            "last_timestamp": last,
            "latest_data_status": statuses.get(latest_id),
            "bytes": int(size or 0),
        }
        entry["files"] += int(count)
        entry["bytes"] += int(size or 0)
        entry["first_timestamp"] = min(entry["first_timestamp"], first)
        entry["last_timestamp"] = max(entry["last_timestamp"], last)
        entry["last_received_at"] = max(entry["last_received_at"], last_received)
    result = []
    for run in runs:
        entry = by_run[run]
        entry["live"] = entry["last_received_at"] >= live_after
        entry["last_received_at"] = isoformat(entry["last_received_at"])
        result.append(entry)
    return result


def run_files(session: Session, run: int | None, flt: UploadFilter) -> list[ReceiverUpload]:
    query = flt.apply(select(ReceiverUpload).where(ReceiverUpload.run == run))
    return list(session.scalars(query.order_by(ReceiverUpload.timestamp, ReceiverUpload.id)).all())


def run_detail(session: Session, run: int | None, flt: UploadFilter) -> dict[str, Any] | None:
    rows = run_files(session, run, flt)
    if not rows:
        return None
    agents: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        agents.setdefault(row.agent, []).append(to_record(row))
    return {"run": run, "agents": agents}


# -- state changes made by background work ----------------------------------------------------


def mark(
    session: Session, rows: Iterable[ReceiverUpload], state: str, event: str | None = None
) -> int:
    now = utcnow()
    count = 0
    for row in rows:
        row.state = state
        row.state_changed_at = now
        if event is not None:
            emit(session, event, event_data(row))
        count += 1
    return count


def stored_rows(session: Session) -> list[ReceiverUpload]:
    return list(session.scalars(select(ReceiverUpload).where(ReceiverUpload.state == "stored")))


def quarantined_names(session: Session) -> set[str]:
    return set(
        session.scalars(
            select(ReceiverUpload.stored_name).where(ReceiverUpload.state == "invalid")
        ).all()
    )


def expired_invalid(session: Session, before: datetime, limit: int = 1000) -> list[ReceiverUpload]:
    return list(
        session.scalars(
            select(ReceiverUpload)
            .where(ReceiverUpload.state == "invalid", ReceiverUpload.received_at < before)
            .limit(limit)
        )
    )


def rows_to_scrub(
    session: Session, *, unhashed_only: bool = False, limit: int = 200
) -> list[ReceiverUpload]:
    """Stored rows, never-hashed and never-verified first, then the longest unverified."""
    query = select(ReceiverUpload).where(ReceiverUpload.state == "stored")
    if unhashed_only:
        query = query.where(ReceiverUpload.sha256.is_(None))
    return list(
        session.scalars(
            query.order_by(
                ReceiverUpload.sha256.is_not(None),
                ReceiverUpload.verified_at.is_not(None),
                ReceiverUpload.verified_at,
                ReceiverUpload.id,
            ).limit(limit)
        )
    )


def set_verified(session: Session, row_id: int, **values: Any) -> None:
    session.execute(
        update(ReceiverUpload)
        .where(and_(ReceiverUpload.id == row_id, ReceiverUpload.state == "stored"))
        .values(**values)
    )
