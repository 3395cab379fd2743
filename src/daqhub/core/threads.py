"""Blocking calls made by background loops, on a small pool that shutdown can wait for.

Cancelling an asyncio task does not stop a thread it is waiting on; the thread runs on. If
shutdown then disposed of the database while such a call was still running, the call would open
a fresh connection on a closed engine. Background loops therefore run their blocking work
through :class:`ThreadWork`, and the runtime drains it before it closes anything.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ThreadWork:
    def __init__(self, max_workers: int = 4, name: str = "daqhub-background") -> None:
        self._max_workers = max_workers
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: set[asyncio.Future[Any]] = set()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:  # created on first use, again after a shutdown
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._name)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, functools.partial(fn, *args))
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        # Shielded: cancelling the caller leaves the call to finish, and drain() waits for it.
        return await asyncio.shield(future)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every blocking call started so far has returned."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
