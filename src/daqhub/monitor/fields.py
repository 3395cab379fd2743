"""Wire fields: parse request values and render stored ones exactly as the original did.

The original was a Django REST framework service, and its clients (and people reading its
400 bodies) know DRF's conversions and messages, so a field here follows DRF's rules: strings
are trimmed and may come as numbers, integers may come as digit strings, booleans accept
``true/false/1/0/yes/no/on/off``, choices compare by their string form, and every failure has
DRF's message (spec §3.12). A resource (:mod:`daqhub.monitor.resources`) is a list of fields;
:func:`validate` turns a request body into column values plus a field -> messages map.
"""

from __future__ import annotations

import ipaddress
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from daqhub.monitor.timestamps import DATETIME_MESSAGE, format_datetime, parse_datetime

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NULL = "This field may not be null."
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_TRUE = {"t", "y", "yes", "true", "on", "1"}
_FALSE = {"f", "n", "no", "false", "off", "0"}
_DECIMAL_ZERO = re.compile(r"\.0*\s*$")
_URL = re.compile(
    r"^(?:https?|ftps?)://"
    r"(?:[^\s:@/]+(?::[^\s@/]*)?@)?"
    r"(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?"
    r"(?:\.[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?)*\.?"
    r"|\[[0-9a-f:.]+\])"
    r"(?::\d{1,5})?(?:[/?#][^\s]*)?$",
    re.IGNORECASE,
)


