"""The receiver's directories: the flat data folder Overwatch reads, the hidden staging and
quarantine directories, and the rules for what may be listed or served (spec §2.5, §2.8, §3.7).

Uploads are staged as ``<incoming>/<uuid>.part`` through :class:`~daqhub.core.files.AtomicWriter`
and renamed into the data folder (valid) or the quarantine (invalid); nothing else in the data
folder is ever changed or removed. Only *listable* files are listed or served: regular files
(never symbolic links) directly in the data folder whose names contain ``DQM`` and do not start
with ``.``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from daqhub.core.files import AtomicWriter, UnsafePath, remove_stale, safe_child
from daqhub.receiver.errors import DataDirUnavailable
from daqhub.receiver.naming import is_listable_name
from daqhub.receiver.settings import ReceiverPaths

DIRECT_IO_MIN_BYTES = 16 << 20
"""Uploads announcing at least this many bytes are staged with direct I/O: files this large are
seldom read again at once, and streaming them through the page cache costs more CPU than
receiving them."""
QUARANTINE_SUFFIX = ".invalid"
QUARANTINE_NAME_MAX = 200
"""Bytes of the stored name kept in a quarantine name (``<uuid>-<name>.invalid`` <= 255)."""


@dataclass(frozen=True)
class OpenedFile:
    """A listable file opened for reading: serve from ``fd``, which is immune to renames."""

    fd: int
    name: str
    size: int
    mtime: float
    inode: int

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Storage:
    def __init__(
        self,
        paths: ReceiverPaths,
        *,
        file_mode: int,
        group_id: int | None,
        direct_io: bool = True,
    ) -> None:
        self.paths = paths
        self.file_mode = file_mode
        self.group_id = group_id
        self.direct_io = direct_io

    # -- directories ------------------------------------------------------------------------

    def ensure_dirs(self) -> None:
        for directory in (self.paths.data_dir, self.paths.incoming_dir, self.paths.quarantine_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def writable(self) -> bool:
        """Readiness: every directory exists and can be written (spec §3.9)."""
        try:
            self.ensure_dirs()
        except OSError:
            return False
        return all(
            os.access(d, os.W_OK | os.X_OK)
            for d in (self.paths.data_dir, self.paths.incoming_dir, self.paths.quarantine_dir)
        )

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use on the staging filesystem."""
        stats = os.statvfs(self.paths.incoming_dir)
        return stats.f_bavail * stats.f_frsize

    # -- listing and serving --------------------------------------------------------------------

    def list_files(self) -> list[str]:
        try:
            with os.scandir(self.paths.data_dir) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if is_listable_name(entry.name) and entry.is_file(follow_symlinks=False)
                ]
        except OSError:
            raise DataDirUnavailable() from None
        return sorted(names)

    def listable_stats(self) -> dict[str, os.stat_result]:
        """Name -> stat of every listable file (for the index scan)."""
        result: dict[str, os.stat_result] = {}
        with os.scandir(self.paths.data_dir) as entries:
            for entry in entries:
                if not is_listable_name(entry.name):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode):
                        result[entry.name] = info
        return result

    def open_listable(self, name: str) -> OpenedFile | None:
        """Open ``name`` if it is listable; None when it is not (or does not exist)."""
        if not is_listable_name(name):
            return None
        try:
            path = safe_child(self.paths.data_dir, name)
        except UnsafePath:
            return None
        return self._open_regular(path, name)

    def open_quarantined(self, stored_name: str) -> OpenedFile | None:
        try:
            path = safe_child(self.paths.quarantine_dir, stored_name)
        except UnsafePath:
            return None
        return self._open_regular(path, stored_name)

    @staticmethod
    def _open_regular(path: Path, name: str) -> OpenedFile | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EISDIR):
                return None
            if exc.errno in (errno.EACCES, errno.EPERM):
                return None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return OpenedFile(fd, name, info.st_size, info.st_mtime, info.st_ino)

    # -- writing -------------------------------------------------------------------------------

    def new_writer(self, *, expected_bytes: int | None = None) -> AtomicWriter:
        """A staging file; one expected to be large bypasses the page cache (direct I/O)."""
        direct = (
            self.direct_io and expected_bytes is not None and expected_bytes >= DIRECT_IO_MIN_BYTES
        )
        try:
            writer = AtomicWriter(self.paths.incoming_dir, mode=self.file_mode, direct=direct)
        except OSError:
            raise DataDirUnavailable() from None
        if self.group_id is not None:
            os.chown(writer.temp_path, -1, self.group_id)
        return writer

    def data_path(self, filename: str) -> Path:
        return safe_child(self.paths.data_dir, filename)

    def quarantine_path(self, upload_id: str, filename: str) -> Path:
        short = filename.encode()[:QUARANTINE_NAME_MAX].decode("ascii", "ignore")
        return safe_child(self.paths.quarantine_dir, f"{upload_id}-{short}{QUARANTINE_SUFFIX}")

    # -- housekeeping ------------------------------------------------------------------------------

    def sweep_temp(self, older_than: float) -> int:
        """Remove staging leftovers of interrupted uploads (any replica's) older than the limit."""
        return remove_stale(self.paths.incoming_dir, older_than)

    def remove_quarantined(self, stored_name: str) -> None:
        with contextlib.suppress(FileNotFoundError, UnsafePath):
            safe_child(self.paths.quarantine_dir, stored_name).unlink()

    def orphan_quarantine(self, older_than: float, known: set[str]) -> int:
        """Delete expired quarantine files that no index row describes."""
        cutoff = time.time() - older_than
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.paths.quarantine_dir) as it:
            for entry in it:
                if not entry.name.endswith(QUARANTINE_SUFFIX) or entry.name in known:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    def count(self, directory: Path, suffix: str | None = None) -> int:
        try:
            with os.scandir(directory) as entries:
                return sum(
                    1
                    for e in entries
                    if (suffix is None and is_listable_name(e.name))
                    or (suffix is not None and e.name.endswith(suffix))
                )
        except OSError:
            return 0
