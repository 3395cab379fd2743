"""Singleton work: exactly one holder of a leader lock, and take-over when it goes away."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daqhub.core.db import Database
from daqhub.core.tasks import FileLeaderLock, PostgresLeaderLock, TaskRunner
from daqhub.core.threads import ThreadWork


def test_file_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    first = FileLeaderLock(tmp_path / "locks" / "leader.lock")
    second = FileLeaderLock(tmp_path / "locks" / "leader.lock")
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_file_lock_is_freed_when_the_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from daqhub.core.tasks import FileLeaderLock;"
            f"l=FileLeaderLock(Path({str(path)!r})); assert l.acquire(); print('held', flush=True);"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    standby = FileLeaderLock(path)
    assert not standby.acquire()
    holder.kill()
    holder.wait()
    holder.stdout.close()
    assert standby.acquire()
    standby.release()


def test_postgres_advisory_lock(postgres_url: str) -> None:
    a, b = Database(postgres_url), Database(postgres_url)
    first, second = PostgresLeaderLock(a, "leader"), PostgresLeaderLock(b, "leader")
    assert first.acquire() and first.held()
    assert not second.acquire()
    first.release()
    assert not first.held()
    assert second.acquire()
    second.release()
    a.dispose()
    b.dispose()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_singleton_task_runs_in_one_runner_and_fails_over(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("postgres_url" if store == "postgresql" else "sqlite_url")

    async def scenario() -> None:
        runs: dict[str, int] = {"a": 0, "b": 0}
        dbs, runners = [], []
        for name in ("a", "b"):
            db = Database(url)
            runner = TaskRunner(db, tmp_path, ThreadWork(), retry_interval=0.05)

            def tick(name: str = name) -> None:
                runs[name] += 1

            runner.periodic("tick", 0.02, tick)
            dbs.append(db)
            runners.append(runner)
        await runners[0].start()
        await asyncio.sleep(0.2)
        await runners[1].start()
        await asyncio.sleep(0.3)
        assert runs["a"] > 0 and runs["b"] == 0
        await runners[0].stop()  # the leader goes away ...
        await asyncio.sleep(0.4)
        assert runs["b"] > 0  # ... and the standby takes over
        await runners[1].stop()
        for db in dbs:
            db.dispose()

    asyncio.run(scenario())


def test_pid_is_written_into_the_lock_file(tmp_path: Path) -> None:
    lock = FileLeaderLock(tmp_path / "x.lock")
    assert lock.acquire()
    assert (tmp_path / "x.lock").read_text().strip() == str(os.getpid())
    lock.release()
