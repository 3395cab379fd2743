"""One Prometheus registry per process, names ``daqhub_<service>_...``.

With several worker processes, ``daqhub serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start; counters and histograms then live in shared files and every
worker's ``/metrics`` shows the sum. Gauges that describe shared state (partitions, files ...) are
computed at scrape time by collectors, so they are the same whichever worker answers.

HTTP requests are counted by :class:`RequestMetrics`, a plain ASGI middleware (cheap on hot
paths), labelled with the route template, never the raw path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Factory and registry of this process's metrics: the same name gives the same metric."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Any] = {}
        self._collectors: list[Collector] = []
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return cast(
            Counter, self._get(name, lambda: Counter(name, doc, labels, registry=self.registry))
        )

    def histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        def make() -> Histogram:
            return Histogram(name, doc, labels, registry=self.registry, buckets=tuple(buckets))

        return cast(Histogram, self._get(name, make))

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        def make() -> Gauge:
            return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode="livemax")

        return cast(Gauge, self._get(name, make))

    def add_collector(self, collector: Collector) -> None:
        """A collector computed at scrape time (shared state, identical on every worker)."""
        self._collectors.append(collector)
        self.registry.register(collector)

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = make()
        return metric

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            for collector in self._collectors:
                registry.register(collector)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: ``daqhub_<service>_requests_total{route,method,status}`` and latency.

    The service is the first tag of the matched route (``daqhub_core_...`` for untagged routes);
    unmatched requests are counted under route ``<unmatched>``.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._counters: dict[str, tuple[Counter, Histogram]] = {}

    def _pair(self, service: str) -> tuple[Counter, Histogram]:
        pair = self._counters.get(service)
        if pair is None:
            pair = (
                self.metrics.counter(
                    f"daqhub_{service}_requests_total",
                    f"HTTP requests answered by the {service} service",
                    ("route", "method", "status"),
                ),
                self.metrics.histogram(
                    f"daqhub_{service}_request_seconds",
                    f"Time to answer {service} HTTP requests",
                    ("route",),
                ),
            )
            self._counters[service] = pair
        return pair

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            tags = getattr(route, "tags", None) or ()
            service = str(tags[0]) if tags else "core"
            counter, histogram = self._pair(service.replace("-", "_"))
            counter.labels(template, scope["method"], str(status)).inc()
            histogram.labels(template).observe(time.perf_counter() - start)
