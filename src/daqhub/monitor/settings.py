"""Settings of the workflow monitor (spec/monitor.md)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class MonitorSettings(BaseModel):
    LEGACY_ENV: ClassVar[dict[str, tuple[str, ...]]] = {}
