"""Uploads (spec §2.6, §3.2-§3.5; checklist 10-26): answers, stored names, validation of real
ROOT files, quarantine, size limit."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from tests.receiver import rootdata
from tests.receiver.conftest import (
    META,
    RECEIVED_TEST,
    STORED_NAME,
    Receiver,
    RootFiles,
    body_of,
)

OK = "Successfully received file and extracted information"
NOT_VALID = "Successfully received the file, but the file is not valid! Perhaps it was corrupted?"
NO_PAYLOAD = "No file uploaded and the payload was empty"


def test_10_upload(receiver: Receiver, root_files: RootFiles) -> None:
    (receiver.data_dir / STORED_NAME).unlink()
    response = receiver.upload(root_files.r)
    assert response.status_code == 200
    body = body_of(response)
    assert body["status"] == 200  # type: ignore[index]
    assert body["message"] == OK  # type: ignore[index]
    assert body["filename"] == STORED_NAME  # type: ignore[index]
    assert body["received"] == RECEIVED_TEST  # type: ignore[index]
    assert set(body) == {"filename", "message", "received", "receivedHeaders", "status"}  # type: ignore[arg-type]
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r
    assert response.headers["x-daqhub-sha256"] == hashlib.sha256(root_files.r).hexdigest()
    assert response.headers["x-daqhub-upload-id"]
    assert oct((receiver.data_dir / STORED_NAME).stat().st_mode & 0o777) == "0o640"


def test_11_received_headers_are_echoed_with_the_token_redacted(
    receiver: Receiver, root_files: RootFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = receiver.upload(
        root_files.r, headers={"x_custom": "a", "Cookie": "session=secret", "X-B3-TraceId": "abc"}
    )
    echoed = response.json()["receivedHeaders"]
    for key in ("Runnumber", "Timestamp", "Amoreagent", "Datastatus", "Token", "Content-Type"):
        assert key in echoed
    assert echoed["Token"] == "[REDACTED]"
    assert echoed["Cookie"] == "[REDACTED]"
    assert echoed["X-Custom"] == "a"
    assert echoed["X-B3-Traceid"] == "abc"
    assert echoed["Runnumber"] == "123456"
    assert echoed["Content-Type"].startswith("multipart/form-data; boundary=")
    assert receiver.token not in response.text
    assert receiver.token not in caplog.text
    assert any(
        "upload id=" in r.getMessage() and "outcome=stored" in r.getMessage()
        for r in caplog.records
    )


def test_11_authorization_is_redacted_too(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.client.post(
        "/rest/api/files",
        content=root_files.r,
        headers={**META, "Authorization": f"Bearer {receiver.token}"},
    )
    assert response.status_code == 200
    assert response.json()["receivedHeaders"]["Authorization"] == "[REDACTED]"
    assert receiver.token not in response.text


def test_12_serialisation(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r, headers={"X-Note": "caf\u00e9".encode()})
    text = response.content.decode("ascii")
    assert text.startswith('{"filename":"EMChistos_123456_DQM_1970_01_02_16_07_24.root","message"')
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) + "\n"
    assert "\\u00c3" in text  # header bytes are ISO-8859-1, non-ASCII escaped


def test_13_same_name_replaces_and_supersedes(receiver: Receiver, root_files: RootFiles) -> None:
    first = receiver.upload(root_files.r)
    second = receiver.upload(root_files.test_other.read_bytes())
    assert second.status_code == 200
    assert second.json()["filename"] == first.json()["filename"] == STORED_NAME
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.test_other.read_bytes()
    ids = {
        first.headers["x-daqhub-upload-id"]: "superseded",
        second.headers["x-daqhub-upload-id"]: "stored",
    }
    records = {r["upload_id"]: r for r in receiver.uploads(run=123456)}
    for upload_id, state in ids.items():
        assert records[upload_id]["state"] == state
    assert (
        records[second.headers["x-daqhub-upload-id"]]["supersedes"]
        == first.headers["x-daqhub-upload-id"]
    )


@pytest.mark.parametrize(
    ("timestamp", "suffix"),
    [
        ("1530000000", "_DQM_2018_06_26_10_00_00.root"),
        ("1700000000", "_DQM_2023_11_14_23_13_20.root"),
    ],
)
def test_14_zurich_time_in_names(
    receiver: Receiver, root_files: RootFiles, timestamp: str, suffix: str
) -> None:
    response = receiver.upload(root_files.r, meta={**META, "timeStamp": timestamp})
    assert response.json()["filename"].endswith(suffix)
    assert (receiver.data_dir / response.json()["filename"]).exists()


def test_15_defaults(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r, meta={})
    assert response.status_code == 200
    assert response.json()["filename"] == "DQMhistos_-1_DQM_1970_01_01_00_59_59.root"


@pytest.mark.parametrize("header", ["runNumber", "timeStamp", "dataStatus"])
def test_16_non_integer_header(receiver: Receiver, root_files: RootFiles, header: str) -> None:
    before = sorted(p.name for p in receiver.data_dir.iterdir())
    response = receiver.upload(root_files.r, meta={**META, header: "Hello world"})
    assert response.status_code == 400
    body = body_of(response)
    assert body["message"] == ["invalid literal for int() with base 10: 'Hello world'"]  # type: ignore[index]
    assert body["received"] is None  # type: ignore[index]
    assert "receivedHeaders" in body  # type: ignore[operator]
    assert "status" not in body  # type: ignore[operator]
    assert "filename" not in body  # type: ignore[operator]
    assert sorted(p.name for p in receiver.data_dir.iterdir()) == before
    assert not any(receiver.quarantine.iterdir())
    assert not any(receiver.incoming.iterdir())


def test_17_parse_order_and_python_int_rules(receiver: Receiver, root_files: RootFiles) -> None:
    both = receiver.upload(root_files.r, meta={**META, "runNumber": "abc", "timeStamp": "xyz"})
    assert both.json()["message"] == ["invalid literal for int() with base 10: 'abc'"]
    decimal = receiver.upload(root_files.r, meta={**META, "timeStamp": "1.5"})
    assert (decimal.status_code, decimal.json()["message"]) == (
        400,
        ["invalid literal for int() with base 10: '1.5'"],
    )
    padded = receiver.upload(root_files.r, meta={**META, "runNumber": " 007 "})
    assert "_7_" in padded.json()["filename"]


def test_range_check_messages(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r, meta={**META, "runNumber": str(2**63)})
    body = body_of(response)
    assert response.status_code == 400
    assert body["message"] == [f"runNumber out of range: {2**63}"]  # type: ignore[index]
    assert "status" not in body  # type: ignore[operator]
    long_agent = receiver.upload(root_files.r, meta={**META, "amoreAgent": "A" * 300})
    assert long_agent.json()["message"] == ["amoreAgent too long"]


def test_18_agent_with_path_characters(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.r, meta={**META, "amoreAgent": "EMC agent/../x"})
    assert response.status_code == 200
    name = response.json()["filename"]
    assert name == "EMC_agent_.._xhistos_123456_DQM_1970_01_02_16_07_24.root"
    assert (receiver.data_dir / name).is_file()
    record = receiver.uploads(agent="EMC_agent_.._x")[0]
    assert record["agent_raw"] == "EMC agent/../x"
    assert record["processing_compatible"] is False


@pytest.mark.parametrize(
    "agent",
    ["../../../../tmp/evil", "/etc/passwd", "..", ".", "\u2024\u2024/x".encode(), "a\\..\\b"],
)
def test_traversal_in_metadata_headers_stays_inside(
    receiver: Receiver, root_files: RootFiles, agent: str | bytes, tmp_path: Path
) -> None:
    response = receiver.upload(root_files.r, meta={**META, "amoreAgent": agent})  # type: ignore[dict-item]
    assert response.status_code == 200
    name = response.json()["filename"]
    assert "/" not in name
    assert not name.startswith(".")
    assert (receiver.data_dir / name).parent == receiver.data_dir
    assert (receiver.data_dir / name).read_bytes() == root_files.r
    outside = {p for p in tmp_path.rglob("*") if "receiver" not in p.parts and p.is_file()}
    assert not any(p.name.endswith(".root") for p in outside)


def test_19_empty_body(receiver: Receiver) -> None:
    response = receiver.client.post("/rest/api/files", content=b"", headers=receiver.auth(**META))
    assert response.status_code == 400
    body = body_of(response)
    assert body["message"] == NO_PAYLOAD  # type: ignore[index]
    assert body["received"] is None  # type: ignore[index]
    assert body["status"] == 400  # type: ignore[index]
    assert "receivedHeaders" in body  # type: ignore[operator]
    assert "filename" not in body  # type: ignore[operator]


def test_20_multipart_without_file_part(receiver: Receiver) -> None:
    response = receiver.client.post(
        "/rest/api/files",
        data={"other": "1"},
        files={"notfile": ("x", b"data")},
        headers=receiver.auth(**META),
    )
    assert (response.status_code, response.json()["message"]) == (400, NO_PAYLOAD)
    broken = receiver.client.post(
        "/rest/api/files",
        content=b'--XX\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers=receiver.auth(**META, **{"Content-Type": "multipart/form-data; boundary=XX"}),
    )
    assert (broken.status_code, broken.json()["message"]) == (400, NO_PAYLOAD)
    no_boundary = receiver.client.post(
        "/rest/api/files",
        content=b"abc",
        headers=receiver.auth(**META, **{"Content-Type": "multipart/form-data"}),
    )
    assert no_boundary.json()["message"] == NO_PAYLOAD
    assert not any(receiver.incoming.iterdir())


def test_multipart_file_part_without_filename_is_accepted(
    receiver: Receiver, root_files: RootFiles
) -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="other"\r\n\r\n1\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        + root_files.r
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="file"\r\n\r\nsecond\r\n--XX--\r\n'
    )
    response = receiver.client.post(
        "/rest/api/files",
        content=body,
        headers=receiver.auth(**META, **{"Content-Type": "multipart/form-data; boundary=XX"}),
    )
    assert response.status_code == 200
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r


def test_too_many_parts_is_no_payload(receiver: Receiver, root_files: RootFiles) -> None:
    files = [(f"f{i}", ("x", b"x")) for i in range(20)] + [("file", ("a.root", root_files.r))]
    response = receiver.client.post("/rest/api/files", files=files, headers=receiver.auth(**META))
    assert (response.status_code, response.json()["message"]) == (400, NO_PAYLOAD)


@pytest.mark.parametrize("payload", ["not_root", "truncated", "zero_keys", "empty"])
def test_21_22_invalid_payloads_are_quarantined(
    receiver: Receiver, root_files: RootFiles, payload: str
) -> None:
    content = b"" if payload == "empty" else getattr(root_files, payload).read_bytes()
    response = receiver.upload(content)
    assert response.status_code == 400
    body = body_of(response)
    assert body["message"] == NOT_VALID  # type: ignore[index]
    assert body["received"] is None  # type: ignore[index]
    assert body["status"] == 400  # type: ignore[index]
    assert body["filename"] == STORED_NAME  # type: ignore[index]
    assert "receivedHeaders" in body  # type: ignore[operator]
    # The earlier good file of that name is unchanged, listed and downloadable.
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r
    download = receiver.client.get(f"/rest/api/files/{STORED_NAME}", headers=receiver.auth())
    assert download.content == root_files.r
    quarantined = list(receiver.quarantine.iterdir())
    upload_id = response.headers["x-daqhub-upload-id"]
    assert [q.name for q in quarantined] == [f"{upload_id}-{STORED_NAME}.invalid"]
    assert quarantined[0].read_bytes() == content
    record = receiver.uploads(state="invalid")[0]
    assert record["upload_id"] == upload_id
    assert record["reason"]
    assert record["sha256"] == hashlib.sha256(content).hexdigest()


def test_21_invalid_payload_under_a_new_name_is_not_listed(
    receiver: Receiver, root_files: RootFiles
) -> None:
    response = receiver.upload(b"Hello world", meta={**META, "amoreAgent": "TPC"})
    name = response.json()["filename"]
    assert name == "TPChistos_123456_DQM_1970_01_02_16_07_24.root"
    assert name not in receiver.client.get("/rest/api/files", headers=receiver.auth()).text
    assert not (receiver.data_dir / name).exists()


def test_23_raw_octet_stream_body(receiver: Receiver, root_files: RootFiles) -> None:
    (receiver.data_dir / STORED_NAME).unlink()
    response = receiver.client.post(
        "/rest/api/files",
        content=root_files.r,
        headers=receiver.auth(**META, **{"Content-Type": "application/octet-stream"}),
    )
    assert response.status_code == 200
    assert response.json()["received"] == RECEIVED_TEST
    assert response.json()["filename"] == STORED_NAME
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r


def test_raw_body_without_content_type(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.client.post(
        "/rest/api/files", content=root_files.r, headers=receiver.auth(**META)
    )
    assert response.status_code == 200
    assert "Content-Type" not in response.json()["receivedHeaders"]


def test_24_urlencoded_body_is_no_payload(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.client.post(
        "/rest/api/files",
        content=root_files.r,
        headers=receiver.auth(**META, **{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert (response.status_code, response.json()["message"]) == (400, NO_PAYLOAD)
    assert "filename" not in response.json()


def test_25_subdirectory_and_top_level_histograms(
    receiver: Receiver, root_files: RootFiles
) -> None:
    response = receiver.upload(root_files.dir_h1_h2.read_bytes())
    assert response.status_code == 200
    assert response.json()["received"] == {
        "dir": "Obj name: dir, Obj IsA() Name: TDirectoryFile",
        "h1": "Obj name: h1, Obj IsA() Name: TH1F",
        "h2": "Obj name: h2, Obj IsA() Name: TH2D",
    }


@pytest.mark.parametrize(
    ("path", "received"),
    [
        (
            rootdata.THREE_TH1F,
            {
                "one": "Obj name: one, Obj IsA() Name: TH1F",
                "two": "Obj name: two, Obj IsA() Name: TH1F",
                "three": "Obj name: three, Obj IsA() Name: TH1F",
            },
        ),
        (rootdata.CUTFLOW_TH1F, {"cutflow": "Obj name: cutflow, Obj IsA() Name: TH1F"}),
    ],
)
def test_files_written_by_root(receiver: Receiver, path: Path, received: dict[str, str]) -> None:
    response = receiver.upload(path.read_bytes(), meta={**META, "amoreAgent": "HLT"})
    assert response.status_code == 200
    assert response.json()["received"] == received
    stored = receiver.data_dir / response.json()["filename"]
    assert stored.read_bytes() == path.read_bytes()


def test_profiles_trees_and_nested_directories(receiver: Receiver, root_files: RootFiles) -> None:
    response = receiver.upload(root_files.everything.read_bytes())
    assert response.json()["received"] == {
        "hEnergy": "Obj name: hEnergy, Obj IsA() Name: TH1F",
        "hEtaPhi": "Obj name: hEtaPhi, Obj IsA() Name: TH2D",
        "pMean": "Obj name: pMean, Obj IsA() Name: TProfile",
        "events": "Obj name: events, Obj IsA() Name: TTree",
        "level1": "Obj name: level1, Obj IsA() Name: TDirectoryFile",
    }
    record = receiver.uploads()[0]
    contents = {item["path"]: item for item in record_contents(receiver, record["upload_id"])}
    assert contents["events"]["entries"] == 50
    assert contents["hEnergy"]["entries"] == 90
    assert contents["level1/level2/deep"]["class"] == "TH1F"
    assert contents["level1/level2"]["class"] == "TDirectoryFile"


def record_contents(receiver: Receiver, upload_id: str) -> list[dict[str, object]]:
    response = receiver.client.get(f"/api/v1/receiver/uploads/{upload_id}", headers=receiver.auth())
    return list(response.json()["contents"])


def test_highest_cycle_is_reported(receiver: Receiver, tmp_path: Path) -> None:
    import uproot

    path = tmp_path / "cycles.root"
    with uproot.recreate(path) as out:
        out["h"] = rootdata.th1f("h", "first", [1.0])
        out["h"] = rootdata.th1f("h", "second", [2.0])
    assert len(uproot.open(path).keys(cycle=True)) == 2
    response = receiver.upload(path.read_bytes())
    assert response.json()["received"] == {"h": "Obj name: h, Obj IsA() Name: TH1F"}


def test_26_body_over_the_limit(make_receiver, root_files: RootFiles) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(max_upload_bytes=4096)
    declared = receiver.upload(root_files.r)
    assert declared.status_code == 413
    assert body_of(declared) == {
        "message": "Payload too large: the limit is 4096 bytes",
        "received": None,
        "status": 413,
    }

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1024

    streamed = receiver.client.post(
        "/rest/api/files", content=chunks(), headers=receiver.auth(**META)
    )
    assert streamed.status_code == 413
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r
    visible = sorted(p.name for p in receiver.data_dir.iterdir() if not p.name.startswith("."))
    assert visible == [STORED_NAME, "ignoreFile.txt"]
    assert not any(receiver.incoming.iterdir())
    assert not any(receiver.quarantine.iterdir())


def test_an_upload_the_disk_has_no_room_for_is_refused_first(  # type: ignore[no-untyped-def]
    make_receiver, root_files: RootFiles
) -> None:
    """More than the filesystem's free space kept free: 503 with Retry-After, before the body
    is read, nothing stored or indexed (the real full disk: tests/receiver/test_server.py)."""
    receiver = make_receiver(min_free_bytes=1 << 62)
    response = receiver.upload(root_files.r, meta={**META, "runNumber": "99"})
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert body_of(response) == {
        "message": "Insufficient storage, retry later",
        "received": None,
        "status": 503,
    }
    assert not any(receiver.incoming.iterdir())
    assert receiver.uploads(run=99) == []
    metrics = receiver.client.get("/metrics").text
    assert 'daqhub_receiver_uploads_total{outcome="storage_full"} 1.0' in metrics


def test_checksum_headers(receiver: Receiver, root_files: RootFiles) -> None:
    import base64

    good = base64.b64encode(hashlib.sha256(root_files.r).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(root_files.r).digest()).decode()
    ok = receiver.client.post(
        "/rest/api/files",
        content=root_files.r,
        headers=receiver.auth(**META, **{"Repr-Digest": f"sha-256=:{good}:", "Content-MD5": md5}),
    )
    assert ok.status_code == 200
    multipart = receiver.upload(root_files.r, headers={"Repr-Digest": f"sha-256=:{good}:"})
    assert multipart.status_code == 200
    bad = receiver.client.post(
        "/rest/api/files",
        content=root_files.test_other.read_bytes(),
        headers=receiver.auth(**META, **{"Content-Digest": f"sha-256=:{good}:"}),
    )
    assert bad.status_code == 400
    assert body_of(bad) == {"message": "Checksum mismatch", "received": None, "status": 400}
    assert (receiver.data_dir / STORED_NAME).read_bytes() == root_files.r
    assert not any(receiver.incoming.iterdir())


def test_28_chunked_upload_in_process(receiver: Receiver, root_files: RootFiles) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        data = root_files.r
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    response = receiver.client.post(
        "/rest/api/files", content=chunks(), headers=receiver.auth(**META, Expect="100-continue")
    )
    assert response.status_code == 200
    assert response.json()["received"] == RECEIVED_TEST


def test_large_uploads_reach_the_disk_during_the_transfer(
    receiver: Receiver, root_files: RootFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past every 16 MiB staged, the bytes so far are synced in the background, so the fsync
    before the answer is short (spec §3.4 durability at the speed of the disk)."""
    from daqhub.core.files import AtomicWriter
    from daqhub.receiver.intake import SYNC_AHEAD_BYTES

    started: list[int] = []
    real = AtomicWriter.sync_ahead

    def counting(writer: AtomicWriter) -> bool:
        started.append(writer.size)
        return real(writer)

    monkeypatch.setattr(AtomicWriter, "sync_ahead", counting)
    assert receiver.upload(root_files.r).status_code == 200
    assert started == []  # small uploads are synced once, before validation
    payload = root_files.r + bytes(70 << 20)  # still valid: ROOT ignores bytes past its end
    response = receiver.upload(payload)
    assert response.status_code == 200
    assert len(started) >= 1 and min(started) >= SYNC_AHEAD_BYTES
    stored = receiver.data_dir / response.json()["filename"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("direct_io", [True, False])
def test_large_uploads_are_staged_with_direct_io(  # type: ignore[no-untyped-def]
    make_receiver, root_files: RootFiles, monkeypatch: pytest.MonkeyPatch, direct_io: bool
) -> None:
    """A body announced at 16 MiB or more goes to the disk past the page cache (unless the
    operator turned that off); small bodies, and bodies of unknown length, go through it."""
    from daqhub.receiver.storage import Storage

    receiver = make_receiver(direct_io=direct_io)
    staged: list[bool] = []
    real = Storage.new_writer

    def recording(storage: Storage, **options: Any) -> Any:
        writer = real(storage, **options)
        staged.append(writer.direct)
        return writer

    monkeypatch.setattr(Storage, "new_writer", recording)
    payload = root_files.r + bytes(20 << 20)  # still valid: ROOT ignores bytes past its end

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(payload), 1 << 20):
            yield payload[start : start + (1 << 20)]

    assert receiver.upload(root_files.r).status_code == 200
    large = receiver.upload(payload)
    assert large.status_code == 200
    chunked = receiver.client.post(
        "/rest/api/files", content=chunks(), headers=receiver.auth(**META)
    )
    assert chunked.status_code == 200
    assert staged == [False, direct_io, False]
    stored = (receiver.data_dir / large.json()["filename"]).read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(payload).digest()


