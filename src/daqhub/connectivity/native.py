"""daqhub's own read-only view of the registry (spec/connectivity.md §4.2, §4.3):
partition summaries, entries with their ages, missed lookups, and the change-event stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from daqhub.connectivity.errors import ConnectivityError, Forbidden, PartitionNotFound, render
from daqhub.connectivity.models import ConnEntry, ConnLookupMiss, ConnPartition
from daqhub.connectivity.state import ConnectivityState
from daqhub.core.db import isoformat
from daqhub.core.errors import json_response
from daqhub.core.events import Event
from daqhub.core.runtime import Runtime
from daqhub.core.sse import stream_events

TAG = "connectivity"


def _iso(ts: float | None) -> str | None:
    """Unix seconds (the registry's clock) in daqhub's timestamp format."""
    return None if ts is None else isoformat(datetime.fromtimestamp(ts, UTC))


def partitions_summary(state: ConnectivityState) -> list[dict[str, Any]]:
    registry = state.registry
    with registry.db.read() as session:
        now = registry.now(session)
        cutoff = now - registry.ttl
        parts = session.scalars(select(ConnPartition).order_by(ConnPartition.name)).all()
        live_by_id: dict[int, int] = {}
        for pid, lp in session.execute(select(ConnEntry.partition_id, ConnEntry.last_published)):
            if lp > cutoff:
                live_by_id[pid] = live_by_id.get(pid, 0) + 1
        return [
            {
                "partition": p.name,
                "entries": p.entry_count,
                "live": live_by_id.get(p.id, 0),
                "expired": p.entry_count - live_by_id.get(p.id, 0),
                "created_at": _iso(p.created_at),
                "last_publish_at": _iso(p.last_publish_at),
            }
            for p in parts
        ]


def partition_detail(state: ConnectivityState, name: str) -> list[dict[str, Any]]:
    registry = state.registry
    with registry.db.read() as session:
        now = registry.now(session)
        partition = session.scalar(select(ConnPartition).where(ConnPartition.name == name))
        if partition is None:
            raise PartitionNotFound(name)
        rows = session.scalars(
            select(ConnEntry).where(ConnEntry.partition_id == partition.id).order_by(ConnEntry.seq)
        ).all()
        return [
            {
                "uid": e.uid,
                "uri": e.uri,
                "data_type": e.data_type,
                "connection_type": e.connection_type,
                "capacity": e.capacity,
                "first_published_at": _iso(e.first_published),
                "last_published_at": _iso(e.last_published),
                "age_s": round(now - e.last_published, 6),
                "expired": now - e.last_published >= registry.ttl,
                "publish_count": e.publish_count,
                "publisher": e.publisher,
            }
            for e in rows
        ]


def recent_misses(state: ConnectivityState, name: str, limit: int) -> list[dict[str, Any]]:
    with state.registry.db.read() as session:
        rows = session.scalars(
            select(ConnLookupMiss)
            .where(ConnLookupMiss.partition == name)
            .order_by(ConnLookupMiss.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "uid_regex": m.uid_regex,
                "data_type": m.data_type,
                "result": m.result,
                "client": m.client,
                "time": _iso(m.time),
            }
            for m in rows
        ]


def mount(app: FastAPI, state: ConnectivityState, runtime: Runtime) -> None:
    router = APIRouter(prefix="/api/v1", tags=[TAG])
    settings = state.settings

    def authorize(request: Request) -> None:
        if settings.admin_auth == "open":
            return
        if settings.admin_auth == "disabled" or not state.token_allows(request, "connectivity"):
            raise Forbidden("A token with the connectivity scope is required")

    async def answer(request: Request, work: Any) -> Response:
        try:
            authorize(request)
            return json_response(await run_in_threadpool(work), 200)
        except ConnectivityError as exc:
            return render(exc)

    @router.get("/partitions")
    async def list_partitions(request: Request) -> Response:
        """Every partition with its entry counts (live and expired)."""
        return await answer(request, lambda: partitions_summary(state))

    @router.get("/partitions/{partition}")
    async def get_partition(request: Request, partition: str) -> Response:
        """All entries of one partition, with ages, publish counts and publishers."""
        return await answer(request, lambda: partition_detail(state, partition))

    @router.get("/partitions/{partition}/lookups")
    async def get_lookups(request: Request, partition: str, limit: int = 100) -> Response:
        """Recent lookups that found nothing: which application waits for which endpoint."""
        return await answer(
            request, lambda: recent_misses(state, partition, max(1, min(limit, 1000)))
        )

    @router.get("/events")
    async def events(request: Request, partition: str | None = None) -> Response:
        """Server-Sent Events of registry changes (``connectivity.*``), resumable."""
        try:
            authorize(request)
        except ConnectivityError as exc:
            return render(exc)

        def same_partition(event: Event) -> bool:
            return partition is None or event.data.get("partition") == partition

        return await stream_events(
            request, runtime.bus, types=["connectivity.*"], predicate=same_partition
        )

    app.include_router(router)
