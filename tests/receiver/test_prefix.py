"""The original's routes under ``receiver.mount_prefix`` (spec §2.1.1: MAY), for senders whose
base URL carries a path, e.g. ``http://daqhub:8000/overwatch-receiver``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from daqhub.receiver.settings import ReceiverSettings
from tests.receiver.conftest import META, STORED_NAME, Receiver, RootFiles, body_of

PREFIX = "/overwatch-receiver"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Routing only: one database suffices."""
    return str(request.param)


def test_senders_with_a_prefixed_base_url_work_unchanged(
    receiver: Receiver, root_files: RootFiles
) -> None:
    client = receiver.client
    for path in (PREFIX, PREFIX + "/"):  # the token check, as at the root of the receiver port
        assert body_of(client.post(path)) == {"message": "Must pass a token!"}
        checked = client.get(path, headers={"token": receiver.token})
        assert (checked.status_code, body_of(checked)) == (400, {"message": "Not implemented"})
    uploaded = client.post(
        f"{PREFIX}/rest/api/files",
        files={"file": ("upload.root", root_files.r, "application/octet-stream")},
        headers=receiver.auth(**META),
    )
    assert uploaded.status_code == 200
    assert body_of(uploaded)["filename"] == STORED_NAME  # type: ignore[index]
    listed = client.get(f"{PREFIX}/rest/api/files", headers=receiver.auth())
    assert body_of(listed) == body_of(client.get("/rest/api/files", headers=receiver.auth()))
    download = client.get(f"{PREFIX}/rest/api/files/{STORED_NAME}", headers=receiver.auth())
    assert download.content == root_files.r
    refused = client.put(f"{PREFIX}/rest/api/files", headers=receiver.auth())
    assert (refused.status_code, body_of(refused)) == (
        405,
        {"message": "Method Not Allowed", "status": 405},
    )
    missing = client.get(f"{PREFIX}/rest/api/files/nothing_DQM.root", headers=receiver.auth())
    assert missing.status_code == 404
    assert f"{PREFIX}/rest/api/files" not in client.get("/openapi.json").json()["paths"]


def test_an_empty_prefix_serves_nothing_there(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(mount_prefix="")
    response = receiver.client.get(f"{PREFIX}/rest/api/files", headers=receiver.auth())
    assert response.status_code == 404
    assert receiver.client.get("/rest/api/files", headers=receiver.auth()).status_code == 200


@pytest.mark.parametrize("value", ["overwatch", "/a/", "/a b", "/../x", "/"])
def test_a_prefix_must_be_a_plain_path(value: str) -> None:
    with pytest.raises(ValidationError):
        ReceiverSettings(mount_prefix=value)
