"""Background work of the receiver, each run by one process at a time (DESIGN.md contract 7).

* **scan** (``scan_interval``): compares the data directory with the index. A ``stored`` file
  that left the directory (Overwatch processing moves files into ``Run<run>/<SYS>/``) becomes
  ``consumed``; a listable file the index does not know (there before daqhub, or written by a
  process that died before committing) is imported with ``origin: preexisting``, and hashed and
  inspected right after.
* **sweep** (``sweep_interval``): removes staging files older than ``temp_max_age``.
* **retention** (``retention_interval``): purges quarantined payloads older than
  ``quarantine_retention``.
* **scrub** (``scrub_interval``): hashes pre-existing files and re-hashes stored ones, a batch
  of ``scrub_batch_bytes`` at a time, and flags files whose bytes changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from daqhub.core.db import utcnow
from daqhub.core.outbox import emit
from daqhub.receiver import index
from daqhub.receiver.models import ReceiverUpload
from daqhub.receiver.naming import ZURICH, processing_compatible
from daqhub.receiver.state import ReceiverState

log = logging.getLogger("daqhub.receiver")


def _parse_name(name: str) -> tuple[str, int, int]:
    """(agent, run, timestamp) from ``<agent>histos_<run>_<mode>_<Zurich time>.root``, as far
    as the name follows the convention (-1 for what it does not say)."""
    stem = name.removesuffix(".root")
    agent_part, sep, rest = stem.rpartition("histos_")
    if not sep:
        return "", -1, -1
    fields = rest.split("_")
    try:
        run = int(fields[0])
    except ValueError:
        return agent_part, -1, -1
    try:
        year, month, day, hour, minute, second = (int(f) for f in fields[2:8])
        local = datetime(year, month, day, hour, minute, second, tzinfo=ZURICH)
    except (TypeError, ValueError):
        return agent_part, run, -1
    return agent_part, run, int(local.timestamp())


class Housekeeping:
    def __init__(self, state: ReceiverState) -> None:
        self.state = state

    # -- scan --------------------------------------------------------------------------------

    def scan(self) -> dict[str, int]:
        """One reconciliation pass; returns counts (for tests and logs)."""
        storage = self.state.storage
        consumed = imported = 0
        with self.state.db.write() as session:
            index.lock_scan(session)
            try:
                present = storage.listable_stats()
            except OSError:
                return {"consumed": 0, "imported": 0}
            stored = index.stored_rows(session)
            known = {(row.filename, row.inode) for row in stored}
            gone = [
                row
                for row in stored
                if row.filename not in present
                or (row.inode is not None and present[row.filename].st_ino != row.inode)
            ]
            consumed = index.mark(session, gone, "consumed", "receiver.file.consumed")
            taken = {row.filename for row in stored if row not in gone}
            for name, info in present.items():
                if (name, info.st_ino) in known or name in taken:
                    continue
                session.add(self._preexisting(name, info))
                imported += 1
        if consumed or imported:
            log.info("scan: %d consumed, %d imported", consumed, imported)
        self.scrub(unhashed_only=True)  # checksums and objects of imported files, soon
        return {"consumed": consumed, "imported": imported}

    def _preexisting(self, name: str, info: os.stat_result) -> ReceiverUpload:
        agent, run, timestamp = _parse_name(name)
        now = utcnow()
        return ReceiverUpload(
            upload_id=str(uuid.uuid4()),
            filename=name,
            agent=agent,
            agent_raw=agent,
            run=run,
            timestamp=int(info.st_mtime) if timestamp < 0 else timestamp,
            data_status=-1,
            received_at=now,
            state_changed_at=now,
            size=info.st_size,
            sha256=None,
            state="stored",
            processing_compatible=processing_compatible(agent, self.state.settings.subsystems),
            origin="preexisting",
            stored_name=name,
            inode=info.st_ino,
        )

    # -- sweep and retention ----------------------------------------------------------------------

    def sweep(self) -> int:
        removed = self.state.storage.sweep_temp(self.state.settings.temp_max_age)
        if removed:
            log.info("removed %d stale temporary upload file(s)", removed)
        return removed

    def retention(self) -> int:
        keep = self.state.settings.quarantine_retention
        if keep <= 0:
            return 0
        storage = self.state.storage
        before = utcnow() - timedelta(seconds=keep)
        purged = 0
        while True:
            with self.state.db.write() as session:
                rows = index.expired_invalid(session, before)
                for row in rows:
                    storage.remove_quarantined(row.stored_name)
                purged += index.mark(session, rows, "purged")
            if len(rows) < 1000:
                break
        with self.state.db.read() as session:
            known = index.quarantined_names(session)
        orphans = storage.orphan_quarantine(keep, known)
        if purged or orphans:
            log.info("quarantine: purged %d expired upload(s), %d orphan file(s)", purged, orphans)
        return purged

    # -- scrub -------------------------------------------------------------------------------------

    def scrub(self, *, unhashed_only: bool = False) -> dict[str, int]:
        """Hash files not hashed yet (pre-existing ones), then re-verify the longest unverified,
        up to ``scrub_batch_bytes`` per pass."""
        budget = self.state.settings.scrub_batch_bytes
        checked = mismatched = 0
        with self.state.db.read() as session:
            rows = [
                (r.id, r.filename, r.inode, r.sha256, r.size)
                for r in index.rows_to_scrub(session, unhashed_only=unhashed_only)
            ]
        for row_id, filename, inode, expected, size in rows:
            if budget <= 0:
                break
            opened = self.state.storage.open_listable(filename)
            if opened is None:
                continue
            try:
                if inode is not None and opened.inode != inode:
                    continue
                digest = _hash_fd(opened.fd)
            finally:
                opened.close()
            budget -= size
            checked += 1
            values: dict[str, Any] = {"verified_at": utcnow()}
            if expected is None:
                values |= {"sha256": digest, "integrity_ok": True}
                values |= self._inspect_preexisting(filename)
            else:
                values["integrity_ok"] = digest == expected
                if digest != expected:
                    mismatched += 1
                    self.state.telemetry.scrub_mismatches.inc()
                    log.error(
                        "scrub: %s no longer matches its checksum (recorded %s, now %s)",
                        filename,
                        expected,
                        digest,
                    )
            with self.state.db.write() as session:
                index.set_verified(session, row_id, **values)
                if values.get("integrity_ok") is False:
                    emit(
                        session,
                        "receiver.file.corrupted",
                        {"filename": filename, "expected_sha256": expected, "sha256": digest},
                    )
        return {"checked": checked, "mismatched": mismatched}

    def _inspect_preexisting(self, filename: str) -> dict[str, Any]:
        """Objects of a file daqhub did not receive itself (validated in the sandbox)."""
        result = self.state.sandbox.inspect(str(self.state.storage.paths.data_dir / filename))
        if result.get("ok"):
            return {"objects": result["objects"], "contents": result["contents"]}
        return {"reason": f"not readable as ROOT: {result.get('reason', '')}"[:2000]}


def _hash_fd(fd: int) -> str:
    """SHA-256 of the file as the disk holds it: its cached pages are dropped before reading
    (clean ones only: bytes not yet written back are what the disk will hold), so that the scrub
    checks the disk rather than memory, and again after, so that a pass over many files does
    not push out of the page cache what people are reading."""
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    hasher = hashlib.sha256()
    offset = 0
    try:
        while chunk := os.pread(fd, 1 << 20, offset):
            hasher.update(chunk)
            offset += len(chunk)
    finally:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    return hasher.hexdigest()
