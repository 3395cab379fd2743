"""The C allocator keeps large receive buffers warm (daqhub.core.allocator)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from daqhub.core.allocator import tune_allocator

CHURN = """
import resource, sys
from daqhub.core.allocator import tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator()

def churn():  # what receiving a large body does: many 256 KiB buffers, each soon freed
    for _ in range(100):
        buffers = [b"x" * (256 * 1024) for _ in range(16)]
        del buffers

churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str, **env: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", CHURN, mode],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_receive_buffers_reuse_warm_memory() -> None:
    """With glibc's defaults every 256 KiB buffer faults in fresh pages (about 64 each)."""
    assert page_faults("default") > 10_000
    assert page_faults("tuned") < 1_000


def test_an_operators_own_malloc_tunables_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576")
    assert tune_allocator() is False
