"""Parsing and validation of the connectivity wire bodies (spec/connectivity.md §2.4-§2.7).

Every request is validated completely before anything is changed, so a malformed request can
never leave half of its effect behind (the original stored part of a bad publish and then kept
its global lock forever). These functions are pure: bytes in, a request object or an error out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from daqhub.connectivity.errors import BadRequest, InvalidJson, PayloadTooLarge

log = logging.getLogger(__name__)

MAX_PARTITION_LEN = 256
MAX_UID_LEN = 1024
MAX_UID_BYTES = 2048
"""UTF-8 bytes of a uid: it is a key of a database index (PostgreSQL's btree entries stop near
2,700 bytes); 1,024 characters of ASCII or two-byte UTF-8 always fit."""
MAX_URI_LEN = 4096
MAX_DATA_TYPE_LEN = 256
MAX_REGEX_LEN = 1024
CONNECTION_TYPE_NAMES = {"kSendRecv": 0, "kPubSub": 1, "kInvalid": 2}


@dataclass(frozen=True)
class Connection:
    uid: str
    uri: str
    data_type: str
    connection_type: int
    capacity: int


@dataclass(frozen=True)
class PublishRequest:
    partition: str
    connections: list[Connection]
    """Accepted elements, de-duplicated: the later element wins, in first-occurrence order."""
    skipped: int


@dataclass(frozen=True)
class LookupRequest:
    uid_regex: str
    data_type: str


@dataclass(frozen=True)
class RetractRequest:
    partition: str
    uids: list[str]


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type (the original ignored it)."""
    if not body or not body.strip():
        raise BadRequest("Empty request body")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("Request body must be a JSON object")
    return value


def partition_name(body: dict[str, Any]) -> str:
    """``partition``, or its alias ``session``; both present must agree."""
    has_p, has_s = "partition" in body, "session" in body
    if has_p and has_s and body["partition"] != body["session"]:
        raise BadRequest("'partition' and 'session' differ")
    if not has_p and not has_s:
        raise BadRequest("missing 'partition'")
    value = body["partition"] if has_p else body["session"]
    return check_partition(value)


def check_partition(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest("'partition' must be a string")
    if not value:
        raise BadRequest("'partition' must not be empty")
    if len(value) > MAX_PARTITION_LEN:
        raise BadRequest(f"'partition' longer than {MAX_PARTITION_LEN} characters")
    if not storable(value):
        raise BadRequest("'partition' must be valid Unicode without NUL characters")
    return value


def storable(value: str) -> bool:
    """Every database can store it: valid UTF-8 (no lone surrogates) and no NUL."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _connection_list(body: dict[str, Any], limit: int) -> list[Any]:
    if "connections" not in body:
        raise BadRequest("missing 'connections'")
    connections = body["connections"]
    if not isinstance(connections, list):
        raise BadRequest("'connections' must be a list")
    if len(connections) > limit:
        raise PayloadTooLarge(f"more than {limit} connections in one request")
    return connections


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(
    item: dict[str, Any], index: int, key: str, max_len: int, *, non_empty: bool = False
) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise BadRequest(f"connections[{index}]: '{key}' must be a string")
    if non_empty and not value:
        raise BadRequest(f"connections[{index}]: '{key}' must not be empty")
    if len(value) > max_len:
        raise BadRequest(f"connections[{index}]: '{key}' longer than {max_len} characters")
    if not storable(value):
        raise BadRequest(f"connections[{index}]: '{key}' must be valid Unicode without NUL")
    return value


def parse_publish(body: bytes, *, max_connections: int) -> PublishRequest:
    obj = parse_json_object(body)
    partition = partition_name(obj)
    raw = _connection_list(obj, max_connections)
    accepted: dict[str, Connection] = {}
    skipped = 0
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "uid" not in item or "uri" not in item:
            skipped += 1  # the original skipped these silently; so do we, with a warning
            log.warning("publish to %r: skipping connections[%d] without uid/uri", partition, index)
            continue
        uid = _string(item, index, "uid", MAX_UID_LEN, non_empty=True)
        if len(uid.encode("utf-8")) > MAX_UID_BYTES:
            raise BadRequest(f"connections[{index}]: 'uid' longer than {MAX_UID_BYTES} bytes")
        uri = _string(item, index, "uri", MAX_URI_LEN)
        if "data_type" not in item:
            raise BadRequest(f"connections[{index}]: missing 'data_type'")
        data_type = _string(item, index, "data_type", MAX_DATA_TYPE_LEN)
        if "connection_type" not in item:
            raise BadRequest(f"connections[{index}]: missing 'connection_type'")
        ctype = item["connection_type"]
        if isinstance(ctype, str) and ctype in CONNECTION_TYPE_NAMES:
            ctype = CONNECTION_TYPE_NAMES[ctype]
        elif not _is_int(ctype):
            raise BadRequest(
                f"connections[{index}]: 'connection_type' must be an integer "
                "or one of kSendRecv, kPubSub, kInvalid"
            )
        capacity = item.get("capacity", 0)
        if not _is_int(capacity) or capacity < 0:
            raise BadRequest(f"connections[{index}]: 'capacity' must be a non-negative integer")
        if not -(2**31) <= ctype < 2**31 or capacity >= 2**63:
            raise BadRequest(f"connections[{index}]: integer out of range")
        # A repeated uid: the later element wins, and the dict keeps the first position.
        accepted[uid] = Connection(uid, uri, data_type, ctype, capacity)
    return PublishRequest(partition, list(accepted.values()), skipped)


def parse_lookup(body: bytes) -> LookupRequest:
    obj = parse_json_object(body)
    for key in ("uid_regex", "data_type"):
        if key not in obj:
            raise BadRequest(f"missing '{key}'")
        if not isinstance(obj[key], str):
            raise BadRequest(f"'{key}' must be a string")
    return LookupRequest(obj["uid_regex"], obj["data_type"])


def parse_retract(body: bytes, *, max_connections: int) -> RetractRequest:
    obj = parse_json_object(body)
    partition = partition_name(obj)
    raw = _connection_list(obj, max_connections)
    uids: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "connection_id" not in item:
            raise BadRequest(f"connections[{index}]: missing 'connection_id'")
        if not isinstance(item["connection_id"], str):
            raise BadRequest(f"connections[{index}]: 'connection_id' must be a string")
        uids.append(item["connection_id"])
    return RetractRequest(partition, list(dict.fromkeys(uids)))


def parse_retract_partition(body: bytes, content_type: str) -> str:
    """Form field or JSON key ``partition`` (alias ``session``), in the order of §2.7."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        value = _multipart_field(body, content_type)
        if value is not None:
            return check_partition(value)
    if media == "application/x-www-form-urlencoded":
        value = _form_field(body)
        if value is not None:
            return check_partition(value)
    if not body or not body.strip():
        raise BadRequest("Empty request body")
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        value = _form_field(body)
        if value is not None:
            return check_partition(value)
        raise InvalidJson("Request body is neither JSON nor a form with 'partition'") from None
    if not isinstance(obj, dict):
        raise BadRequest("Request body must be a JSON object")
    return partition_name(obj)


def _form_field(body: bytes) -> str | None:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    for key in ("partition", "session"):
        if key in fields:
            return fields[key][0]
    return None


def _multipart_field(body: bytes, content_type: str) -> str | None:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name in ("partition", "session"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode("utf-8", "replace")
    return None
