"""Generic list / retrieve / create / update / delete over a :class:`Resource`.

Each write is one unit of work: validate the body's fields, resolve related objects, run the
resource's hook, check uniqueness (so duplicates get DRF's messages rather than a database
error), write, re-read the row in its wire form and record an outbox event. A uniqueness race
lost to a concurrent writer surfaces as an IntegrityError; the write is then retried once, and
its pre-checks report the conflict like any other duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daqhub.core.db import Database
from daqhub.core.outbox import emit
from daqhub.monitor.errors import NotFound, ValidationFailed
from daqhub.monitor.fields import Context, validate
from daqhub.monitor.listing import Page, conditions
from daqhub.monitor.resource import Resource, WriteContext

log = logging.getLogger("daqhub.monitor")


@dataclass
class Listing:
    items: list[dict[str, Any]]
    count: int
    truncated: bool = False


def list_objects(
    db: Database,
    res: Resource,
    params: Mapping[str, str],
    zone: tzinfo,
    page: Page | None,
    *,
    cap: int | None = None,
) -> Listing:
    """Filtered, ordered rows; a page when ``page`` is given, else all (or the first ``cap``)."""
    where = conditions(res.filters, params, zone)
    statement = res.select().where(*where).order_by(*res.order_by(params))
    with db.read() as session:
        if page is not None:
            count = _count(session, res, where)
            rows = session.execute(statement.limit(page.limit).offset(page.offset)).mappings()
            return Listing([res.render(r) for r in rows], count)
        if cap is not None:
            capped = session.execute(statement.limit(cap + 1)).mappings().all()
            if len(capped) > cap:
                items = [res.render(r) for r in capped[:cap]]
                return Listing(items, _count(session, res, where), True)
            return Listing([res.render(r) for r in capped], len(capped))
        items = [res.render(r) for r in session.execute(statement).mappings()]
        return Listing(items, len(items))


def _count(session: Session, res: Resource, where: list[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(res.from_clause).where(*where)) or 0)


def key_of(res: Resource, raw: str) -> Any:
    """The primary key named by a path segment; a value of the wrong type is a plain 404."""
    try:
        return res.parse_key(raw)
    except ValueError:
        raise NotFound() from None


def fetch(session: Session, res: Resource, key: Any) -> dict[str, Any] | None:
    row = session.execute(res.select().where(res.key_column == key)).mappings().first()
    return None if row is None else res.render(row)


def get_object(db: Database, res: Resource, raw_key: str) -> dict[str, Any]:
    key = key_of(res, raw_key)
    with db.read() as session:
        obj = fetch(session, res, key)
    if obj is None:
        raise NotFound(res.not_found())
    return obj


def create_object(
    db: Database, res: Resource, data: Mapping[str, Any], ctx: Context
) -> tuple[dict[str, Any], bool]:
    """The new (or adopted) object and True if a row was inserted."""
    for attempt in (1, 2):
        try:
            return _write(db, res, data, ctx, key=None, partial=False)
        except IntegrityError:
            if attempt == 2:
                log.warning("%s: write conflicted twice with concurrent writers", res.path)
                raise ValidationFailed(
                    {"non_field_errors": ["The request conflicts with a concurrent change."]}
                ) from None
    raise AssertionError("unreachable")


def update_object(
    db: Database,
    res: Resource,
    raw_key: str,
    data: Mapping[str, Any],
    ctx: Context,
    *,
    partial: bool,
) -> dict[str, Any]:
    key = key_of(res, raw_key)
    for attempt in (1, 2):
        try:
            obj, _ = _write(db, res, data, ctx, key=key, partial=partial)
            return obj
        except IntegrityError:
            if attempt == 2:
                raise ValidationFailed(
                    {"non_field_errors": ["The request conflicts with a concurrent change."]}
                ) from None
    raise AssertionError("unreachable")


def delete_object(db: Database, res: Resource, raw_key: str) -> None:
    key = key_of(res, raw_key)
    with db.write() as session:
        result = session.execute(delete(res.table).where(res.key_column == key))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(res.not_found())
        _event(session, res, "deleted", key)


def _write(
    db: Database,
    res: Resource,
    data: Mapping[str, Any],
    ctx: Context,
    *,
    key: Any,
    partial: bool,
) -> tuple[dict[str, Any], bool]:
    with db.write() as session:
        existing = None
        if key is not None:
            existing = _stored(session, res, key)
            if existing is None:
                raise NotFound(res.not_found())
        values, errors = validate(res.fields, data, ctx, partial=partial, creating=key is None)
        if key is not None:
            values.pop(res.lookup, None)  # the key of an existing object never changes
        write = WriteContext(res, data, values, errors, existing, partial, ctx)
        _resolve_relations(session, write)
        if res.prepare is not None:
            res.prepare(session, write)
        if write.adopt is None:
            _check_unique(session, write, key)
        if write.errors:
            raise ValidationFailed(write.errors)
        created = False
        if write.adopt is not None:
            key = write.adopt
            session.execute(update(res.table).where(res.key_column == key).values(**values))
        elif key is None:
            result = cast(CursorResult[Any], session.execute(insert(res.table).values(**values)))
            key = values.get(res.lookup)
            if key is None:
                assert result.inserted_primary_key is not None
                key = result.inserted_primary_key[0]
            created = True
        elif values:
            session.execute(update(res.table).where(res.key_column == key).values(**values))
        if res.after_write is not None:
            res.after_write(session, key, created)
        obj = fetch(session, res, key)
        assert obj is not None
        _event(session, res, "created" if created else "updated", key)
        return obj, created or write.adopt is not None


def _stored(session: Session, res: Resource, key: Any) -> dict[str, Any] | None:
    row = session.execute(select(res.table).where(res.key_column == key)).mappings().first()
    return None if row is None else dict(row)


def _resolve_relations(session: Session, write: WriteContext) -> None:
    for relation in write.resource.relations:
        if relation.field not in write.values:
            continue
        value = write.values.pop(relation.field)
        if value is None:
            write.values[relation.column] = None
            continue
        target = relation.target
        match = target.c[relation.by or relation.target_key]
        found = session.scalar(select(target.c[relation.target_key]).where(match == value))
        if found is None:
            write.errors[relation.field] = [relation.missing_message(value)]
        else:
            write.values[relation.column] = found


def _check_unique(session: Session, write: WriteContext, key: Any) -> None:
    res = write.resource
    for wire in res.unique:
        column = res.column_for(wire)
        if wire in write.errors or column.key not in write.values:
            continue
        value = write.values[column.key]
        query = select(exists().where(column == value))
        if key is not None:
            query = select(exists().where(column == value, res.key_column != key))
        if session.scalar(query):
            write.errors[wire] = [res.unique_message(wire)]
    groups = list(zip(res.unique_together, res.unique_together_names, strict=True))
    for columns, names in groups:
        if any(n in write.errors for n in names):
            continue
        if not any(c in write.values for c in columns):
            continue
        current = [write.current(c) for c in columns]
        if any(v is None for v in current):
            continue
        clause = [res.table.c[c] == v for c, v in zip(columns, current, strict=True)]
        if key is not None:
            clause.append(res.key_column != key)
        if session.scalar(select(exists().where(*clause))):
            message = write.unique_messages.get(columns) or (
                f"The fields {', '.join(names)} must make a unique set."
            )
            write.errors.setdefault("non_field_errors", []).append(message)


def _event(session: Session, res: Resource, action: str, key: Any) -> None:
    if res.event:
        emit(session, f"monitor.{res.event}.{action}", {"table": res.path, "key": str(key)})
