"""Date-times in and out: checklist items 17-18 and spec §3.3."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from daqhub.monitor.timestamps import DATETIME_MESSAGE, parse_datetime, zone
from tests.monitor.conftest import ISO_UTC, Api, log_record, make_run, make_stf

NEW_YORK = zone("America/New_York")


def test_naive_log_timestamp_is_read_in_the_configured_zone(api: Api) -> None:
    response = api.client.post("/api/logs/", json=log_record(timestamp="2025-08-04T10:00:00"))
    assert response.status_code == 201
    assert response.json()["timestamp"] == "2025-08-04T14:00:00.000000+00:00"
    stored = api.get(f"/api/logs/{response.json()['id']}/").json()
    assert stored["timestamp"] == "2025-08-04T14:00:00.000000+00:00"


def test_naive_zone_is_a_setting(make_api: Any) -> None:
    api = make_api(monitor={"naive_timezone": "UTC"})
    response = api.client.post("/api/logs/", json=log_record(timestamp="2025-08-04T10:00:00"))
    assert response.json()["timestamp"] == "2025-08-04T10:00:00.000000+00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-07T10:15:00.123456", datetime(2026, 8, 7, 14, 15, 0, 123456, UTC)),
        ("2026-08-07 10:15", datetime(2026, 8, 7, 14, 15, tzinfo=UTC)),
        ("2026-08-07T10:15:00Z", datetime(2026, 8, 7, 10, 15, tzinfo=UTC)),
        ("2026-08-07T10:15:00.5+02:00", datetime(2026, 8, 7, 8, 15, 0, 500000, UTC)),
        ("2026-01-07T10:15:00-0500", datetime(2026, 1, 7, 15, 15, tzinfo=UTC)),
        ("2026-01-07T10:15:00.1234567", datetime(2026, 1, 7, 15, 15, 0, 123456, UTC)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    assert parse_datetime(text, NEW_YORK) == expected


@pytest.mark.parametrize("text", ["2026-08-07", "yesterday", "2026-08-07T10", "2026-13-01T00:00"])
def test_rejected_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text, NEW_YORK)


def test_invalid_date_time_message(api: Api) -> None:
    response = api.post("/api/runs/", {"run_number": 1, "start_time": "2026-08-07"})
    assert response.status_code == 400
    assert response.json() == {"start_time": [DATETIME_MESSAGE]}


def _datetimes(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and (
                key.endswith(("_at", "_time", "heartbeat")) or key in ("timestamp",)
            ):
                found.append(item)
            else:
                found.extend(_datetimes(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_datetimes(item))
    return found


def test_every_output_date_time_has_one_format(api: Api) -> None:
    run = make_run(api)
    api.patch(f"/api/runs/{run['run_id']}/", {"end_time": "2026-08-07T11:00:00+01:00"})
    make_stf(api, run["run_id"])
    api.post("/api/systemagents/heartbeat/", {"instance_name": "a"})
    api.client.post("/api/logs/", json=log_record(levelname="ERROR", level=40))
    api.created(
        "/api/run-states/",
        {
            "run_number": 1,
            "phase": "physics",
            "state": "run",
            "target_worker_count": 1,
            "state_changed_at": "2026-08-07T10:00:00",
        },
    )
    seen: list[str] = []
    for path in (
        "/api/runs/",
        "/api/stf-files/",
        "/api/systemagents/",
        "/api/logs/",
        "/api/run-states/",
        "/api/logs/summary/",
    ):
        seen.extend(_datetimes(json.loads(api.get(path).text)))
    assert len(seen) >= 10
    for text in seen:
        assert ISO_UTC.match(text), text
