"""What a REST resource is: its table, wire fields, relations, filters, ordering and rules.

Every collection of spec §3.6 is one :class:`Resource` declared in
:mod:`daqhub.monitor.catalog`; the generic operations in :mod:`daqhub.monitor.crud` and the
generic routes in :mod:`daqhub.monitor.api.resources` serve them all. Rows are read with one
SELECT whose columns are labelled with the wire names (related objects rendered in their wire
form by a join where needed), so rendering a row is a loop over precomputed converters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause

from daqhub.monitor.fields import Context, Field, Invalid
from daqhub.monitor.listing import Filter

Ordering = tuple[tuple[str, bool], ...]
"""(wire field, descending) pairs; the primary key always breaks ties."""


@dataclass(frozen=True)
class Relation:
    """A foreign key whose wire value is the target's primary key or a natural name."""

    field: str
    column: str
    target: Table
    target_key: str
    by: str = ""
    """Target column the wire value names; empty: the target's primary key."""

    @property
    def by_name(self) -> bool:
        return bool(self.by) and self.by != self.target_key

    def missing_message(self, value: Any) -> str:
        if self.by_name:
            return f"Object with {self.by}={value} does not exist."
        return f'Invalid pk "{value}" - object does not exist.'


@dataclass
class WriteContext:
    """One create or update in progress; hooks read the request and adjust the values."""

    resource: Resource
    data: Mapping[str, Any]
    values: dict[str, Any]
    errors: dict[str, list[str]]
    existing: Mapping[str, Any] | None
    partial: bool
    parse: Context
    adopt: Any = None
    """Set by a hook to turn a create into an update of this key (run-state adoption)."""
    unique_messages: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def creating(self) -> bool:
        return self.existing is None

    def current(self, column: str) -> Any:
        """The value after this write: the new one if given, else the stored one."""
        if column in self.values:
            return self.values[column]
        return None if self.existing is None else self.existing.get(column)


Hook = Callable[[Session, WriteContext], None]
AfterWrite = Callable[[Session, Any, bool], None]


def words(name: str) -> str:
    return name.replace("_", " ")


@dataclass
class Resource:
    path: str
    """URL segment under /api/, e.g. ``stf-files``."""
    table: Table
    title: str
    """Model name in 404 messages: ``No <title> matches the given query.``"""
    verbose: str
    """Model words in uniqueness messages: ``<verbose> with this <field> already exists.``"""
    lookup: str
    """Primary-key column, also the wire name of the ``{key}`` path segment."""
    fields: tuple[Field, ...]
    relations: tuple[Relation, ...] = ()
    filters: Mapping[str, Filter] = field(default_factory=dict)
    ordering: Ordering = ()
    ordering_for: Callable[[Mapping[str, str]], Ordering] | None = None
    unique: tuple[str, ...] = ()
    """Wire fields that are unique on their own."""
    unique_together: tuple[tuple[str, ...], ...] = ()
    """Column groups; the message names the wire fields of the same position."""
    unique_together_names: tuple[tuple[str, ...], ...] = ()
    writable: bool = True
    prepare: Hook | None = None
    after_write: AfterWrite | None = None
    expressions: Mapping[str, Callable[[Table], ColumnElement[Any]]] = field(default_factory=dict)
    event: str = ""
    key_kind: str = "int"
    """How a path key parses: ``int``, ``uuid`` or ``str``."""

    @cached_property
    def relation_by_field(self) -> dict[str, Relation]:
        return {r.field: r for r in self.relations}

    @cached_property
    def key_column(self) -> Any:
        return self.table.c[self.lookup]

    def parse_key(self, raw: str) -> Any:
        """The primary-key value of a path segment; ValueError when it cannot be one."""
        if self.key_kind == "int":
            if not re.fullmatch(r"-?\d{1,18}", raw):
                raise ValueError(raw)
            return int(raw)
        if self.key_kind == "uuid":
            return uuid.UUID(raw)
        return raw

    def column_for(self, wire: str) -> Any:
        """The stored column behind a wire field (FK column for relations)."""
        relation = self.relation_by_field.get(wire)
        if relation is not None:
            return self.table.c[relation.column]
        f = next((f for f in self.fields if f.name == wire), None)
        return self.table.c[f.key if f else wire]

    @cached_property
    def from_clause(self) -> FromClause:
        joined: FromClause = self.table
        for relation in self.relations:
            if relation.by_name:
                joined = joined.outerjoin(
                    relation.target,
                    self.table.c[relation.column] == relation.target.c[relation.target_key],
                )
        return joined

    @cached_property
    def columns(self) -> list[ColumnElement[Any]]:
        result: list[ColumnElement[Any]] = []
        for f in self.fields:
            if f.name in self.expressions:
                result.append(self.expressions[f.name](self.table).label(f.name))
                continue
            relation = self.relation_by_field.get(f.name)
            if relation is None:
                result.append(self.table.c[f.key].label(f.name))
            elif relation.by_name:
                result.append(relation.target.c[relation.by].label(f.name))
            else:
                result.append(self.table.c[relation.column].label(f.name))
        return result

    def select(self) -> Select[Any]:
        return select(*self.columns).select_from(self.from_clause)

    @cached_property
    def _dumpers(self) -> list[tuple[str, Callable[[Any], Any] | None]]:
        return [(f.name, f.dump) for f in self.fields]

    def render(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        return {
            name: (dump(row[name]) if dump is not None else row[name])
            for name, dump in self._dumpers
        }

    def order_by(self, params: Mapping[str, str]) -> list[Any]:
        ordering = self.ordering_for(params) if self.ordering_for else self.ordering
        clauses = []
        seen = False
        for wire, descending in ordering:
            column = self.column_for(wire)
            seen = seen or column is self.key_column
            clauses.append(column.desc() if descending else column.asc())
        if not seen:
            descending = bool(ordering and ordering[0][1])
            clauses.append(self.key_column.desc() if descending else self.key_column.asc())
        return clauses

    def not_found(self) -> str:
        return f"No {self.title} matches the given query."

    def unique_message(self, wire: str) -> str:
        return f"{self.verbose} with this {words(wire)} already exists."


def pk_relation_parser(kind: str) -> Callable[[Any, Context], Any]:
    """Parse a primary-key wire value with DRF's PrimaryKeyRelatedField messages."""

    def parse(value: Any, _ctx: Context) -> Any:
        if kind == "uuid":
            try:
                return uuid.UUID(str(value).strip())
            except (TypeError, ValueError):
                raise Invalid(f'Invalid pk "{value}" - object does not exist.') from None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise Invalid(f"Incorrect type. Expected pk value, received {type(value).__name__}.")
        text = str(value).strip()
        if not re.fullmatch(r"-?\d{1,18}", text):
            raise Invalid(f"Incorrect type. Expected pk value, received {type(value).__name__}.")
        return int(text)

    return parse
