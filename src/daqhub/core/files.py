"""Safe paths and crash-safe file writes.

Every file a client can name goes through :func:`safe_child`, which refuses anything that is not
a plain name directly inside the given directory. Every file daqhub publishes goes through
:class:`AtomicWriter`: the bytes go to a temporary file in a staging directory on the same
filesystem, are fsynced, and the file is renamed into place and the directory fsynced. A reader
(or a crash at any instant) therefore sees the old file or the complete new one, never a part.

Large files can be written with direct I/O (``AtomicWriter(..., direct=True)``): the bytes go
from an aligned buffer (the caller's own, when it hands over page-aligned pieces) to the disk
without passing through the page cache, which saves the kernel allocating cache pages, writing
them back and evicting them again, and keeps a stream of bulk uploads from pushing everything
else out of memory. Where the filesystem does not support it (tmpfs, some network
filesystems), the writer quietly writes through the cache.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType


class UnsafePath(ValueError):
    """A client-supplied name that would leave its directory or is not a plain name."""


def safe_child(base: Path, name: str) -> Path:
    """``base / name`` when ``name`` is a plain file name; raises :class:`UnsafePath` otherwise.

    Refuses empty names, ``.``/``..``, separators, NUL bytes and anything whose resolved parent is
    not ``base`` itself. Symbolic links are not followed for the final component.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise UnsafePath(f"not a plain file name: {name!r}")
    base_resolved = base.resolve()
    candidate = base_resolved / name
    if candidate.parent != base_resolved:
        raise UnsafePath(f"{name!r} escapes {base}")
    return candidate


DIRECT_ALIGNMENT = 4096
"""Offsets, lengths and buffer addresses of direct writes are multiples of this (every
logical block size in common use divides it)."""
DIRECT_BUFFER_BYTES = 4 << 20
"""Bytes gathered before one direct write: large enough that the disk streams."""


BytesLike = bytes | bytearray | memoryview | mmap.mmap
"""What :meth:`AtomicWriter.write` takes: any contiguous buffer of bytes."""


