"""The connectivity service's per-process state: the registry plus its bookkeeping
(statistics, metrics, the log of missed lookups) and readiness."""

from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from starlette.requests import Request

from daqhub.connectivity.models import ConnEntry, ConnPartition
from daqhub.connectivity.registry import Registry
from daqhub.connectivity.requests import LookupRequest, PublishRequest
from daqhub.connectivity.settings import ConnectivitySettings
from daqhub.core.auth import TokenStore
from daqhub.core.http import bearer_or_token, client_address
from daqhub.core.metrics import Metrics


class ConnectivityState:
    def __init__(
        self,
        registry: Registry,
        settings: ConnectivitySettings,
        tokens: TokenStore,
        metrics: Metrics,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.tokens = tokens
        self._misses: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # One flush at a time: a flush returns once everything recorded before it is written,
        # even when the periodic flush had already taken those records.
        self._flush_lock = threading.Lock()
        self._lookups = metrics.counter(
            "daqhub_connectivity_lookups_total", "Lookups by outcome", ("result",)
        )
        self._published = metrics.counter(
            "daqhub_connectivity_publish_entries_total", "Connections published"
        )
        self._skipped = metrics.counter(
            "daqhub_connectivity_skipped_entries_total",
            "Publish elements skipped for lacking uid or uri",
        )
        self._rejected = metrics.counter(
            "daqhub_connectivity_rejected_total", "Requests refused", ("reason",)
        )
        metrics.add_collector(_StateCollector(registry))

    def published(self, request: PublishRequest, micros: int) -> None:
        self.registry.stats.publish(len(request.connections), micros)
        self._published.inc(len(request.connections))
        if request.skipped:
            self._skipped.inc(request.skipped)

    def looked_up(
        self, partition: str, query: LookupRequest, found: int, micros: int, client: str
    ) -> None:
        self.registry.stats.lookup(found, micros)
        self._lookups.labels("hit" if found else "empty").inc()
        if not found and self.settings.lookup_log_size:
            self._record_miss(partition, query, "empty", client)

    def rejected(self, code: str) -> None:
        if code == "not_found":
            self._lookups.labels("unknown_partition").inc()
        self._rejected.labels(code).inc()

    def unknown_partition(self, partition: str, query: LookupRequest, client: str) -> None:
        if self.settings.lookup_log_size:
            self._record_miss(partition, query, "unknown_partition", client)

    def _record_miss(self, partition: str, query: LookupRequest, result: str, client: str) -> None:
        with self._lock:
            if len(self._misses) < 10_000:
                self._misses.append(
                    {
                        "partition": partition[:256],
                        "uid_regex": query.uid_regex[:1024],
                        "data_type": query.data_type[:256],
                        "result": result,
                        "client": client[:64],
                        "time": time.time(),
                        "count": 1,
                    }
                )

    def flush(self) -> None:
        """Runs in every process: push statistics and missed lookups to the database."""
        with self._flush_lock:
            self.registry.stats.flush()
            with self._lock:
                misses, self._misses = self._misses, []
            if misses:
                self.registry.record_misses(misses, self.settings.lookup_log_size)

    def token_allows(self, request: Request, scope: str) -> bool:
        """Whether the request carries a valid token (Bearer or Token) with ``scope``."""
        principal = self.tokens.verify(bearer_or_token(request), client=client_address(request))
        return principal is not None and principal.has_scope(scope)

    def is_ready(self) -> bool:
        try:
            with self.registry.db.write() as session:
                session.execute(select(func.count()).select_from(ConnPartition))
            return True
        except Exception:
            return False


class _StateCollector(Collector):
    """Partition and entry gauges computed from the shared state at scrape time."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("daqhub_connectivity_partitions", "Known partitions"),
            GaugeMetricFamily(
                "daqhub_connectivity_entries", "Stored entries by state", labels=["state"]
            ),
        )

    def describe(self) -> Any:
        """Names only, so registering the collector does not query the database."""
        return list(self._families())

    def collect(self) -> Any:
        partitions, entries = self._families()
        try:
            with self._registry.db.read() as session:
                now = self._registry.now(session)
                cutoff = now - self._registry.ttl
                count = session.scalar(select(func.count()).select_from(ConnPartition)) or 0
                live, expired = session.execute(
                    select(
                        func.coalesce(
                            func.sum(case((ConnEntry.last_published > cutoff, 1), else_=0)), 0
                        ),
                        func.coalesce(
                            func.sum(case((ConnEntry.last_published <= cutoff, 1), else_=0)), 0
                        ),
                    )
                ).one()
        except Exception:
            return
        partitions.add_metric([], count)
        entries.add_metric(["live"], live)
        entries.add_metric(["expired"], expired)
        yield partitions
        yield entries
