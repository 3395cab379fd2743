"""The metadata index, events and background work (spec §4.1-§4.4; checklist 13, 33, 34)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from typing import Any

import pytest
from sqlalchemy import select

from daqhub.core.outbox import OutboxEvent
from daqhub.receiver.housekeeping import Housekeeping
from tests.pagecache import resident_fraction
from tests.receiver import rootdata
from tests.receiver.conftest import META, STORED_NAME, Receiver, RootFiles, body_of, wait_for


def api(receiver: Receiver, path: str, token: str | None = None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token or receiver.token}"}
    return receiver.client.get(f"/api/v1/receiver{path}", params=params, headers=headers)


def received_events(receiver: Receiver, kind: str = "received") -> list[Any]:
    return [e for e in receiver.runtime.bus.fanout.recent() if e.type == f"receiver.file.{kind}"]


def test_33_index_record_and_event(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r)
    upload_id = response.headers["x-daqhub-upload-id"]
    items = receiver.uploads(run=123456, agent="EMC", state="stored")
    assert [item["upload_id"] for item in items] == [upload_id]
    record = items[0]
    assert record["sha256"] == hashlib.sha256(root_files.r).hexdigest()
    assert record["size"] == len(root_files.r)
    assert record["objects"] == {"test": "TH1F"}
    assert record["timestamp"] == 140844
    assert record["time_utc"] == "1970-01-02T15:07:24.000000+00:00"
    assert record["time_local"] == "1970-01-02T16:07:24+01:00"
    assert record["data_status"] == 1
    assert record["token_name"] == "T"
    assert record["processing_compatible"] is True
    assert receiver.token not in str(record)
    events = wait_for(
        lambda: [e for e in received_events(receiver) if e.data["upload_id"] == upload_id]
    )
    assert len(events) == 1
    event = events[0]
    assert event.data["filename"] == STORED_NAME
    assert event.data["objects"] == {"test": "TH1F"}
    assert (event.data["run"], event.data["agent"]) == (123456, "EMC")
    # The event id is the outbox row's: a repeated delivery carries the same id.
    with receiver.runtime.db.read() as session:
        rows = session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.type == "receiver.file.received")
        ).all()
    assert event.id in rows


def test_33_event_arrives_after_the_file_is_visible(
    receiver: Receiver, root_files: RootFiles
) -> None:
    portal = receiver.client.portal
    assert portal is not None
    bus = receiver.runtime.bus
    subscription = portal.call(lambda: bus.subscribe(types=["receiver.file.received"]))
    target = receiver.data_dir / "TPChistos_7_DQM_1970_01_01_01_00_00.root"
    response = receiver.upload(
        root_files.r, meta={"runNumber": "7", "timeStamp": "0", "amoreAgent": "TPC"}
    )
    event = portal.call(subscription.get, 5.0)
    assert event is not None
    assert target.exists()
    assert event.data["upload_id"] == response.headers["x-daqhub-upload-id"]
    subscription.close()


def test_rejected_and_superseded_events(receiver: Receiver, root_files: RootFiles) -> None:
    first = receiver.upload(root_files.r)
    receiver.upload(root_files.test_other.read_bytes())
    bad = receiver.upload(b"Hello world")
    superseded = wait_for(lambda: received_events(receiver, "superseded"))
    first_id = first.headers["x-daqhub-upload-id"]
    assert first_id in [e.data["upload_id"] for e in superseded]
    rejected = wait_for(lambda: received_events(receiver, "rejected"))
    assert rejected[-1].data["upload_id"] == bad.headers["x-daqhub-upload-id"]
    assert rejected[-1].data["reason"]


def test_34_consumed_within_one_scan(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r)
    upload_id = response.headers["x-daqhub-upload-id"]
    target = receiver.data_dir / "Run123456" / "EMC"
    target.mkdir(parents=True)
    os.rename(receiver.data_dir / STORED_NAME, target / STORED_NAME)
    listing = receiver.client.get("/rest/api/files", headers=receiver.auth())
    assert body_of(listing) == {"files": []}
    started = time.monotonic()
    wait_for(lambda: receiver.uploads(state="consumed"), timeout=5)
    assert time.monotonic() - started < 2.0  # scan_interval is 0.2 s in these tests
    assert receiver.uploads(state="consumed")[0]["upload_id"] == upload_id
    wait_for(lambda: received_events(receiver, "consumed"))
    gone = api(receiver, f"/uploads/{upload_id}/content")
    assert gone.status_code == 410
    assert body_of(gone)["status"] == 410  # type: ignore[index]


def test_preexisting_files_are_imported_and_hashed(
    receiver: Receiver, root_files: RootFiles
) -> None:
    record = wait_for(
        lambda: [r for r in receiver.uploads(state="stored") if r["sha256"]], timeout=10
    )[0]
    assert record["origin"] == "preexisting"
    assert record["filename"] == STORED_NAME
    assert (record["agent"], record["run"], record["timestamp"]) == ("EMC", 123456, 140844)
    assert record["sha256"] == hashlib.sha256(root_files.r).hexdigest()
    assert record["objects"] == {"test": "TH1F"}
    assert len(receiver.uploads()) == 1  # ignoreFile.txt is not a receiver file


def test_scrub_flags_changed_bytes(receiver: Receiver, root_files: RootFiles) -> None:
    receiver.upload(root_files.r)
    keeper = Housekeeping(receiver.state)
    with open(receiver.data_dir / STORED_NAME, "r+b") as handle:  # same inode, other bytes
        handle.seek(100)
        handle.write(b"\xff\xff\xff\xff")
    wait_for(lambda: keeper.scrub()["mismatched"] or None, timeout=5)
    record = receiver.uploads(state="stored")[0]
    assert record["integrity_ok"] is False
    assert record["verified_at"]
    assert "daqhub_receiver_scrub_mismatches_total 1.0" in receiver.client.get("/metrics").text


def test_scrub_reads_past_the_page_cache_and_leaves_it_as_it_was(
    receiver: Receiver, root_files: RootFiles
) -> None:
    """A scrub pass reads what the disk holds and does not fill memory with old files."""
    payload = root_files.r + bytes(8 << 20)  # still valid: ROOT ignores bytes past its end
    stored = receiver.data_dir / receiver.upload(payload).json()["filename"]
    stored.read_bytes()  # someone read it: it is cached
    assert resident_fraction(stored) > 0.9
    assert Housekeeping(receiver.state).scrub()["mismatched"] == 0
    assert resident_fraction(stored) < 0.1
    assert receiver.uploads(state="stored")[0]["integrity_ok"] is True


def test_temporary_files_are_swept(make_receiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    incoming = tmp_path / "data" / "receiver" / ".daqhub-incoming"
    incoming.mkdir(parents=True)
    stale = incoming / "before-start.part"
    stale.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    receiver = make_receiver(populate=False, sweep_interval=3600)
    # The background sweep runs once at start-up, then not again for an hour: after it, the
    # pass below is the only one touching the staging directory.
    wait_for(lambda: not stale.exists(), timeout=10)
    old = receiver.incoming / "interrupted.part"
    fresh = receiver.incoming / "in-progress.part"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert Housekeeping(receiver.state).sweep() == 1
    assert not old.exists()
    assert fresh.exists()


def test_quarantine_retention(make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(quarantine_retention=0.2)
    bad = receiver.upload(b"Hello world")
    upload_id = bad.headers["x-daqhub-upload-id"]
    assert any(receiver.quarantine.iterdir())
    keeper = Housekeeping(receiver.state)
    wait_for(lambda: keeper.retention(), timeout=5)
    assert not any(receiver.quarantine.iterdir())
    record = api(receiver, f"/uploads/{upload_id}").json()
    assert record["state"] == "purged"
    assert api(receiver, f"/uploads/{upload_id}/content").status_code == 410


def test_uploads_query(make_receiver: Any, root_files: RootFiles) -> None:
    receiver = make_receiver(populate=False)
    for run, ts, agent, status in [
        (1, 1530000000, "EMC", 1),
        (1, 1530000100, "TPC", 0),
        (2, 1700000000, "EMC", 2),
    ]:
        meta = {
            "runNumber": str(run),
            "timeStamp": str(ts),
            "amoreAgent": agent,
            "dataStatus": str(status),
        }
        assert receiver.upload(root_files.r, meta=meta).status_code == 200
    assert len(receiver.uploads(run=1)) == 2
    assert [r["agent"] for r in receiver.uploads(run=1, agent="TPC")] == ["TPC"]
    assert [r["run"] for r in receiver.uploads(data_status=2)] == [2]
    assert {r["run"] for r in receiver.uploads(**{"from": "2018-06-26T08:00:50Z"})} == {1, 2}
    assert [r["run"] for r in receiver.uploads(**{"from": 1600000000})] == [2]
    assert [r["run"] for r in receiver.uploads(to="2018-06-26T08:00:00+00:00")] == [1]
    assert len(receiver.uploads(time_field="received", **{"from": time.time() - 60})) >= 3
    newest_first = [r["timestamp"] for r in receiver.uploads(state="stored")]
    assert newest_first[:3] == [1700000000, 1530000100, 1530000000]
    page = api(receiver, "/uploads", limit=2, state="stored").json()
    assert len(page["items"]) == 2
    rest = api(receiver, "/uploads", limit=2, state="stored", cursor=page["next_cursor"]).json()
    seen = [r["upload_id"] for r in page["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) == len(receiver.uploads(state="stored"))
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"run": "x"},
        {"limit": "0"},
        {"limit": "5000"},
        {"from": "yesterday"},
        {"state": "lost"},
        {"cursor": "!!"},
        {"time_field": "other"},
        {"from": "2018-06-26T08:00"},
    ],
)
def test_uploads_query_errors_are_400(receiver: Receiver, params: dict[str, str]) -> None:
    response = api(receiver, "/uploads", **params)
    assert response.status_code == 400
    assert body_of(response)["status"] == 400  # type: ignore[index]


def test_daqhub_api_authentication(receiver: Receiver) -> None:
    client = receiver.client
    missing = client.get("/api/v1/receiver/uploads")
    assert missing.status_code == 401
    assert body_of(missing)["status"] == 401  # type: ignore[index]
    assert client.get("/api/v1/receiver/uploads", headers={"token": "wrong"}).status_code == 401
    upload_only = receiver.make_token("upload-only", ["receiver:upload"])
    assert api(receiver, "/uploads", token=upload_only).status_code == 403
    list_only = receiver.make_token("list-only", ["receiver:list"])
    assert api(receiver, "/uploads", token=list_only).status_code == 200
    assert client.get("/api/v1/receiver/uploads", headers={"token": list_only}).status_code == 200
    token_scheme = {"Authorization": f"Token {list_only}"}
    assert client.get("/api/v1/receiver/uploads", headers=token_scheme).status_code == 200
    assert client.get("/api/v1/receiver/health").json() == {"status": "ok"}


def test_open_read_access(make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(open_read_access=True)
    assert receiver.client.get("/api/v1/receiver/uploads").status_code == 200
    assert receiver.client.get("/rest/api/files").status_code == 400  # compat routes: never


def test_runs_summary_and_detail(make_receiver: Any, root_files: RootFiles) -> None:
    receiver = make_receiver(populate=False)
    for ts, agent, status in [
        (1530000000, "EMC", 1),
        (1530000300, "EMC", 2),
        (1530000100, "TPC", 1),
    ]:
        meta = {
            "runNumber": "42",
            "timeStamp": str(ts),
            "amoreAgent": agent,
            "dataStatus": str(status),
        }
        receiver.upload(root_files.r, meta=meta)
    receiver.upload(
        b"Hello world", meta={"runNumber": "42", "timeStamp": "1530000400", "amoreAgent": "HLT"}
    )
    receiver.upload(
        root_files.r, meta={"runNumber": "43", "timeStamp": "1700000000", "amoreAgent": "HLT"}
    )
    runs = api(receiver, "/runs").json()["items"]
    by_run = {r["run"]: r for r in runs}
    run42 = by_run[42]
    assert run42["files"] == 3
    assert run42["invalid"] == 1
    assert run42["agents"]["EMC"]["files"] == 2
    assert run42["agents"]["EMC"]["latest_data_status"] == 2
    assert run42["agents"]["TPC"]["latest_data_status"] == 1
    assert (run42["first_timestamp"], run42["last_timestamp"]) == (1530000000, 1530000300)
    assert run42["bytes"] == 3 * len(root_files.r)
    assert run42["live"] is True
    assert [r["run"] for r in api(receiver, "/runs", agent="TPC").json()["items"]] == [42]
    assert [r["run"] for r in api(receiver, "/runs", **{"from": 1600000000}).json()["items"]] == [
        43
    ]
    detail = api(receiver, "/runs/42").json()
    assert [f["timestamp"] for f in detail["agents"]["EMC"]] == [1530000000, 1530000300]
    assert detail["agents"]["HLT"][0]["state"] == "invalid"
    assert detail["agents"]["HLT"][0]["reason"]
    files = api(receiver, "/runs/42/files", agent="EMC").json()["items"]
    assert len(files) == 2
    assert api(receiver, "/runs/999").status_code == 404
    assert api(receiver, "/runs/abc").status_code == 404


def test_content_route(receiver: Receiver, root_files: RootFiles) -> None:
    first = receiver.upload(root_files.r).headers["x-daqhub-upload-id"]
    content = api(receiver, f"/uploads/{first}/content")
    assert content.content == root_files.r
    assert content.headers["etag"] == f'"sha256-{hashlib.sha256(root_files.r).hexdigest()}"'
    ranged = receiver.client.get(
        f"/api/v1/receiver/uploads/{first}/content",
        headers={"token": receiver.token, "Range": "bytes=0-3"},
    )
    assert (ranged.status_code, ranged.content) == (206, b"root")
    second = receiver.upload(root_files.test_other.read_bytes()).headers["x-daqhub-upload-id"]
    assert api(receiver, f"/uploads/{first}/content").status_code == 410
    assert api(receiver, f"/uploads/{second}/content").content == root_files.test_other.read_bytes()
    bad = receiver.upload(b"Hello world").headers["x-daqhub-upload-id"]
    assert api(receiver, f"/uploads/{bad}/content").content == b"Hello world"
    assert api(receiver, "/uploads/nope/content").status_code == 404
    upload_only = receiver.make_token("upload-only", ["receiver:list"])
    assert api(receiver, f"/uploads/{second}/content", token=upload_only).status_code == 403


def test_histogram_json(receiver: Receiver, root_files: RootFiles) -> None:
    root_written = receiver.upload(
        rootdata.THREE_TH1F.read_bytes(), meta={**META, "amoreAgent": "HLT"}
    ).headers["x-daqhub-upload-id"]
    one = api(receiver, f"/uploads/{root_written}/histograms/one").json()
    assert one["class"] == "TH1F"
    assert one["title"] == "numero uno"
    assert one["dimensions"] == 1
    assert len(one["axes"][0]["edges"]) == len(one["values"]) + 1
    assert one["values"] == [68.0, 285.0, 755.0, 1580.0, 2296.0, 2286.0, 1570.0, 795.0, 289.0, 76.0]
    assert len(one["errors"]) == 10
    upload_id = receiver.upload(root_files.everything.read_bytes()).headers["x-daqhub-upload-id"]
    two = api(receiver, f"/uploads/{upload_id}/histograms/hEtaPhi").json()
    assert two["dimensions"] == 2
    assert len(two["values"]) == 5
    assert len(two["values"][0]) == 4
    assert [len(a["edges"]) for a in two["axes"]] == [6, 5]
    prof = api(receiver, f"/uploads/{upload_id}/histograms/pMean").json()
    assert prof["class"] == "TProfile"
    assert prof["values"][0] == pytest.approx(2.0)
    deep = api(receiver, f"/uploads/{upload_id}/histograms/level1/level2/deep").json()
    assert deep["values"] == [3.0, 1.0]
    missing = api(receiver, f"/uploads/{upload_id}/histograms/nothing")
    assert missing.status_code == 404
    tree = api(receiver, f"/uploads/{upload_id}/histograms/events")
    assert tree.status_code == 400
    assert "not a histogram" in tree.json()["message"]


def test_concurrent_uploads_of_one_name_leave_one_stored(
    make_receiver: Any, root_files: RootFiles
) -> None:
    receiver = make_receiver(populate=False)
    from concurrent.futures import ThreadPoolExecutor

    payloads = [root_files.r, root_files.test_other.read_bytes()] * 3
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(receiver.upload, payloads))
    assert all(a.status_code == 200 for a in answers)
    stored = receiver.uploads(state="stored")
    assert len(stored) == 1
    final = (receiver.data_dir / STORED_NAME).read_bytes()
    assert stored[0]["sha256"] == hashlib.sha256(final).hexdigest()
    assert len(receiver.uploads(state="superseded")) == len(payloads) - 1


def test_directory_scan_tolerates_a_missing_data_directory(receiver: Receiver) -> None:
    shutil.rmtree(receiver.data_dir)
    assert Housekeeping(receiver.state).scan() == {"consumed": 0, "imported": 0}


def test_routes_are_documented(receiver: Receiver) -> None:
    schema = receiver.client.get("/openapi.json").json()
    paths = schema["paths"]
    assert "post" in paths["/rest/api/files"]
    assert "/rest/api/files/{filename}" in paths
    assert "/api/v1/receiver/uploads/{upload_id}/histograms/{object_path}" in paths
    assert "/api/v1/receiver/runs/{run}" in paths


def test_run_page_embeds_upload_data_safely(receiver: Receiver, root_files: RootFiles) -> None:
    hostile = "</script><script>alert(1)</script><!--"
    receiver.upload(root_files.r, meta={**META, "runNumber": "66", "amoreAgent": hostile})
    page = receiver.client.get("/ui/receiver/runs/66", headers={"token": receiver.token})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert page.text.count("</script>") == page.text.count("<script")
