"""Settings of the connectivity service (spec/connectivity.md §2.2, §2.12, §3)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, field_validator


class ConnectivitySettings(BaseModel):
    LEGACY_ENV: ClassVar[dict[str, tuple[str, ...]]] = {
        "ENTRY_TTL": ("entry_ttl",),
        "CONNECTION_FLASK_DEBUG": ("debug_level",),
    }

    entry_ttl: float = Field(default=10.0, gt=0, description="Seconds an entry stays live.")
    match_mode: Literal["fullmatch", "search"] = Field(
        default="fullmatch", description="search reproduces v1.0.0 substring matching."
    )
    expired_retention: float = Field(
        default=86_400.0, ge=0, description="Seconds expired entries are kept; 0 keeps them."
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_connections_per_request: int = Field(default=10_000, gt=0)
    max_partitions: int = Field(default=10_000, gt=0)
    max_entries_per_partition: int = Field(default=100_000, gt=0)
    admin_auth: Literal["open", "token", "disabled"] = "open"
    allowed_networks: list[str] = Field(
        default_factory=list, description="CIDRs allowed to call the service; empty allows all."
    )
    require_token: bool = Field(
        default=False, description="Require a connectivity-scoped token on every route."
    )
    request_deadline: float = Field(default=2.0, gt=0, description="Hard deadline per request (s).")
    dump_row_limit: int = Field(default=10_000, gt=0)
    sweep_interval: float = Field(
        default=0.5, gt=0, description="Expiry detection and purge period in seconds."
    )
    stats_flush_interval: float = Field(
        default=1.0, gt=0, description="Per-process statistics reach the database this often."
    )
    lookup_log_size: int = Field(default=1000, ge=0, description="Recent missed lookups kept.")
    debug_level: int = Field(default=0, description="CONNECTION_FLASK_DEBUG verbosity.")

    @field_validator("debug_level", mode="before")
    @classmethod
    def _lenient_debug(cls, value: object) -> object:
        # The original treated a non-integer CONNECTION_FLASK_DEBUG as "on" (INFO).
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return 1
        return value