class Invalid(Exception):
    """One field's value is not acceptable; ``message`` is the wire message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Context:
    """What parsing needs beyond the value: the zone of naive date-times."""

    naive_zone: tzinfo


Parser = Callable[[Any, Context], Any]
MISSING: Any = object()


@dataclass(frozen=True)
class Field:
    """One wire field of a resource and the column it is stored in."""

    name: str
    parse: Parser
    column: str = ""
    required: bool = False
    null: bool = False
    default: Any = MISSING
    read_only: bool = False
    dump: Callable[[Any], Any] | None = None
    kind: str = "string"
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.column or self.name

    def initial(self) -> Any:
        return self.default() if callable(self.default) else self.default


# -- scalar parsers --------------------------------------------------------------------------------


def parse_string(
    max_length: int | None = None, *, blank: bool = False, choices: Iterable[str] | None = None
) -> Parser:
    allowed = None if choices is None else {str(c): c for c in choices}

    def parse(value: Any, _ctx: Context) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid("Not a valid string.")
        text = str(value).strip()
        if not text:
            if not blank:
                raise Invalid(BLANK)
            return ""
        if allowed is not None:
            if text not in allowed:
                raise Invalid(f'"{value}" is not a valid choice.')
            return allowed[text]
        if max_length is not None and len(text) > max_length:
            raise Invalid(f"Ensure this field has no more than {max_length} characters.")
        return text

    return parse


def parse_int(bounds: tuple[int, int] = INT32, choices: Iterable[int] | None = None) -> Parser:
    low, high = bounds
    allowed = None if choices is None else {str(c): c for c in choices}

    def parse(value: Any, _ctx: Context) -> Any:
        if allowed is not None:
            try:
                return allowed[str(value)]
            except KeyError:
                raise Invalid(f'"{value}" is not a valid choice.') from None
        if isinstance(value, bool):
            raise Invalid("A valid integer is required.")
        if isinstance(value, int):
            number = value
        else:
            if isinstance(value, str) and len(value) > 1000:
                raise Invalid("String value too large.")
            try:
                number = int(_DECIMAL_ZERO.sub("", str(value)))
            except (TypeError, ValueError):
                raise Invalid("A valid integer is required.") from None
        if number < low:
            raise Invalid(f"Ensure this value is greater than or equal to {low}.")
        if number > high:
            raise Invalid(f"Ensure this value is less than or equal to {high}.")
        return number

    return parse


def parse_float(value: Any, _ctx: Context) -> float:
    if isinstance(value, str) and len(value) > 1000:
        raise Invalid("String value too large.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid("A valid number is required.") from None
    if math.isnan(number) or math.isinf(number):
        raise Invalid("A valid number is required.")
    return number


def parse_bool(value: Any, _ctx: Context) -> bool:
    if value is True or value is False:
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid("Must be a valid boolean.")


def parse_dt(value: Any, ctx: Context) -> datetime:
    if not isinstance(value, str):
        raise Invalid(DATETIME_MESSAGE)
    try:
        return parse_datetime(value, ctx.naive_zone)
    except ValueError:
        raise Invalid(DATETIME_MESSAGE) from None


def parse_json(value: Any, _ctx: Context) -> Any:
    return value


def parse_uuid(value: Any, _ctx: Context) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid("Must be a valid UUID.") from None


def parse_url(max_length: int) -> Parser:
    text_parser = parse_string(max_length)

    def parse(value: Any, ctx: Context) -> str:
        text = str(text_parser(value, ctx))
        if not _URL.match(text):
            raise Invalid("Enter a valid URL.")
        return text

    return parse


def parse_ip(value: Any, _ctx: Context) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise Invalid("Enter a valid IPv4 or IPv6 address.") from None


# -- field constructors ----------------------------------------------------------------------------


def _dump_uuid(value: Any) -> Any:
    return None if value is None else str(value)


def string(
    name: str,
    max_length: int | None = None,
    *,
    required: bool = False,
    null: bool = False,
    default: Any = MISSING,
    blank: bool | None = None,
    choices: Iterable[str] | None = None,
    column: str = "",
    read_only: bool = False,
) -> Field:
    allow_blank = blank if blank is not None else (null or default == "")
    return Field(
        name,
        parse_string(max_length, blank=allow_blank, choices=choices),
        column=column,
        required=required,
        null=null,
        default=default,
        read_only=read_only,
        meta={"max_length": max_length, "choices": list(choices) if choices else None},
    )


def integer(
    name: str,
    *,
    required: bool = False,
    null: bool = False,
    default: Any = MISSING,
    big: bool = False,
    choices: Iterable[int] | None = None,
    read_only: bool = False,
    column: str = "",
) -> Field:
    return Field(
        name,
        parse_int(INT64 if big else INT32, choices),
        column=column,
        required=required,
        null=null,
        default=default,
        read_only=read_only,
        kind="integer",
    )


def floating(name: str, *, required: bool = False, null: bool = False) -> Field:
    return Field(name, parse_float, required=required, null=null, kind="number")


def boolean(name: str, *, default: Any = MISSING, null: bool = False) -> Field:
    return Field(name, parse_bool, null=null, default=default, kind="boolean")


def dt(name: str, *, required: bool = False, null: bool = False, read_only: bool = False) -> Field:
    return Field(
        name,
        parse_dt,
        required=required,
        null=null,
        read_only=read_only,
        dump=format_datetime,
        kind="date-time",
    )


def json_field(
    name: str,
    *,
    required: bool = False,
    null: bool = False,
    default: Any = MISSING,
    column: str = "",
) -> Field:
    return Field(
        name,
        parse_json,
        column=column,
        required=required,
        null=null,
        default=default,
        kind="json",
    )


def uuid_field(
    name: str,
    *,
    required: bool = False,
    null: bool = False,
    read_only: bool = False,
    column: str = "",
) -> Field:
    return Field(
        name,
        parse_uuid,
        column=column,
        required=required,
        null=null,
        read_only=read_only,
        dump=_dump_uuid,
        kind="uuid",
    )


def url(name: str, max_length: int, *, null: bool = False) -> Field:
    return Field(name, parse_url(max_length), null=null, kind="uri")


def ip(name: str, *, null: bool = False) -> Field:
    return Field(name, parse_ip, null=null, kind="ip")


def created(name: str = "created_at") -> Field:
    return dt(name, read_only=True)


# -- validation ------------------------------------------------------------------------------------


def validate(
    fields: Iterable[Field],
    data: Mapping[str, Any],
    ctx: Context,
    *,
    partial: bool,
    creating: bool = False,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Column values for the fields present (plus defaults on create) and the field errors.

    Unknown and read-only keys are ignored; with ``partial`` (PATCH) absent fields are left
    alone, otherwise required ones are reported (and, when ``creating``, defaults filled in).
    """
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for f in fields:
        if f.read_only:
            continue
        if f.name not in data:
            if partial:
                continue
            if f.required:
                errors[f.name] = [REQUIRED]
            elif creating and f.default is not MISSING:
                values[f.key] = f.initial()
            continue
        raw = data[f.name]
        if raw is None:
            if f.null:
                values[f.key] = None
            else:
                errors[f.name] = [NULL]
            continue
        try:
            values[f.key] = f.parse(raw, ctx)
        except Invalid as exc:
            errors[f.name] = [exc.message]
    return values, errors
