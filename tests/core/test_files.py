"""Safe names and atomic, durable file publication."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daqhub.core.files import AtomicWriter, UnsafePath, atomic_write_bytes, remove_stale, safe_child


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
