"""Settings of the workflow monitor (spec/monitor.md).

Every interval and limit of the REST API lives here; environment names follow the shared rule,
e.g. ``monitor.log_retention_days`` -> ``DAQHUB_MONITOR__LOG_RETENTION_DAYS``. The broker-ingest
settings (``ACTIVEMQ_*``) arrive with the ingest itself.
"""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

MiB = 1024 * 1024


class MonitorSettings(BaseModel):
    LEGACY_ENV: ClassVar[dict[str, tuple[str, ...]]] = {}

    prefix: str = Field(
        default="",
        description="Mount prefix of every monitor route, e.g. /swf-monitor (default: none).",
    )
    external_base_url: str | None = Field(
        default=None,
        description="Scheme and host used in pagination links (default: the request's own).",
    )
    naive_timezone: str = Field(
        default="America/New_York",
        description="Zone in which date-times without an offset are interpreted.",
    )
    max_page_limit: int = Field(default=10_000, ge=1, description="Largest accepted ?limit=.")
    logs_max_unpaged: int = Field(
        default=10_000, ge=1, description="Rows in a bare /api/logs/ list (newest first)."
    )
    logs_body_limit: int = Field(default=1 * MiB, ge=1024, description="Bytes per log POST.")
    body_limit: int = Field(default=10 * MiB, ge=1024, description="Bytes per other request.")
    log_batch_max: int = Field(
        default=500, ge=1, description="Most log records committed in one transaction."
    )
    log_retention_days: float = Field(
        default=30.0, ge=0, description="Logs older than this are deleted (0: keep forever)."
    )
    log_retention_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between retention runs."
    )
    log_retention_batch: int = Field(
        default=10_000, ge=1, description="Rows deleted per retention transaction."
    )
    stale_agent_seconds: float = Field(
        default=180.0, gt=0, description="Agents silent this long are marked EXITED."
    )
    stale_sweep_interval: float = Field(
        default=30.0, gt=0, description="Seconds between background stale-agent sweeps."
    )
    liveness_seconds: float = Field(
        default=300.0, gt=0, description="Agents heard from within this are alive."
    )
    relay_rest_messages: bool = Field(
        default=False, description="Also relay workflow messages created over REST (later)."
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        return value

    @field_validator("external_base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @field_validator("naive_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
