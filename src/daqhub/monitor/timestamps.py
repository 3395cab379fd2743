"""Date-time input and output of the monitor API (spec §3.3).

Input: ISO 8601 with ``T`` or a space, optional seconds, 0-6 fractional digits and an optional
``Z`` or ``±HH:MM`` offset. Values without an offset come from agents calling
``datetime.now().isoformat()`` and are read in the configured ``naive_timezone``. A bare date is
rejected. Output everywhere: UTC, six fractional digits, ``+00:00``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from daqhub.core.db import isoformat

__all__ = ["DATETIME_MESSAGE", "format_datetime", "parse_datetime", "zone"]

DATETIME_MESSAGE = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


@lru_cache(maxsize=32)
def zone(name: str) -> tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def parse_datetime(value: str, naive_zone: tzinfo) -> datetime:
    """An aware datetime, or ValueError when ``value`` is not an accepted date-time."""
    match = _ISO.fullmatch(value.strip())
    if match is None:
        raise ValueError(value)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    naive = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro
    )
    if offset is None:
        return naive.replace(tzinfo=naive_zone)
    if offset in ("Z", "z"):
        return naive.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    if delta >= timedelta(hours=24):
        raise ValueError(value)
    return naive.replace(tzinfo=timezone(sign * delta))


def format_datetime(value: datetime | None) -> str | None:
    """The single output format: ``2026-08-07T14:03:21.123456+00:00``."""
    return isoformat(value)
