"""Log ingestion, the summary and retention: checklist items 19-21 and spec §3.9.2-3."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from daqhub.monitor.catalog import LOGS
from daqhub.monitor.logs import LogWriter, purge_old
from tests.monitor.conftest import Api, log_record


def _count(api: Api) -> int:
    with api.runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(LOGS)) or 0)


def test_handler_record_with_null_extra_and_64_bit_thread(api: Api) -> None:
    response = api.client.post("/api/logs/", json=log_record())
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["thread"] == 140213245478656
    assert body["extra_data"] is None
    assert body == api.get(f"/api/logs/{body['id']}/").json()
    assert list(body) == [
        "id",
        "app_name",
        "instance_name",
        "timestamp",
        "level",
        "levelname",
        "message",
        "module",
        "funcname",
        "lineno",
        "process",
        "thread",
        "extra_data",
    ]


def test_invalid_records_are_rejected_and_not_written(api: Api) -> None:
    bad_level = api.client.post("/api/logs/", json=log_record(level=999))
    assert bad_level.status_code == 400
    assert bad_level.json() == {"level": ['"999" is not a valid choice.']}
    record = log_record()
    del record["message"]
    missing = api.client.post("/api/logs/", json=record)
    assert missing.status_code == 400
    assert missing.json() == {"message": ["This field is required."]}
    blank = api.client.post("/api/logs/", json=log_record(app_name=" "))
    assert blank.json() == {"app_name": ["This field may not be blank."]}
    assert _count(api) == 0
    empty_message = api.client.post("/api/logs/", json=log_record(message=""))
    assert empty_message.status_code == 201
    assert api.client.post("/api/logs/", json=log_record(level="30")).json()["level"] == 30


def test_summary(api: Api) -> None:
    assert api.get("/api/logs/summary/").json() == {}
    for i in range(7):
        level = ("ERROR", 40) if i % 2 else ("CRITICAL", 50)
        api.client.post(
            "/api/logs/",
            json=log_record(
                levelname=level[0],
                level=level[1],
                message=f"e{i}",
                timestamp=f"2026-08-07T10:31:0{i}",
            ),
        )
    for levelname, level in (("INFO", 20), ("INFO", 20), ("WARNING", 30), ("DEBUG", 10)):
        api.client.post("/api/logs/", json=log_record(levelname=levelname, level=level))
    api.client.post("/api/logs/", json=log_record(instance_name="other"))
    summary = api.client.get("/api/logs/summary/").json()
    entry = summary["base_agent"]["data-agent-alice-7"]
    assert entry["error_counts"] == {
        "CRITICAL": 4,
        "DEBUG": 1,
        "ERROR": 3,
        "INFO": 2,
        "WARNING": 1,
    }
    recent = entry["recent_errors"]
    assert [e["message"] for e in recent] == ["e6", "e5", "e4", "e3", "e2"]
    for item in recent:
        assert set(item) == {"timestamp", "levelname", "message", "module", "funcname", "lineno"}
    assert summary["base_agent"]["other"] == {"error_counts": {"INFO": 1}, "recent_errors": []}
    only = api.get("/api/logs/summary/?instance_name=other").json()
    assert list(only["base_agent"]) == ["other"]


def test_concurrent_posts_get_distinct_ids(api: Api) -> None:
    def post(i: int) -> int:
        response = api.client.post("/api/logs/", json=log_record(message=f"m{i}"))
        assert response.status_code == 201
        return int(response.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(post, range(80)))
    assert len(set(ids)) == 80
    assert _count(api) == 80


def test_a_bad_record_does_not_fail_its_batch(api: Api) -> None:
    good = {
        "app_name": "a",
        "instance_name": "i",
        "timestamp": datetime.now(UTC),
        "level": 20,
        "levelname": "INFO",
        "message": "ok",
        "module": "m",
        "funcname": "f",
        "lineno": 1,
        "process": 1,
        "thread": 1,
        "extra_data": None,
    }
    bad = {**good, "app_name": None}  # violates NOT NULL: only possible past validation
    writer = LogWriter(api.runtime.db)
    results = writer._insert([good, bad, good])
    assert isinstance(results[0], int)
    assert isinstance(results[1], Exception)
    assert isinstance(results[2], int)
    assert _count(api) == 2

    async def through_the_queue() -> list[Any]:
        await writer.start()
        try:
            return await asyncio.gather(
                writer.write(dict(good)), writer.write(dict(bad)), return_exceptions=True
            )
        finally:
            await writer.stop()

    outcome = asyncio.run(through_the_queue())
    assert isinstance(outcome[0], int)
    assert isinstance(outcome[1], Exception)


def _old_and_new(api: Api) -> None:
    now = datetime.now(UTC)
    for age in (40, 31, 1, 0):
        stamp = (now - timedelta(days=age)).isoformat()
        assert api.client.post("/api/logs/", json=log_record(timestamp=stamp)).status_code == 201


def test_retention_deletes_old_records_in_batches(api: Api) -> None:
    _old_and_new(api)
    assert purge_old(api.runtime.db, days=30, batch=1) == 2
    assert _count(api) == 2
    assert purge_old(api.runtime.db, days=0, batch=10) == 0
    assert _count(api) == 2


def test_retention_runs_periodically(make_api: Any) -> None:
    api = make_api(monitor={"log_retention_days": 30, "log_retention_interval": 0.2})
    _old_and_new(api)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while _count(api) != 2 and datetime.now(UTC) < deadline:
        asyncio.run(asyncio.sleep(0.05))
    assert _count(api) == 2


def test_fast_insert_stores_rows_like_the_generic_path(api: Api) -> None:
    from sqlalchemy import insert, text

    extra = {"run_id": "100010", "n": 1}
    posted = api.client.post(
        "/api/logs/", json=log_record(timestamp="2026-08-07T10:00:00Z", extra_data=extra)
    )
    assert posted.status_code == 201
    values = {k: v for k, v in log_record(extra_data=extra).items() if k != "timestamp"}
    with api.runtime.db.write() as session:
        session.execute(
            insert(LOGS).values(**values, timestamp=datetime(2026, 8, 7, 10, 0, tzinfo=UTC))
        )
    with api.runtime.db.read() as session:
        rows = session.execute(
            text(
                "SELECT CAST(timestamp AS TEXT), CAST(extra_data AS TEXT) "
                "FROM swf_applog ORDER BY id"
            )
        ).all()
    assert rows[0] == rows[1]
    assert len(api.get("/api/logs/?start_time=2026-08-07T10:00:00Z&run_id=100010").json()) == 2
