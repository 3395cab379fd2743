"""The last step of an upload: put the staged payload in its final place and record it, in one
unit of work (spec §2.6.6, §3.4, §3.5, §4.1, §4.4).

Valid payloads are renamed over ``<data_dir>/<filename>`` (atomic replacement, directory fsync)
inside the transaction that inserts the ``stored`` row, supersedes the previous one and emits
``receiver.file.received``; invalid ones go to the quarantine with an ``invalid`` row and
``receiver.file.rejected``. The caller answers only after this returns, so an acknowledged
upload is durable on disk and in the index. If the process dies between the rename and the
commit, the file is complete and the directory scan later indexes it as pre-existing.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daqhub.core.db import Database, utcnow
from daqhub.core.files import AtomicWriter
from daqhub.core.outbox import emit
from daqhub.receiver import index
from daqhub.receiver.models import ReceiverUpload
from daqhub.receiver.naming import UploadMeta, processing_compatible
from daqhub.receiver.storage import Storage

log = logging.getLogger("daqhub.receiver")


@dataclass(frozen=True)
class Origin:
    """Who sent an upload (recorded by name and address, never the token itself)."""

    upload_id: str
    token_name: str | None
    client: str | None


def _row(
    meta: UploadMeta,
    origin: Origin,
    *,
    size: int,
    sha256: str,
    state: str,
    stored_name: str,
    subsystems: list[str],
) -> ReceiverUpload:
    now = utcnow()
    return ReceiverUpload(
        upload_id=origin.upload_id,
        filename=meta.filename,
        agent=meta.agent,
        agent_raw=meta.agent_raw,
        run=meta.run,
        timestamp=meta.timestamp,
        data_status=meta.data_status,
        received_at=now,
        state_changed_at=now,
        size=size,
        sha256=sha256,
        state=state,
        token_name=origin.token_name,
        client=(origin.client or "")[:64] or None,
        processing_compatible=processing_compatible(meta.agent, subsystems),
        origin="upload",
        stored_name=stored_name,
    )


def _open_if_present(path: Path) -> int | None:
    """A descriptor on the file a rename is about to replace, if there is one.

    Renaming over a file frees its blocks inside the rename when that drops the last reference;
    on a filesystem mounted with online discard that is a synchronous trim of the whole file
    (tens of milliseconds per 100 MB), which would be spent holding the write lock. Holding a
    descriptor moves that cost to its close, after the lock is released.
    """
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None  # nothing to replace, or nothing we could open


def store_valid(
    db: Database,
    storage: Storage,
    writer: AtomicWriter,
    meta: UploadMeta,
    origin: Origin,
    inspection: dict[str, Any],
    *,
    size: int,
    sha256: str,
    subsystems: list[str],
) -> dict[str, Any]:
    """Publish and record a valid payload; the index record."""
    destination = storage.data_path(meta.filename)
    row = _row(
        meta,
        origin,
        size=size,
        sha256=sha256,
        state="stored",
        stored_name=meta.filename,
        subsystems=subsystems,
    )
    row.objects = inspection["objects"]
    row.contents = inspection["contents"]
    row.inode = os.stat(writer.temp_path).st_ino
    replaced: int | None = None
    try:
        with db.write() as session:
            index.lock_name(session, meta.filename)
            replaced = _open_if_present(destination)
            writer.commit(destination)
            session.add(row)
            session.flush()
            row.supersedes = index.supersede_previous(session, row)
            emit(session, "receiver.file.received", index.event_data(row))
    finally:
        if replaced is not None:
            os.close(replaced)  # frees a replaced file's blocks, now outside the write lock
    if not row.processing_compatible:
        log.warning(
            "upload %s: %s will be misread or ignored by Overwatch processing "
            "(agent %r; subsystems %s)",
            origin.upload_id,
            meta.filename,
            meta.agent,
            ",".join(subsystems),
        )
    return index.to_record(row)


def store_invalid(
    db: Database,
    storage: Storage,
    writer: AtomicWriter,
    meta: UploadMeta,
    origin: Origin,
    reason: str,
    *,
    size: int,
    sha256: str,
    subsystems: list[str],
) -> dict[str, Any]:
    """Quarantine and record an invalid payload; the index record."""
    destination = storage.quarantine_path(origin.upload_id, meta.filename)
    row = _row(
        meta,
        origin,
        size=size,
        sha256=sha256,
        state="invalid",
        stored_name=destination.name,
        subsystems=subsystems,
    )
    row.reason = reason[:2000]
    with db.write() as session:
        _commit_anywhere(writer, destination)
        session.add(row)
        session.flush()
        emit(session, "receiver.file.rejected", {**index.event_data(row), "reason": row.reason})
    return index.to_record(row)


def _commit_anywhere(writer: AtomicWriter, destination: Path) -> None:
    """Rename into ``destination``; copy durably when it is on another filesystem."""
    try:
        writer.commit(destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with (
            open(writer.temp_path, "rb") as source,
            AtomicWriter(destination.parent / ".daqhub-incoming", mode=0o640) as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
            copy.commit(destination)
