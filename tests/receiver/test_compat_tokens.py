"""Token checks, scopes and throttling (spec §2.3, §2.4, §3.1; checklist 1-3, 9, 29-31)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from daqhub.core.db import Database, utcnow
from daqhub.receiver.gate import Throttle
from daqhub.receiver.ledger import AuthFailureLedger
from daqhub.receiver.models import ReceiverAuthBlock, ReceiverAuthFailure
from tests.receiver.conftest import FAST_RECEIVER, STORED_NAME, Receiver, body_of, wait_for


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """These answers do not depend on the database; the upload and index tests run on both."""
    return str(request.param)


MUST = {"message": "Must pass a token!"}
INVALID = {"message": "Received token, but it is invalid!"}
NOT_IMPLEMENTED = {"message": "Not implemented"}
FORBIDDEN = {"message": "Token is not allowed to perform this operation"}
RESTRICTED = ["127.0.0.1:80=receiver"]


def test_1_post_root_without_token(receiver: Receiver) -> None:
    response = receiver.client.post("/")
    assert response.status_code == 400
    assert response.content == b'{"message":"Must pass a token!"}\n'
    assert response.headers["content-type"] == "application/json"


def test_1_get_root_without_token_on_receiver_listener(
    make_receiver: Callable[..., Receiver],
) -> None:
    receiver = make_receiver(listen=RESTRICTED)
    response = receiver.client.get("/")
    assert response.status_code == 400
    assert body_of(response) == MUST


def test_root_without_token_on_shared_listener_is_the_home_page(receiver: Receiver) -> None:
    response = receiver.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_2_root_token_check(receiver: Receiver, method: str) -> None:
    client = receiver.client
    wrong = client.request(method, "/", headers={"token": "123456"})
    assert (wrong.status_code, body_of(wrong)) == (400, INVALID)
    good = client.request(method, "/", headers={"token": receiver.token})
    assert (good.status_code, body_of(good)) == (400, NOT_IMPLEMENTED)


def test_2_other_methods_on_root_of_receiver_listener(
    make_receiver: Callable[..., Receiver],
) -> None:
    receiver = make_receiver(listen=RESTRICTED)
    response = receiver.client.put("/", headers={"token": receiver.token})
    assert response.status_code == 405
    assert body_of(response) == {"message": "Method Not Allowed", "status": 405}
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("name", ["Token", "TOKEN", "tOkEn"])
def test_3_header_name_case_insensitive(receiver: Receiver, name: str) -> None:
    response = receiver.client.get("/rest/api/files", headers={name: receiver.token})
    assert response.status_code == 200


def test_token_value_whitespace_is_ignored(receiver: Receiver) -> None:
    response = receiver.client.get("/rest/api/files", headers={"token": f"  {receiver.token} "})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/rest/api/files"),
        ("GET", "/rest/api/files?filename=" + STORED_NAME),
        ("GET", "/rest/api/files/" + STORED_NAME),
        ("GET", "/rest/api/files/missing_DQM.root"),
        ("GET", "/rest/api/files/ignoreFile.txt"),
        ("POST", "/rest/api/files"),
        ("HEAD", "/rest/api/files"),
    ],
)
def test_9_every_route_needs_a_token(receiver: Receiver, method: str, path: str) -> None:
    response = receiver.client.request(method, path)
    assert response.status_code == 400
    if method != "HEAD":
        assert body_of(response) == MUST
    wrong = receiver.client.request(method, path, headers={"token": "wrong"})
    assert wrong.status_code == 400
    if method != "HEAD":
        assert body_of(wrong) == INVALID


def test_token_errors_carry_only_message(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    response = receiver.upload(root_files.r, token="wrong")
    assert body_of(response) == INVALID
    assert not any(receiver.data_dir.glob("*.part"))


def test_empty_token_is_invalid(receiver: Receiver) -> None:
    response = receiver.client.get("/rest/api/files", headers={"token": ""})
    assert (response.status_code, body_of(response)) == (400, INVALID)


def test_bearer_is_accepted_and_token_header_wins(receiver: Receiver) -> None:
    client = receiver.client
    bearer = {"Authorization": f"Bearer {receiver.token}"}
    assert client.get("/rest/api/files", headers=bearer).status_code == 200
    both = client.get("/rest/api/files", headers={**bearer, "token": "wrong"})
    assert (both.status_code, body_of(both)) == (400, INVALID)


def test_imported_legacy_token_works(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(token_value="abcdefghi")
    assert receiver.token == "abcdefghi"
    response = receiver.client.get("/", headers={"token": "abcdefghi"})
    assert body_of(response) == NOT_IMPLEMENTED


def test_30_revoked_and_expired_tokens_are_invalid(receiver: Receiver) -> None:
    from datetime import UTC, datetime, timedelta

    tokens = receiver.runtime.tokens
    revoked = tokens.create("soon-revoked", scopes=["receiver"])
    assert receiver.client.get("/rest/api/files", headers={"token": revoked}).status_code == 200
    tokens.revoke("soon-revoked")
    expired = tokens.create(
        "expired", scopes=["receiver"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    for value in (revoked, expired):
        response = receiver.client.get("/rest/api/files", headers={"token": value})
        assert (response.status_code, body_of(response)) == (400, INVALID)


def test_30_scopes(receiver: Receiver, root_files) -> None:  # type: ignore[no-untyped-def]
    client = receiver.client
    upload_only = receiver.make_token("upload-only", ["receiver:upload"])
    listing = client.get("/rest/api/files", headers={"token": upload_only})
    assert (listing.status_code, body_of(listing)) == (403, FORBIDDEN)
    download = client.get(f"/rest/api/files/{STORED_NAME}", headers={"token": upload_only})
    assert download.status_code == 403
    assert receiver.upload(root_files.r, token=upload_only).status_code == 200
    list_only = receiver.make_token("list-only", ["receiver:list"])
    assert client.get("/rest/api/files", headers={"token": list_only}).status_code == 200
    refused = receiver.upload(root_files.r, token=list_only)
    assert (refused.status_code, body_of(refused)) == (403, FORBIDDEN)
    other_service = receiver.make_token("monitor-only", ["monitor"])
    root = client.get("/", headers={"token": other_service})
    assert (root.status_code, body_of(root)) == (403, FORBIDDEN)
    admin = receiver.make_token("admin", ["admin"])
    assert client.get("/rest/api/files", headers={"token": admin}).status_code == 200


def test_31_invalid_token_throttle(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    client = receiver.client
    for _ in range(10):
        assert client.get("/rest/api/files", headers={"token": "guess"}).status_code == 400
    eleventh = client.get("/rest/api/files", headers={"token": "guess"})
    assert eleventh.status_code == 429
    assert body_of(eleventh) == {"message": "Too many invalid token attempts", "status": 429}
    assert 1 <= int(eleventh.headers["retry-after"]) <= 60
    # Any token-bearing request from that address, even with a valid token.
    valid = client.get("/rest/api/files", headers={"token": receiver.token})
    assert valid.status_code == 429
    # A request without a token is not a guess: it keeps its own answer.
    assert body_of(client.get("/rest/api/files")) == MUST
    failures = receiver.runtime.metrics.render()[0].decode()
    assert 'daqhub_receiver_auth_failures_total{reason="invalid"} 10.0' in failures


def test_31_throttle_is_shared_by_processes_and_replicas(
    make_receiver: Callable[..., Receiver], make_client: Callable[..., TestClient]
) -> None:
    """Guesses spread over two servers on one database meet one limit (spec §3.1)."""
    here = make_receiver()
    there = make_client(receiver=FAST_RECEIVER)  # another replica: own process state
    for client in (here.client, there) * 5:
        assert client.get("/rest/api/files", headers={"token": "guess"}).status_code == 400
    # The tenth failure (on the second server) blocked the address; the first server answers
    # the eleventh guess with 429 although it saw only five.
    eleventh = here.client.get("/rest/api/files", headers={"token": "guess"})
    assert eleventh.status_code == 429
    assert 1 <= int(eleventh.headers["retry-after"]) <= 60
    # Within a second every process also refuses the valid token from that address.
    wait_for(
        lambda: there.get("/rest/api/files", headers={"token": here.token}).status_code == 429,
        timeout=3,
    )


def test_ledger_counts_in_a_window_and_prunes(database_url: str) -> None:
    db = Database(database_url)
    try:
        ledger = AuthFailureLedger(db, limit=3, window=0.5, block=0.4)
        assert ledger.record("192.0.2.7") == (None, False)
        time.sleep(0.6)  # the window slides past the first attempt
        assert ledger.record("192.0.2.7") == (None, False)
        assert ledger.record("192.0.2.7") == (None, False)
        until, already = ledger.record("192.0.2.7")
        assert until is not None and not already
        assert until - utcnow() <= timedelta(seconds=0.4)
        assert ledger.record("192.0.2.7") == (until, True)
        assert set(ledger.blocks()) == {"192.0.2.7"}
        time.sleep(0.7)
        assert ledger.blocks() == {}
        ledger.record("198.51.100.1")
        ledger.prune()
        with db.read() as session:
            assert session.query(ReceiverAuthBlock).count() == 0  # ended
            assert session.query(ReceiverAuthFailure).count() == 1  # still in its window
    finally:
        db.dispose()


def test_throttle_blocks_counts_down_and_exempts_trusted_networks(database_url: str) -> None:
    db = Database(database_url)
    now = [1000.0]
    try:
        ledger = AuthFailureLedger(db, limit=3, window=60.0, block=60.0)
        throttle = Throttle(ledger, ["10.0.0.0/8"], clock=lambda: now[0])
        assert throttle.failure("192.0.2.1") is None
        assert throttle.failure("192.0.2.1") is None
        assert throttle.retry_after("192.0.2.1") is None
        assert throttle.failure("192.0.2.1") is None  # the third one starts the block ...
        assert throttle.retry_after("192.0.2.1") == pytest.approx(60.0, abs=1.0)
        assert throttle.failure("192.0.2.1") == pytest.approx(60.0, abs=1.0)  # ... in force
        now[0] += 30
        assert throttle.retry_after("192.0.2.1") == pytest.approx(30.0, abs=1.0)
        now[0] += 31
        assert throttle.retry_after("192.0.2.1") is None  # this process's copy has expired
        for _ in range(10):
            assert throttle.failure("10.1.2.3") is None
        assert throttle.retry_after("10.1.2.3") is None
        assert set(ledger.blocks()) == {"192.0.2.1"}  # trusted attempts are not even counted
    finally:
        db.dispose()


def test_29_unknown_paths_and_methods(receiver: Receiver) -> None:
    client = receiver.client
    put = client.put("/rest/api/files", headers={"token": receiver.token})
    assert put.status_code == 405
    assert body_of(put) == {"message": "Method Not Allowed", "status": 405}
    assert set(put.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    post_file = client.post(f"/rest/api/files/{STORED_NAME}", headers={"token": receiver.token})
    assert post_file.status_code == 405
    assert body_of(post_file)["status"] == 405  # type: ignore[index]
    nope = client.get("/nope")  # the shared listener's format (DESIGN.md, shared contract 3)
    assert (nope.status_code, nope.json()) == (404, {"message": "Not Found", "status": 404})
    slash = client.get("/rest/api/files/", headers={"token": receiver.token})
    assert slash.status_code == 404


def test_29_receiver_listener_answers_json_everywhere(
    make_receiver: Callable[..., Receiver],
) -> None:
    receiver = make_receiver(listen=RESTRICTED)
    for path in ("/nope", "/static/x", "/api/v1/partitions"):
        response = receiver.client.get(path)
        assert response.status_code == 404
        assert body_of(response) == {"message": "Not Found", "status": 404}
