"""The receiver's Prometheus metrics (spec §4.6).

Counters and histograms are updated by the upload path; the inbox and quarantine file counts
and the free space are computed when ``/metrics`` is scraped, so every worker reports the same
directory state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from daqhub.core.metrics import Metrics
from daqhub.receiver.storage import QUARANTINE_SUFFIX, Storage

SIZE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _DirectoryGauges(Collector):
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def collect(self) -> Iterator[GaugeMetricFamily]:
        paths = self._storage.paths
        yield GaugeMetricFamily(
            "daqhub_receiver_inbox_files",
            "Listable files in the receiver's data directory",
            value=self._storage.count(paths.data_dir),
        )
        yield GaugeMetricFamily(
            "daqhub_receiver_quarantine_files",
            "Invalid payloads kept in quarantine",
            value=self._storage.count(paths.quarantine_dir, QUARANTINE_SUFFIX),
        )
        try:
            free = self._storage.free_bytes()
        except OSError:  # the folder is gone: the health check says so
            return
        yield GaugeMetricFamily(
            "daqhub_receiver_free_bytes",
            "Bytes free for uploads on the data folder's filesystem (alert well above "
            "receiver.min_free_bytes)",
            value=free,
        )


class Telemetry:
    def __init__(self, metrics: Metrics, storage: Storage) -> None:
        self.uploads = metrics.counter(
            "daqhub_receiver_uploads_total", "Upload requests by outcome", ("outcome",)
        )
        self.upload_bytes = metrics.counter(
            "daqhub_receiver_upload_bytes_total", "Payload bytes received and kept"
        )
        self.upload_seconds = metrics.histogram(
            "daqhub_receiver_upload_seconds", "Time to handle an upload", buckets=SIZE_BUCKETS
        )
        self.validation_seconds = metrics.histogram(
            "daqhub_receiver_validation_seconds",
            "Time to validate a payload in the sandbox",
            buckets=SIZE_BUCKETS,
        )
        self.auth_failures = metrics.counter(
            "daqhub_receiver_auth_failures_total", "Refused credentials by reason", ("reason",)
        )
        self.last_upload = metrics.gauge(
            "daqhub_receiver_last_upload_timestamp",
            "Unix time of the last valid upload per agent",
            ("agent",),
        )
        self.scrub_mismatches = metrics.counter(
            "daqhub_receiver_scrub_mismatches_total",
            "Stored files whose bytes no longer match their recorded checksum",
        )
        metrics.add_collector(_DirectoryGauges(storage))

    def auth_failure(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def stored(self, agent: str, size: int) -> None:
        self.upload_bytes.inc(size)
        self.last_upload.labels(agent).set(time.time())
