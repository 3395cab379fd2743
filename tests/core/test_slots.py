"""Work slots shared by the worker processes of one server (receiver max_concurrent_uploads)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from daqhub.core.slots import INSTANCE_DIR_ENV, ProcessSlots, SharedSlots, SlotsBusy, work_slots


async def take_and_hold(
    slots: SharedSlots | ProcessSlots, held: asyncio.Event, release: asyncio.Event
) -> None:
    async with slots.slot(1.0):
        held.set()
        await release.wait()


def test_shared_slots_exclude_across_openers(tmp_path: Path) -> None:
    """Two openers of one directory behave like two processes: together they hold ``size``."""

    async def scenario() -> None:
        here, there = SharedSlots(tmp_path, 2), SharedSlots(tmp_path, 2)
        held, release = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(take_and_hold(here, held, release))
        await held.wait()
        async with there.slot(0.5):  # the second slot
            with pytest.raises(SlotsBusy):
                async with here.slot(0.1):
                    pass
        async with here.slot(0.1):  # free again once the other opener let go
            pass
        waiter = asyncio.create_task(asyncio.wait_for(there.slot(2.0).__aenter__(), 3))
        release.set()
        await first
        await waiter
        here.close()
        there.close()

    asyncio.run(scenario())


def test_a_killed_process_frees_its_slot(tmp_path: Path) -> None:
    code = (
        "import fcntl, os, sys, time; from pathlib import Path;"
        "from daqhub.core.slots import SharedSlots;"
        f"s = SharedSlots(Path({str(tmp_path)!r}), 1);"
        "fcntl.flock(s._fds[0], fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

    async def try_once() -> bool:
        slots = SharedSlots(tmp_path, 1)
        try:
            async with slots.slot(0.1):
                return True
        except SlotsBusy:
            return False
        finally:
            slots.close()

    assert asyncio.run(try_once()) is False
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    assert asyncio.run(try_once()) is True


def test_one_process_servers_use_a_semaphore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(INSTANCE_DIR_ENV, raising=False)
    assert isinstance(work_slots("x", 3), ProcessSlots)
    monkeypatch.setenv(INSTANCE_DIR_ENV, str(tmp_path))
    shared = work_slots("x", 3)
    assert isinstance(shared, SharedSlots)
    assert sorted(p.name for p in (tmp_path / "slots-x").iterdir()) == [
        "slot-0",
        "slot-1",
        "slot-2",
    ]
    shared.close()


def test_closing_while_a_slot_is_held_is_harmless(tmp_path: Path) -> None:
    async def scenario() -> None:
        slots = SharedSlots(tmp_path, 1)
        async with slots.slot(0.1):
            slots.close()  # the server stops while an upload still holds its slot

    asyncio.run(scenario())
