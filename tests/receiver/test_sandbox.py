"""The validation sandbox (spec §3.6): limits, crashes and hangs never reach the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from daqhub.receiver.sandbox import SandboxLimits, SandboxPool
from tests.receiver.conftest import Receiver, RootFiles

LIMITS = SandboxLimits(
    cpu_seconds=30,
    memory_bytes=1 << 30,
    wall_seconds=30,
    max_decompressed_bytes=1 << 30,
    max_histogram_bins=10**6,
)


@pytest.fixture
def pool() -> SandboxPool:
    sandbox = SandboxPool(1, LIMITS)
    yield sandbox  # type: ignore[misc]
    sandbox.close()


def test_valid_invalid_and_missing(pool: SandboxPool, root_files: RootFiles) -> None:
    assert pool.inspect(str(root_files.test))["received"] == {
        "test": "Obj name: test, Obj IsA() Name: TH1F"
    }
    assert pool.inspect(str(root_files.not_root))["reason"].startswith("not a ROOT file")
    assert pool.inspect(str(root_files.truncated))["reason"].startswith("truncated")
    assert pool.inspect(str(root_files.zero_keys))["reason"] == "the file has no keys"
    assert pool.inspect("/nonexistent")["ok"] is False


def test_a_hanging_worker_is_killed_and_replaced(root_files: RootFiles, tmp_path: Path) -> None:
    fifo = tmp_path / "hangs.root"
    os.mkfifo(fifo)  # opening it for reading blocks forever
    pool = SandboxPool(1, SandboxLimits(30, 1 << 30, 1.0, 1 << 30, 10**6))
    try:
        started = time.monotonic()
        answer = pool.inspect(str(fifo))
        assert answer["ok"] is False
        assert "no answer within" in answer["reason"]
        assert time.monotonic() - started < 10
        assert pool.inspect(str(root_files.test))["ok"] is True
    finally:
        pool.close()


def test_a_dying_worker_fails_only_its_request(
    pool: SandboxPool, root_files: RootFiles, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.receiver.conftest import wait_for

    assert pool.inspect(str(root_files.test))["ok"]
    (worker,) = pool._all
    fifo = tmp_path / "stuck.root"
    os.mkfifo(fifo)
    with ThreadPoolExecutor(1) as executor:
        stuck = executor.submit(pool.inspect, str(fifo))
        wait_for(lambda: pool._idle.empty(), timeout=5)
        os.kill(worker.process.pid, signal.SIGKILL)
        answer = stuck.result(timeout=10)
    assert answer["ok"] is False
    assert "worker died" in answer["reason"]
    assert pool.inspect(str(root_files.test))["ok"] is True
    (idle_worker,) = pool._all
    os.kill(idle_worker.process.pid, signal.SIGKILL)
    idle_worker.process.wait()
    assert pool.inspect(str(root_files.test))["ok"] is True  # replaced transparently


def test_memory_limit(root_files: RootFiles) -> None:
    pool = SandboxPool(1, SandboxLimits(30, 32 << 20, 30, 1 << 30, 10**6))
    try:
        answer = pool.inspect(str(root_files.test))
        assert answer["ok"] is False
    finally:
        pool.close()


def test_decompression_budget_reports_key_names(root_files: RootFiles) -> None:
    pool = SandboxPool(1, SandboxLimits(30, 1 << 30, 30, 10, 10**6))
    try:
        answer = pool.inspect(str(root_files.dir_h1_h2))
        assert answer["ok"] is True
        assert answer["received"]["h1"] == "Obj name: h1, Obj IsA() Name: TH1F"
        assert all(item["entries"] is None for item in answer["contents"])
    finally:
        pool.close()


def run_worker_snippet(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_no_network_in_the_worker() -> None:
    result = run_worker_snippet(
        "from daqhub.receiver.sandbox import _block_network\n"
        "_block_network()\n"
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except PermissionError as exc:\n"
        "    print('refused', exc)\n"
    )
    assert "refused" in result.stdout, result.stderr


def test_cpu_limit_kills_a_runaway_worker() -> None:
    result = run_worker_snippet(
        "from daqhub.receiver.sandbox import _set_cpu_limit\n"
        "_set_cpu_limit(0.5)\n"
        "while True:\n"
        "    pass\n"
    )
    assert result.returncode in (-signal.SIGXCPU, -signal.SIGKILL)


def test_an_upload_whose_validation_fails_counts_as_invalid(
    make_receiver: Callable[..., Receiver], root_files: RootFiles
) -> None:
    receiver = make_receiver(validation_memory_bytes=32 << 20)
    response = receiver.upload(root_files.r)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Successfully received the file, but")
    record = receiver.uploads(state="invalid")[0]
    assert "validation failed" in record["reason"]
    assert receiver.client.get("/rest/api/files", headers=receiver.auth()).status_code == 200
