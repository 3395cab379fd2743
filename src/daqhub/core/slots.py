"""A limit on work in progress shared by the worker processes of one server.

``daqhub serve --workers N`` runs N processes behind one port; a limit such as the receiver's
``max_concurrent_uploads`` is meant per server (per replica), not per process. Each slot is a
lock file in the server instance's own directory, held with ``flock``: taking a slot is a
non-blocking lock on any free file, and the kernel frees the slots of a process that dies, so a
killed worker never leaks capacity. With one process an :class:`asyncio.Semaphore` does the same
without files.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

INSTANCE_DIR_ENV = "DAQHUB_INSTANCE_DIR"
"""Set by ``daqhub serve`` for its worker processes: a directory private to this server."""

POLL_SECONDS = 0.02


class SlotsBusy(Exception):
    """No slot became free within the wait."""


class ProcessSlots:
    """``size`` slots in this process only."""

    def __init__(self, size: int) -> None:
        self._semaphore = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def slot(self, wait: float) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(wait):
                await self._semaphore.acquire()
        except TimeoutError:
            raise SlotsBusy() from None
        try:
            yield
        finally:
            self._semaphore.release()

    def close(self) -> None:
        pass


class SharedSlots:
    """``size`` slots shared by every process that opens the same ``directory``."""

    def __init__(self, directory: Path, size: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._fds = [
            os.open(directory / f"slot-{index}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            for index in range(size)
        ]
        self._held: set[int] = set()  # flock does not exclude the process's own descriptor

    def _try_take(self) -> int | None:
        start = random.randrange(len(self._fds))  # spread the processes over the files
        for offset in range(len(self._fds)):
            index = (start + offset) % len(self._fds)
            if index in self._held:
                continue
            try:
                fcntl.flock(self._fds[index], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            self._held.add(index)
            return index
        return None

    @contextlib.asynccontextmanager
    async def slot(self, wait: float) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (index := self._try_take()) is None:
            if loop.time() >= deadline:
                raise SlotsBusy()
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - loop.time())))
        try:
            yield
        finally:
            self._held.discard(index)
            with contextlib.suppress(OSError, IndexError):  # closed under us at shutdown
                fcntl.flock(self._fds[index], fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


def work_slots(name: str, size: int) -> ProcessSlots | SharedSlots:
    """Slots shared by this server's worker processes when it has several, else per process."""
    instance = os.environ.get(INSTANCE_DIR_ENV)
    if not instance:
        return ProcessSlots(size)
    return SharedSlots(Path(instance) / f"slots-{name}", size)
