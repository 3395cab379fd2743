"""Safe names and atomic, durable file publication."""

from __future__ import annotations

import os
import subprocess
import sys
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
