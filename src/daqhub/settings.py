"""One settings root for the whole server.

Precedence, lowest first: defaults < config file (TOML) < legacy environment variables of the
original services < ``DAQHUB_*`` environment variables < explicit overrides (CLI flags).

Environment names are ``DAQHUB_`` + the dotted path in upper case with ``__`` between levels,
e.g. ``connectivity.entry_ttl`` -> ``DAQHUB_CONNECTIVITY__ENTRY_TTL``. Lists and mappings are JSON.
The config file is named by ``--config`` or ``DAQHUB_CONFIG``.

Nothing here is a global: every process builds its ``Settings`` once and passes it down.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from daqhub.connectivity.settings import ConnectivitySettings
from daqhub.monitor.settings import MonitorSettings
from daqhub.receiver.settings import ReceiverSettings

ENV_PREFIX = "DAQHUB_"
RESOLVED_ENV = "DAQHUB_RESOLVED_SETTINGS"
"""Worker processes receive the parent's resolved settings (as JSON) through this variable."""

_config_file: ContextVar[Path | None] = ContextVar("daqhub_config_file", default=None)


class DatabaseSettings(BaseModel):
    """Tuning of the database layer; the URL itself is the root's ``database_url``."""

    auto_upgrade: bool | None = Field(
        default=None,
        description="Apply pending migrations at start-up. Default: yes on SQLite, no elsewhere.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="FULL",
        description="SQLite fsync policy; FULL keeps acknowledged writes on power loss.",
    )
    pool_size: int = Field(default=10, ge=1)
    busy_timeout_ms: int = Field(default=10_000, ge=0, description="SQLite lock wait.")


class EventSettings(BaseModel):
    """The event bus and the transactional outbox that feeds it."""

    backend: Literal["auto", "memory", "redis"] = Field(
        default="auto", description="auto: redis when redis_url is set, else in-process."
    )
    redis_prefix: str = Field(default="daqhub", description="Key and channel prefix on Redis.")
    history: int = Field(default=10_000, ge=0, description="Events kept for Last-Event-ID resume.")
    relay_interval: float = Field(default=0.2, gt=0, description="Outbox poll period in seconds.")
    retention: float = Field(default=3600.0, ge=0, description="Outbox rows kept, in seconds.")
    subscriber_queue: int = Field(default=1000, ge=1)


class AuthSettings(BaseModel):
    cache_seconds: float = Field(
        default=2.0, ge=0, description="Verified tokens are cached this long (revocation lag)."
    )
    last_used_interval: float = Field(
        default=60.0, ge=0, description="A token's last-use time is written at most this often."
    )
    rotation_overlap: float = Field(
        default=86400.0,
        ge=0,
        description="Seconds a rotated token's previous value keeps working (default one day).",
    )


class TaskSettings(BaseModel):
    leader_retry_interval: float = Field(
        default=1.0, gt=0, description="How often a standby process tries to take a singleton lock."
    )


class Settings(BaseSettings):
    """The resolved configuration of one daqhub process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(default=Path("daqhub-data"), description="Where everything lives.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite at <data_dir>/daqhub.db."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Token hashing key; default: <data_dir>/secret.key (0600)."
    )
    redis_url: str | None = Field(default=None, description="Redis for cross-process events.")
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:8000"])
    workers: int = Field(default=1, ge=1)
    header_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a connection has to send a request's line and headers, from when "
        "it opens or its previous response ends; then it is closed.",
    )
    log_level: str = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    connectivity: ConnectivitySettings = Field(default_factory=ConnectivitySettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'daqhub.db'}"

    @property
    def event_backend(self) -> Literal["memory", "redis"]:
        if self.events.backend == "auto":
            return "redis" if self.redis_url else "memory"
        return self.events.backend

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            LegacyEnvSource(settings_cls),
        ]
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def _legacy_aliases() -> dict[str, tuple[str, ...]]:
    """Environment variables of the original programs, mapped to their daqhub setting paths."""
    aliases: dict[str, tuple[str, ...]] = {"REDIS_URL": ("redis_url",)}
    for section, model in (
        ("connectivity", ConnectivitySettings),
        ("receiver", ReceiverSettings),
        ("monitor", MonitorSettings),
    ):
        for env_name, path in getattr(model, "LEGACY_ENV", {}).items():
            aliases[env_name] = (section, *path)
    return aliases


class LegacyEnvSource(PydanticBaseSettingsSource):
    """Reads ``ENTRY_TTL``, ``REDIS_URL`` ... below the ``DAQHUB_`` names (which win over them)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ builds the whole mapping at once

    def __call__(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for env_name, path in _legacy_aliases().items():
            raw = os.environ.get(env_name)
            if raw is None or raw == "":
                continue
            node = result
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = raw
        return result


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, nested mappings merged key by key rather than replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Resolve settings from every source; ``overrides`` (CLI flags) win over everything.

    ``overrides`` may be nested (``{"connectivity": {"entry_ttl": 1}}``); keys whose value is
    ``None`` are ignored so that absent CLI options do not shadow lower sources.
    """
    if config_file is None and os.environ.get("DAQHUB_CONFIG"):
        config_file = os.environ["DAQHUB_CONFIG"]
    clean = _drop_none(dict(overrides or {}))
    resolved = os.environ.get(RESOLVED_ENV)
    if resolved:  # a worker process: the parent already resolved everything but the secret
        data = deep_merge(json.loads(resolved), clean)
        if os.environ.get("DAQHUB_SECRET_KEY"):
            data["secret_key"] = os.environ["DAQHUB_SECRET_KEY"]
        return Settings.model_validate(data)
    token = _config_file.set(Path(config_file) if config_file else None)
    try:
        return Settings(**clean)
    finally:
        _config_file.reset(token)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def export_for_workers(settings: Settings) -> str:
    """The JSON handed to worker processes; the secret key stays out (workers read it again)."""
    data = settings.model_dump(mode="json", exclude={"secret_key"})
    return json.dumps(data)
