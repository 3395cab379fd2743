"""List machinery: query-string filters, ordering and opt-in limit/offset pagination (§3.5).

A resource declares its filters as ``name -> Filter``; :func:`conditions` turns the query string
into SQL conditions (exact match, AND-combined, blank values ignored, unknown names ignored,
400 for typed values that do not parse). Without ``?limit=`` a list is a bare JSON array; with
a positive ``limit`` it is the ``{count, next, previous, results}`` envelope, whose links keep
the other parameters and are built on the configured external base URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, String, cast, func
from sqlalchemy.sql.elements import ColumnClause

from daqhub.monitor.errors import FilterInvalid
from daqhub.monitor.timestamps import parse_datetime

Condition = ColumnElement[bool]


@dataclass(frozen=True)
class Filter:
    """One query parameter: how to parse it and the condition it selects."""

    build: Callable[[Any], Condition]
    parse: Callable[[str, tzinfo], Any] = lambda value, _zone: value
    message: str = "invalid value"


def parse_int(value: str, _zone: tzinfo) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(value)
    return int(text)


def _uuid(value: str, _zone: tzinfo) -> uuid.UUID:
    return uuid.UUID(value.strip())


def _bool(value: str, _zone: tzinfo) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(value)
    return text in ("true", "1")


def _datetime(value: str, zone: tzinfo) -> Any:
    return parse_datetime(value, zone)


def exact(column: Any) -> Filter:
    return Filter(lambda v: column == v)


def integer(column: Any, message: str = "must be an integer") -> Filter:
    return Filter(lambda v: column == v, parse_int, message)


def uuid_exact(column: Any, message: str = "must be a UUID") -> Filter:
    return Filter(lambda v: column == v, _uuid, message)


def boolean(column: Any, message: str = "must be a boolean (true/false/1/0)") -> Filter:
    return Filter(lambda v: column.is_(v), _bool, message)


def since(column: Any) -> Filter:
    return Filter(lambda v: column >= v, _datetime, "must be an ISO 8601 date-time")


def until(column: Any) -> Filter:
    return Filter(lambda v: column <= v, _datetime, "must be an ISO 8601 date-time")


def at_least(column: Any, message: str = "must be an integer") -> Filter:
    return Filter(lambda v: column >= v, parse_int, message)


def contains(column: Any) -> Filter:
    """Case-insensitive substring (LIKE wildcards in the value are matched literally)."""

    def build(value: str) -> Condition:
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")

    return Filter(build)


def json_key(column: Any, key: str) -> Filter:
    """A key inside a JSON column, compared as text (so 100010 matches "100010")."""
    extracted = cast(column[key].as_string(), String)
    return Filter(lambda v: extracted == v)


def is_null(column: ColumnClause[Any]) -> Filter:
    return Filter(lambda v: column.is_(None) if v else column.is_not(None), _bool)


def conditions(
    filters: Mapping[str, Filter], params: Mapping[str, str], zone: tzinfo
) -> list[Condition]:
    """The SQL conditions selected by ``params``; FilterInvalid for unparsable typed values."""
    result: list[Condition] = []
    errors: dict[str, str] = {}
    for name, flt in filters.items():
        raw = params.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            value = flt.parse(raw.strip(), zone)
        except (ValueError, TypeError):
            errors[name] = flt.message
            continue
        result.append(flt.build(value))
    if errors:
        raise FilterInvalid(errors)
    return result


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_from(params: Mapping[str, str], max_limit: int) -> Page | None:
    """``?limit=N[&offset=M]``; a limit that is not a positive integer means a bare list."""
    raw = (params.get("limit") or "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    offset_raw = (params.get("offset") or "").strip()
    offset = int(offset_raw) if offset_raw.isdigit() else 0
    return Page(min(int(raw), max_limit), offset)


def page_links(
    base: str, params: list[tuple[str, str]], page: Page, count: int
) -> tuple[str | None, str | None]:
    """``next`` and ``previous`` as DRF's LimitOffsetPagination builds them."""
    others = [(k, v) for k, v in params if k not in ("limit", "offset")]

    def link(offset: int | None) -> str:
        query = [("limit", str(page.limit))]
        if offset is not None:
            query.append(("offset", str(offset)))
        return f"{base}?{urlencode(query + others)}"

    following = None
    if page.offset + page.limit < count:
        following = link(page.offset + page.limit)
    previous = None
    if page.offset > 0:
        back = page.offset - page.limit
        previous = link(back) if back > 0 else link(None)
    return following, previous
