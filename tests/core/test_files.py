"""Safe names and atomic, durable file publication."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daqhub.core.files import (
    DIRECT_BUFFER_BYTES,
    AtomicWriter,
    UnsafePath,
    atomic_write_bytes,
    remove_stale,
    safe_child,
)
from tests.pagecache import resident_fraction


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "x\x00y", "..%2F"[:2]]
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePath):
        safe_child(tmp_path, name)


def test_safe_name_stays_inside(tmp_path: Path) -> None:
    assert (
        safe_child(tmp_path, "EMChistos_1_DQM.root") == tmp_path.resolve() / "EMChistos_1_DQM.root"
    )


def test_commit_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "data.root"
    target.write_bytes(b"old")
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(b"new ")
        assert target.read_bytes() == b"old"  # nothing visible before commit
        writer.write(b"content")
        writer.commit(target)
    assert target.read_bytes() == b"new content"
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data.root"
    with pytest.raises(RuntimeError), AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(b"partial")
        raise RuntimeError("client went away")
    assert not target.exists()
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_crash_mid_write_never_exposes_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "big.root"
    atomic_write_bytes(target, b"A" * 1000)
    code = (
        "import os,sys; from pathlib import Path; from daqhub.core.files import AtomicWriter;"
        f"w=AtomicWriter(Path({str(tmp_path / '.incoming')!r}));"
        "w.write(b'B'*500000); os._exit(9)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 9
    assert target.read_bytes() == b"A" * 1000
    leftovers = list((tmp_path / ".incoming").iterdir())
    assert len(leftovers) == 1 and leftovers[0].suffix == ".part"
    old = time.time() - 7200
    os.utime(leftovers[0], (old, old))
    assert remove_stale(tmp_path / ".incoming", 3600) == 1


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        with AtomicWriter(tmp_path / ".incoming", mode=0o644) as writer:
            writer.write(b"x")
            published = writer.commit(tmp_path / "f.root")
    finally:
        os.umask(old)
    assert published.stat().st_mode & 0o777 == 0o644


def test_sync_ahead_runs_beside_writing_and_commit_publishes_everything(tmp_path: Path) -> None:
    target = tmp_path / "large.root"
    with AtomicWriter(tmp_path / ".incoming") as writer:
        started = 0
        for index in range(64):
            writer.write(bytes([index]) * 65536)
            started += writer.sync_ahead()
        assert started >= 1
        writer.commit(target)
    assert target.read_bytes() == b"".join(bytes([i]) * 65536 for i in range(64))


def test_sync_ahead_does_not_start_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(os, "fdatasync", lambda fd: release.wait(5))
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(b"a")
        assert writer.sync_ahead() is True
        assert writer.sync_ahead() is False  # the first one still runs
        release.set()
        writer.flush()
        assert writer.sync_ahead() is True


def test_a_failed_background_sync_is_reported_by_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a write-back error to one sync only: the background one must not swallow
    it, or the upload would be acknowledged without being on disk."""

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fdatasync", failing)
    target = tmp_path / "f.root"
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(b"data")
        writer.sync_ahead()
        with pytest.raises(OSError) as failure:
            writer.commit(target)
    assert failure.value.errno == errno.EIO
    assert not target.exists()
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_commit_after_flush_does_not_sync_the_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting)
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(b"data")
        writer.flush()
        assert len(synced) == 1
        writer.commit(tmp_path / "f.root")
    assert len(synced) == 2  # the directory only
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.commit(tmp_path / "empty.root")  # never flushed: file and directory
    assert len(synced) == 4


# -- direct I/O and dropping written bytes from the page cache ----------------------------------


def pieces(total: int, seed: int) -> list[bytes]:
    """``total`` random bytes cut at random places (as they arrive from the network)."""
    rng = random.Random(seed)
    data = rng.randbytes(total)
    out, offset = [], 0
    while offset < total:
        step = rng.choice([1, 7, 4095, 4096, 65536, 262144, 1 << 20])
        out.append(data[offset : offset + step])
        offset += step
    return out


@pytest.mark.parametrize(
    "size", [0, 1, 4095, 4096, 4097, DIRECT_BUFFER_BYTES - 1, DIRECT_BUFFER_BYTES,
             DIRECT_BUFFER_BYTES + 1, 2 * DIRECT_BUFFER_BYTES + 4097]
)  # fmt: skip
def test_direct_writes_publish_exactly_the_bytes_written(tmp_path: Path, size: int) -> None:
    chunks = pieces(size, seed=size)
    target = tmp_path / "out.root"
    with AtomicWriter(tmp_path / ".incoming", direct=True) as writer:
        assert writer.direct, "the test directory's filesystem offers direct I/O"
        for chunk in chunks:
            writer.write(chunk)
        assert writer.size == size
        writer.commit(target)
    assert target.read_bytes() == b"".join(chunks)


