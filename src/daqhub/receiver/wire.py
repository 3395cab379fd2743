"""The receiver's JSON dialect and its echo of the request headers (spec §2.1.4, §2.6.8).

Every JSON body is serialised as Flask's ``jsonify`` did: keys sorted at every level, compact
separators, non-ASCII escaped, a trailing newline. ``receivedHeaders`` renders header names the
way Werkzeug's environ did (``str.title()`` after ``_`` -> ``-``) with secrets redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset({"Token", "Authorization", "Proxy-Authorization", "Cookie"})


def dumps(body: Any) -> bytes:
    return (
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
    ).encode("ascii")


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(body), status_code=status, headers=dict(headers or {}), media_type="application/json"
    )


def header_title(name: str) -> str:
    return name.replace("_", "-").lower().title()


def received_headers(headers: Headers) -> dict[str, str]:
    """Every request header, repeated ones joined with ``, ``, secrets replaced."""
    grouped: dict[str, list[str]] = {}
    for raw_name, raw_value in headers.raw:
        name = header_title(raw_name.decode("latin-1"))
        grouped.setdefault(name, []).append(raw_value.decode("latin-1").strip())
    return {
        name: REDACTED if name in SECRET_HEADERS else ", ".join(values)
        for name, values in grouped.items()
    }


def header_value(headers: Headers, name: str) -> str | None:
    """One header, repeated lines joined with ``, ``, surrounding whitespace removed."""
    values = headers.getlist(name)
    if not values:
        return None
    return ", ".join(v.strip() for v in values)