def test_busy_when_all_slots_are_taken(make_receiver, root_files: RootFiles) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(max_concurrent_uploads=1, busy_wait=0.1)
    state = receiver.state
    portal = receiver.client.portal
    assert portal is not None
    semaphore = state._slots._semaphore  # the one slot of this single-process receiver
    portal.call(semaphore.acquire)
    try:
        response = receiver.upload(root_files.r)
    finally:
        semaphore.release()
    assert response.status_code == 503
    assert body_of(response) == {
        "message": "Receiver busy, retry later",
        "received": None,
        "status": 503,
    }
    assert response.headers["retry-after"]
    assert receiver.upload(root_files.r).status_code == 200


def test_metrics(receiver: Receiver, root_files: RootFiles) -> None:
    receiver.upload(root_files.r)
    receiver.upload(b"Hello world")
    text = receiver.client.get("/metrics").text
    assert 'daqhub_receiver_uploads_total{outcome="stored"} 1.0' in text
    assert 'daqhub_receiver_uploads_total{outcome="invalid"} 1.0' in text
    assert "daqhub_receiver_upload_bytes_total" in text
    assert "daqhub_receiver_validation_seconds_count 2.0" in text
    assert "daqhub_receiver_inbox_files 1.0" in text
    assert "daqhub_receiver_quarantine_files 1.0" in text
    free = os.statvfs(receiver.data_dir)
    reported = float(text.split("\ndaqhub_receiver_free_bytes ")[1].split()[0])
    assert abs(reported - free.f_bavail * free.f_frsize) < 256 << 20  # other writers meanwhile
    assert 'daqhub_receiver_last_upload_timestamp{agent="EMC"}' in text
    assert 'daqhub_receiver_requests_total{method="POST",route="/rest/api/files"' in text