def test_page_aligned_pieces_go_to_the_disk_without_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole blocks from the caller's page-aligned memory (an mmap) are written from it; only
    what is unaligned (a ``bytes`` object, a piece after an unaligned one) is gathered in the
    writer's own buffer first."""
    gathered: list[int] = []
    drain = AtomicWriter._drain_buffer

    def counting_drain(self: AtomicWriter, *, final: bool = False) -> None:
        gathered.append(self._buffered)
        drain(self, final=final)

    monkeypatch.setattr(AtomicWriter, "_drain_buffer", counting_drain)
    rng = random.Random(7)
    aligned = mmap.mmap(-1, DIRECT_BUFFER_BYTES)
    aligned[:] = rng.randbytes(DIRECT_BUFFER_BYTES)
    tail = rng.randbytes(5000)
    target = tmp_path / "out.root"
    with AtomicWriter(tmp_path / ".incoming", direct=True) as writer:
        writer.write(aligned)
        writer.write(memoryview(aligned)[: 2 * 4096])
        assert gathered == []  # nothing copied so far
        writer.write(tail)
        writer.write(aligned)  # after an unaligned piece: copied
        writer.commit(target)
    assert sum(gathered) == len(tail) + DIRECT_BUFFER_BYTES
    expected = bytes(aligned) + bytes(aligned[: 2 * 4096]) + tail + bytes(aligned)
    assert target.read_bytes() == expected
    aligned.close()


def test_direct_writes_keep_a_large_file_out_of_the_page_cache(tmp_path: Path) -> None:
    """What direct I/O is for: a large upload does not fill memory with its own bytes."""
    size = 3 * DIRECT_BUFFER_BYTES + 12345
    staged = AtomicWriter(tmp_path / ".incoming", direct=True)
    cached = AtomicWriter(tmp_path / ".incoming")
    for writer, name in ((staged, "direct.root"), (cached, "cached.root")):
        for chunk in pieces(size, seed=1):
            writer.write(chunk)
        writer.commit(tmp_path / name)
    assert resident_fraction(tmp_path / "direct.root") < 0.3  # at most the unaligned tail
    assert resident_fraction(tmp_path / "cached.root") > 0.9


def test_sync_ahead_drops_the_synced_bytes_from_the_page_cache(tmp_path: Path) -> None:
    size = 8 << 20
    with AtomicWriter(tmp_path / ".incoming") as writer:
        writer.write(random.Random(2).randbytes(size))
        assert resident_fraction(writer.temp_path) > 0.9
        assert writer.sync_ahead()
        writer.flush()  # waits for the background sync
        assert resident_fraction(writer.temp_path) < 0.1


def test_without_direct_io_the_writer_goes_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that refuses O_DIRECT (as fcntl reports it) gets ordinary writes."""
    real_fcntl = fcntl.fcntl

    def refusing(fd: int, command: int, arg: int = 0) -> int:
        if command == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, command, arg)

    monkeypatch.setattr(fcntl, "fcntl", refusing)
    chunks = pieces(DIRECT_BUFFER_BYTES + 5, seed=3)
    with AtomicWriter(tmp_path / ".incoming", direct=True) as writer:
        assert not writer.direct
        for chunk in chunks:
            writer.write(chunk)
        writer.commit(tmp_path / "out.root")
    assert (tmp_path / "out.root").read_bytes() == b"".join(chunks)


def test_a_direct_write_refused_midway_goes_on_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some filesystems accept O_DIRECT at open and refuse the writes (EINVAL): nothing is
    lost, the rest of the file is written the ordinary way."""
    real_write = os.write
    refused: list[int] = []

    def refusing_direct(fd: int, data: bytes) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT and len(refused) < 1:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", refusing_direct)
    chunks = pieces(2 * DIRECT_BUFFER_BYTES + 100, seed=4)
    with AtomicWriter(tmp_path / ".incoming", direct=True) as writer:
        for chunk in chunks:
            writer.write(chunk)
        assert refused and not writer.direct
        writer.commit(tmp_path / "out.root")
    assert (tmp_path / "out.root").read_bytes() == b"".join(chunks)


def test_a_failing_direct_write_is_reported_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with AtomicWriter(tmp_path / ".incoming", direct=True) as writer:
        with pytest.raises(OSError) as failure:
            writer.write(b"x" * DIRECT_BUFFER_BYTES)
        assert failure.value.errno == errno.ENOSPC
    assert list((tmp_path / ".incoming").iterdir()) == []