def _page_aligned(view: memoryview) -> bool:
    """Whether ``view`` starts on a page boundary (only writable memory can be asked)."""
    if view.readonly or not view.c_contiguous or not len(view):
        return False
    return ctypes.addressof(ctypes.c_char.from_buffer(view)) % mmap.PAGESIZE == 0


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicWriter:
    """Write a file in pieces, then publish it atomically with :meth:`commit`.

    ``staging_dir`` must be on the same filesystem as the destination (a hidden directory next to
    it). Temporary names end in ``.part`` so that consumers matching ``*.root``, ``*.h5`` ... never
    pick them up. Leaving the ``with`` block without ``commit`` removes the temporary file.
    """

    def __init__(
        self,
        staging_dir: Path,
        *,
        mode: int = 0o640,
        suffix: str = ".part",
        direct: bool = False,
    ) -> None:
        staging_dir.mkdir(parents=True, exist_ok=True)
        self.temp_path = staging_dir / f"{uuid.uuid4().hex}{suffix}"
        self._fd: int | None = os.open(
            self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode
        )
        os.fchmod(self._fd, mode)  # exactly ``mode``, whatever the umask
        self.size = 0
        self.committed = False
        self._unsynced = True  # even an empty file is synced once before it is published
        self._syncing: threading.Thread | None = None
        self._sync_error: OSError | None = None
        self._buffer: mmap.mmap | None = None  # set while writing with direct I/O
        self._buffered = 0
        if direct and _set_direct(self._fd, True):
            self._buffer = mmap.mmap(-1, DIRECT_BUFFER_BYTES)  # page-aligned

    @property
    def direct(self) -> bool:
        """Whether the bytes still go to the disk with direct I/O."""
        return self._buffer is not None

    def write(self, data: BytesLike) -> None:
        assert self._fd is not None, "writer already closed"
        view = memoryview(data).cast("B")
        self.size += len(view)
        self._unsynced = True
        if (
            self._buffer is not None
            and not self._buffered
            and len(view) >= DIRECT_ALIGNMENT
            and _page_aligned(view)
        ):
            # The file is at a block boundary and the caller's memory is aligned: straight from
            # it to the disk, without the copy into our buffer.
            whole = len(view) - len(view) % DIRECT_ALIGNMENT
            view = view[self._write_direct(view[:whole]) :]
        while view and self._buffer is not None:
            taken = min(len(view), DIRECT_BUFFER_BYTES - self._buffered)
            self._buffer[self._buffered : self._buffered + taken] = view[:taken]
            self._buffered += taken
            view = view[taken:]
            if self._buffered == DIRECT_BUFFER_BYTES:
                self._drain_buffer()
        self._write_through(view)

    def _write_through(self, view: memoryview) -> None:
        assert self._fd is not None
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _drain_buffer(self, *, final: bool = False) -> None:
        """Write the gathered bytes with direct I/O as far as they fill whole blocks. With
        ``final`` (a file's end need not be aligned), or where the filesystem refused a direct
        write, the rest goes through the page cache and direct I/O ends."""
        assert self._fd is not None and self._buffer is not None
        view = memoryview(self._buffer)[: self._buffered]
        self._buffered = 0
        done = self._write_direct(view)
        if done < len(view) or final:
            _set_direct(self._fd, False)
            self._write_through(view[done:])
            del view
            self._release_buffer()

    def _write_direct(self, view: memoryview) -> int:
        """Bytes of ``view`` written with direct I/O: its whole blocks, unless refused."""
        assert self._fd is not None
        done = 0
        aligned = len(view) - len(view) % DIRECT_ALIGNMENT
        try:
            while done < aligned:
                written = os.write(self._fd, view[done:aligned])
                done += written
                if written % DIRECT_ALIGNMENT:
                    break  # a short write off the alignment: no more direct writes
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: this filesystem refuses such writes
                raise
        return done

    def _release_buffer(self) -> None:
        if self._buffer is not None:
            # A view still held by an exception's traceback keeps it mapped until collected.
            with contextlib.suppress(BufferError):
                self._buffer.close()
            self._buffer = None

    def write_all(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Make the written bytes durable without publishing them (e.g. before validating)."""
        assert self._fd is not None
        self._wait_sync()
        if self._buffer is not None:
            self._drain_buffer(final=True)
        os.fsync(self._fd)
        self._unsynced = False

    def sync_ahead(self) -> bool:
        """Start making the bytes written so far durable on a helper thread, while writing goes
        on; False (nothing started) while an earlier one still runs.

        A large file written as it arrives from the network then reaches the disk during the
        transfer, not all at once in the final fsync: on disks whose cache flushes cost time in
        proportion to what is dirty, that is what lets a durable write keep pace with a plain
        one. :meth:`flush`, :meth:`commit` and :meth:`abort` wait for it. Once synced, those
        bytes are dropped from the page cache: a file written this way is large, and keeping it
        there would only push out what is read again. With direct I/O the bytes are on the
        device already, and the sync flushes the device's own write cache as the transfer goes.
        """
        assert self._fd is not None, "writer already closed"
        if self._syncing is not None and self._syncing.is_alive():
            return False
        fd = self._fd
        synced = self.size

        def sync() -> None:
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, synced, os.POSIX_FADV_DONTNEED)
            except OSError as exc:
                # Linux reports a write-back error to one sync only: keep it for the caller.
                self._sync_error = exc

        self._syncing = threading.Thread(target=sync, name="daqhub-sync-ahead", daemon=True)
        self._syncing.start()
        return True

    def _join_sync(self) -> None:
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None

    def _wait_sync(self) -> None:
        """Join a running sync-ahead and raise the error it got, if any."""
        self._join_sync()
        if self._sync_error is not None:
            error, self._sync_error = self._sync_error, None
            raise error

    def _close(self) -> None:
        self._join_sync()  # never close the descriptor under a running sync
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._release_buffer()

    def commit(self, destination: Path) -> Path:
        """fsync, rename over ``destination`` (replacing it atomically), fsync the directory."""
        assert self._fd is not None, "writer already closed"
        if self._unsynced:
            self.flush()
        self._close()
        os.replace(self.temp_path, destination)
        fsync_dir(destination.parent)
        self.committed = True
        return destination

    def abort(self) -> None:
        self._close()
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _set_direct(fd: int, on: bool) -> bool:
    """Switch direct I/O on or off for ``fd``; False where the filesystem does not offer it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_DIRECT if on else flags & ~os.O_DIRECT)
    except OSError:
        return False
    return True


def atomic_write_bytes(destination: Path, data: bytes, *, mode: int = 0o640) -> Path:
    """Replace ``destination`` with ``data`` atomically and durably (staging in its directory)."""
    with AtomicWriter(destination.parent / ".daqhub-incoming", mode=mode) as writer:
        writer.write(data)
        return writer.commit(destination)


def remove_stale(directory: Path, older_than_seconds: float, *, suffix: str = ".part") -> int:
    """Delete leftovers of interrupted writes; returns how many were removed."""
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
    return removed
