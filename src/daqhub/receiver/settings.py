"""Settings of the DQM receiver (spec/receiver.md)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class ReceiverSettings(BaseModel):
    LEGACY_ENV: ClassVar[dict[str, tuple[str, ...]]] = {}
