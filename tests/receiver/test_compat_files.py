"""Listing and downloading (spec §2.5, §2.7, §3.7; checklist 4-8): only listable files, never a
path outside the data directory, byte ranges and validators."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.receiver.conftest import STORED_NAME, Receiver, body_of


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """These answers do not depend on the database; the upload and index tests run on both."""
    return str(request.param)


NOT_FOUND = {"message": "File not found", "status": 404}


def listing(receiver: Receiver, query: str = "") -> list[str]:
    response = receiver.client.get(f"/rest/api/files{query}", headers=receiver.auth())
    assert response.status_code == 200
    return list(body_of(response)["files"])  # type: ignore[index]


def get(receiver: Receiver, name: str, **headers: str):  # type: ignore[no-untyped-def]
    return receiver.client.get(f"/rest/api/files/{name}", headers=receiver.auth(**headers))


def test_4_listing(receiver: Receiver, tmp_path: Path) -> None:
    data = receiver.data_dir
    (data / "Run123456").mkdir()
    (data / "Run123456" / "EMC").mkdir()
    (data / "Run123456" / "EMC" / "EMChistos_1_DQM_x.root").write_bytes(b"moved away")
    (data / ".hidden_DQM.root").write_bytes(b"hidden")
    (data / "EMChistos_294832_C_2018_10_22_9_53_55.root").write_bytes(b"zmq")
    (data / "overwatch.fs").write_bytes(b"database")
    assert listing(receiver) == [STORED_NAME]
    body = receiver.client.get("/rest/api/files", headers=receiver.auth()).content
    assert body == b'{"files":["EMChistos_123456_DQM_1970_01_02_16_07_24.root"]}\n'


def test_4_quarantine_and_staging_are_never_listed(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    assert receiver.upload(b"Hello world").status_code == 400
    assert any(receiver.quarantine.iterdir())
    (receiver.incoming / "leftover_DQM.root.part").write_bytes(b"x")
    assert listing(receiver) == [STORED_NAME]


def test_5_case_insensitive_dqm_subdirectories_and_symlinks(
    receiver: Receiver, tmp_path: Path
) -> None:
    data = receiver.data_dir
    (data / "xdqmy.root").write_bytes(b"listed")
    (data / "sub_DQM").mkdir()
    (data / "sub_DQM" / "inner_DQM.root").write_bytes(b"not listed")
    outside = tmp_path / "secret_DQM.root"
    outside.write_bytes(b"outside")
    (data / "link_DQM.root").symlink_to(outside)
    (data / "innerlink_DQM.root").symlink_to(data / STORED_NAME)
    os.mkfifo(data / "fifo_DQM.root")
    assert listing(receiver) == [STORED_NAME, "xdqmy.root"]
    assert get(receiver, "xdqmy.root").content == b"listed"
    for name in ("link_DQM.root", "innerlink_DQM.root", "sub_DQM", "fifo_DQM.root"):
        response = get(receiver, name)
        assert (response.status_code, body_of(response)) == (404, NOT_FOUND), name


def test_6_filename_query_returns_the_listing(receiver: Receiver) -> None:
    assert listing(receiver, f"?filename={STORED_NAME}") == [STORED_NAME]
    assert listing(receiver, "?anything=1&filename=x") == [STORED_NAME]


def test_7_download(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    response = get(receiver, STORED_NAME)
    assert response.status_code == 200
    assert response.content == root_files.r
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(root_files.r))
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"]
    assert response.headers["last-modified"]
    assert response.headers.get("content-disposition", "inline") == "inline"


def test_7_download_of_a_received_file_carries_its_checksum(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    upload = receiver.upload(root_files.r)
    sha = upload.headers["x-daqhub-sha256"]
    response = get(receiver, STORED_NAME)
    assert response.headers["etag"] == f'"sha256-{sha}"'
    import base64

    expected = base64.b64encode(bytes.fromhex(sha)).decode()
    assert response.headers["repr-digest"] == f"sha-256=:{expected}:"


def test_7_head_and_other_mime_types(receiver: Receiver) -> None:
    (receiver.data_dir / "notes_DQM.txt").write_text("plain")
    (receiver.data_dir / "blob_DQM").write_bytes(b"\x00")
    head = receiver.client.head(f"/rest/api/files/{STORED_NAME}", headers=receiver.auth())
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert get(receiver, "notes_DQM.txt").headers["content-type"].startswith("text/plain")
    assert get(receiver, "blob_DQM").headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "name",
    [
        "missing_DQM.root",
        "ignoreFile.txt",
        "..%2F..%2Fetc%2Fpasswd",
        "..%2Fdaqhub.db",
        "%2Fetc%2Fpasswd",
        "daqhub.db",
        "%2E%2E",
        "secret.key",
        ".daqhub-quarantine",
        ".daqhub-incoming",
    ],
)
def test_8_not_found_and_traversal(receiver: Receiver, name: str) -> None:
    response = get(receiver, name)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == 404
    assert b"root" not in response.content.lower().replace(b"not found", b"")


def test_8_names_are_sanitised_before_lookup(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    (receiver.data_dir / "EMC_histos_DQM.root").write_bytes(b"spaced")
    assert get(receiver, "EMC%20histos_DQM.root").content == b"spaced"
    assert get(receiver, STORED_NAME + ";").content == root_files.r
    assert get(receiver, "%C3%9Cber_DQM.root").status_code == 404


def test_8_quarantined_payload_is_not_downloadable(receiver: Receiver) -> None:
    refused = receiver.upload(b"Hello world", meta={"amoreAgent": "TPC"})
    name = refused.json()["filename"]
    assert get(receiver, name).status_code == 404
    quarantined = next(receiver.quarantine.iterdir()).name
    assert get(receiver, quarantined).status_code == 404


def test_ranges(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    data = root_files.r
    size = len(data)
    one = get(receiver, STORED_NAME, range="bytes=0-3")
    assert (one.status_code, one.content) == (206, data[:4])
    assert one.headers["content-range"] == f"bytes 0-3/{size}"
    suffix = get(receiver, STORED_NAME, range="bytes=-10")
    assert suffix.content == data[-10:]
    open_end = get(receiver, STORED_NAME, range=f"bytes={size - 5}-")
    assert open_end.content == data[-5:]
    many = get(receiver, STORED_NAME, range="bytes=0-1,100-109")
    assert many.status_code == 206
    content_type = many.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    parts = [p for p in many.content.split(b"--" + boundary) if p.strip(b"-\r\n")]
    assert len(parts) == 2
    assert parts[0].endswith(b"\r\n\r\n" + data[0:2] + b"\r\n")
    assert f"Content-Range: bytes 100-109/{size}".encode() in parts[1]
    assert parts[1].endswith(b"\r\n\r\n" + data[100:110] + b"\r\n")
    assert int(many.headers["content-length"]) == len(many.content)
    beyond = get(receiver, STORED_NAME, range=f"bytes={size + 10}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    garbage = get(receiver, STORED_NAME, range="pages=1-2")
    assert (garbage.status_code, garbage.content) == (200, data)


def test_conditional_requests(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    first = get(receiver, STORED_NAME)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert get(receiver, STORED_NAME, **{"if-none-match": etag}).status_code == 304
    assert get(receiver, STORED_NAME, **{"if-none-match": '"other"'}).status_code == 200
    assert get(receiver, STORED_NAME, **{"if-modified-since": modified}).status_code == 304
    old = formatdate(0, usegmt=True)
    assert get(receiver, STORED_NAME, **{"if-modified-since": old}).status_code == 200
    stale = get(receiver, STORED_NAME, range="bytes=0-3", **{"if-range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, root_files.r)


def test_listing_503_when_the_data_directory_is_gone(receiver: Receiver) -> None:
    import shutil

    shutil.rmtree(receiver.data_dir)
    receiver.data_dir.write_text("not a directory any more")
    response = receiver.client.get("/rest/api/files", headers=receiver.auth())
    assert response.status_code == 503
    assert body_of(response) == {"message": "Data directory unavailable", "status": 503}
    assert response.headers["retry-after"]
    health = receiver.client.get("/api/v1/receiver/health")
    assert (health.status_code, health.json()) == (503, {"status": "unavailable"})
    receiver.data_dir.unlink()
    assert receiver.client.get("/api/v1/receiver/health").json() == {"status": "ok"}
    assert receiver.client.get("/rest/api/files", headers=receiver.auth()).json() == {"files": []}


def test_an_open_download_keeps_its_bytes_when_the_file_is_replaced(
    receiver: Receiver, root_files
) -> None:  # type: ignore[no-untyped-def]
    opened = receiver.state.storage.open_listable(STORED_NAME)
    assert opened is not None
    try:
        replacement = receiver.data_dir / "replacement.tmp"
        replacement.write_bytes(b"new content")
        os.replace(replacement, receiver.data_dir / STORED_NAME)
        assert os.pread(opened.fd, opened.size, 0) == root_files.r
    finally:
        opened.close()
