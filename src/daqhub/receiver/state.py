"""Everything the receiver keeps per process: settings, directories, sandbox, gate, limits.

Built by :meth:`ReceiverService.setup` without I/O; :meth:`start` creates the directories and
the sandbox pool, :meth:`stop` ends the sandbox workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sqlalchemy import select

from daqhub.core.auth import ApiToken
from daqhub.core.db import Database
from daqhub.core.runtime import Runtime
from daqhub.core.slots import SlotsBusy, work_slots
from daqhub.receiver.errors import Busy, DataDirUnavailable
from daqhub.receiver.gate import Gate, Throttle
from daqhub.receiver.ledger import AuthFailureLedger
from daqhub.receiver.sandbox import SandboxLimits, SandboxPool
from daqhub.receiver.settings import ReceiverSettings
from daqhub.receiver.storage import Storage
from daqhub.receiver.telemetry import Telemetry

log = logging.getLogger("daqhub.receiver")


class ReceiverState:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: ReceiverSettings = runtime.settings.receiver
        self.db: Database = runtime.db
        self.paths = self.settings.paths(runtime.settings.data_dir)
        self.storage = Storage(
            self.paths,
            file_mode=self.settings.file_mode,
            group_id=self.settings.group_id(),
            direct_io=self.settings.direct_io,
        )
        self.telemetry = Telemetry(runtime.metrics, self.storage)
        self.ledger = AuthFailureLedger(
            runtime.db,
            limit=self.settings.auth_fail_limit,
            window=self.settings.auth_fail_window,
            block=self.settings.auth_block_seconds,
        )
        self.gate = Gate(
            runtime.tokens,
            Throttle(self.ledger, self.settings.trusted_networks),
            self.telemetry.auth_failure,
        )
        self.sandbox = SandboxPool(
            self.settings.validation_workers,
            SandboxLimits(
                cpu_seconds=self.settings.validation_cpu_seconds,
                memory_bytes=self.settings.validation_memory_bytes,
                wall_seconds=self.settings.validation_timeout,
                max_decompressed_bytes=self.settings.max_decompressed_bytes,
                max_histogram_bins=self.settings.max_histogram_bins,
            ),
        )
        self._slots = work_slots("receiver-uploads", self.settings.max_concurrent_uploads)
        self._sandbox_limiter: anyio.CapacityLimiter | None = None
        self._writable = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._sandbox_limiter = anyio.CapacityLimiter(self.settings.validation_workers)
        try:
            await anyio.to_thread.run_sync(self._prepare_dirs)
        except OSError as exc:
            log.error("receiver directories unavailable: %s", exc)
        await anyio.to_thread.run_sync(self._warn_without_tokens)

    def _prepare_dirs(self) -> None:
        self.storage.ensure_dirs()
        data_dev = os.stat(self.paths.data_dir).st_dev
        if os.stat(self.paths.incoming_dir).st_dev != data_dev:
            raise OSError(
                f"{self.paths.incoming_dir} is not on the filesystem of {self.paths.data_dir}; "
                "renames into the data directory would not be atomic"
            )
        self._writable = self.storage.writable()

    def _warn_without_tokens(self) -> None:
        try:
            with self.db.read() as session:
                scopes = session.scalars(
                    select(ApiToken.scopes).where(ApiToken.revoked_at.is_(None))
                ).all()
        except Exception:
            return
        usable = any(
            s == "admin" or s == "receiver" or s.startswith("receiver:")
            for token_scopes in scopes
            for s in token_scopes
        )
        if not usable:
            log.warning(
                "no token grants the receiver scope: every receiver request will be refused "
                "(create one with `daqhub token create NAME --scope receiver [--value V]`)"
            )

    async def stop(self) -> None:
        await anyio.to_thread.run_sync(self.sandbox.close)
        self._slots.close()

    # -- request helpers -----------------------------------------------------------------------

    def ready(self) -> bool:
        self._writable = self.storage.writable()
        return self._writable

    def require_writable(self) -> None:
        if not self._writable and not self.ready():
            raise DataDirUnavailable()

    @contextlib.asynccontextmanager
    async def upload_slot(self) -> AsyncIterator[None]:
        """One of ``max_concurrent_uploads`` of this server (all its worker processes); 503
        after waiting ``busy_wait`` seconds."""
        try:
            async with self._slots.slot(self.settings.busy_wait):
                yield
        except SlotsBusy:
            raise Busy() from None

    async def validate(self, path: str) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(
            self.sandbox.inspect, path, limiter=self._sandbox_limiter
        )

    async def histogram(self, path: str, object_path: str) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(
            self.sandbox.histogram, path, object_path, limiter=self._sandbox_limiter
        )
