"""The shared token store: hashed at rest, scoped, revocable, never echoed."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from daqhub.core.auth import ApiToken, AuthError, TokenStore, load_secret_key
from daqhub.core.db import Database
from daqhub.settings import Settings


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[TokenStore]:
    db = Database(database_url)
    yield TokenStore(db, load_secret_key(tmp_path, None), cache_seconds=0)
    db.dispose()


def test_generated_tokens_are_40_hex_and_stored_hashed(
    store: TokenStore, database_url: str
) -> None:
    value = store.create("ops")
    assert re.fullmatch(r"[0-9a-f]{40}", value)
    engine = Database.unpooled(database_url)
    with engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM auth_tokens")))
    engine.dispose()
    assert value not in dump
    assert store.digest(value) in dump


def test_verify_scopes_and_admin(store: TokenStore) -> None:
    admin = store.verify(store.create("root"))
    assert admin is not None and admin.has_scope("receiver:upload") and admin.has_scope("dpm")
    dqm = store.verify(store.create("dqm", scopes=["receiver"]))
    assert dqm is not None
    assert dqm.has_scope("receiver") and dqm.has_scope("receiver:list")
    assert not dqm.has_scope("monitor")
    upload_only = store.verify(store.create("up", scopes=["receiver:upload"]))
    assert upload_only is not None
    assert upload_only.has_scope("receiver:upload") and not upload_only.has_scope("receiver:list")
    assert store.verify("nope") is None
    assert store.verify("") is None
    assert store.verify(None) is None


def test_import_legacy_value(store: TokenStore) -> None:
    assert store.create("legacy", value="abcdefghi", scopes=["receiver"]) == "abcdefghi"
    principal = store.verify("abcdefghi")
    assert principal is not None and principal.token_name == "legacy"
    with pytest.raises(AuthError):
        store.create("again", value="abcdefghi")
    with pytest.raises(AuthError):
        store.create("legacy")
    with pytest.raises(AuthError):
        store.create("blank", value="")
    with pytest.raises(AuthError):
        store.create("ctl", value="a\nb")
    with pytest.raises(AuthError):
        store.create("bad-scope", scopes=["root"])


def test_revocation_and_expiry(store: TokenStore) -> None:
    value = store.create("temp")
    assert store.verify(value) is not None
    assert store.revoke("temp") is True
    assert store.verify(value) is None
    assert store.revoke("temp") is False
    soon = store.create("soon", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert store.verify(soon) is None


def test_revocation_reaches_other_processes_within_the_cache_time(
    database_url: str, tmp_path: Path
) -> None:
    secret = load_secret_key(tmp_path, None)
    db_here, db_there = Database(database_url), Database(database_url)
    here = TokenStore(db_here, secret, cache_seconds=0.2)
    there = TokenStore(db_there, secret, cache_seconds=0.2)
    value = here.create("shared")
    assert there.verify(value) is not None
    here.revoke("shared")
    assert there.verify(value) is not None  # still cached there ...
    time.sleep(0.25)
    assert there.verify(value) is None  # ... for at most cache_seconds
    db_here.dispose()
    db_there.dispose()


def test_owner_user_and_display_name(store: TokenStore) -> None:
    with pytest.raises(AuthError):
        store.create("t1", username="alice")
    principal = store.verify(store.create("t1", username="alice", create_user=True))
    assert principal is not None and principal.display_name == "alice"
    bare = store.verify(store.create("t2"))
    assert bare is not None and bare.display_name == "token:t2"


def test_last_use_is_recorded(store: TokenStore) -> None:
    value = store.create("used")
    store.verify(value, client="10.0.0.1")
    with store._db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "used"))
        assert row is not None and row.last_used_at is not None and row.last_used_addr == "10.0.0.1"


def test_secret_key_file_is_private(tmp_path: Path) -> None:
    key = load_secret_key(tmp_path / "d", None)
    path = tmp_path / "d" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_key(tmp_path / "d", None) == key
    assert load_secret_key(tmp_path / "d", "configured") == b"configured"


def test_rotation_keeps_the_previous_value_for_the_overlap(store: TokenStore) -> None:
    old = store.create("dqm-emc", scopes=["receiver:upload"])
    new, until = store.rotate("dqm-emc", overlap=timedelta(seconds=0.5))
    assert until is not None and new != old
    for value in (old, new):
        principal = store.verify(value)
        assert principal is not None and principal.token_name == "dqm-emc"
        assert principal.scopes == {"receiver:upload"}
    info = next(t for t in store.list() if t.name == "dqm-emc")
    assert info.rotated_at is not None and info.previous_expires_at == until
    time.sleep(0.6)
    assert store.verify(old) is None  # the overlap is over
    assert store.verify(new) is not None
    assert next(t for t in store.list() if t.name == "dqm-emc").previous_expires_at is None


def test_the_configured_overlap_applies_when_a_rotation_names_none(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="configured-key",
        auth={"rotation_overlap": 90, "cache_seconds": 0},
    )
    db = Database(database_url)
    try:
        store = TokenStore.from_settings(db, settings)
        assert store.digest("x") == TokenStore(db, b"configured-key").digest("x")
        store.create("dqm-its", scopes=["receiver"])
        before = datetime.now(UTC)
        _, until = store.rotate("dqm-its")
        assert until is not None
        assert timedelta(seconds=89) < until - before < timedelta(seconds=91)
        _, explicit = store.rotate("dqm-its", overlap=timedelta(0))
        assert explicit is None
    finally:
        db.dispose()


def test_rotation_without_overlap_and_twice(store: TokenStore) -> None:
    first = store.create("ops", scopes=["monitor"])
    second, until = store.rotate("ops", overlap=timedelta(0))
    assert until is None
    assert store.verify(first) is None and store.verify(second) is not None
    third, _ = store.rotate("ops", overlap=timedelta(hours=1))
    fourth, _ = store.rotate("ops", overlap=timedelta(hours=1))
    assert store.verify(second) is None  # only one previous value is kept
    assert store.verify(third) is not None and store.verify(fourth) is not None


def test_rotation_refusals_and_revocation_of_both_values(store: TokenStore) -> None:
    old = store.create("legacy", value="overwatch-shared-secret", scopes=["receiver"])
    new, _ = store.rotate("legacy", overlap=timedelta(hours=1), value="new-imported-secret")
    assert new == "new-imported-secret"
    with pytest.raises(AuthError, match="already in use"):
        store.create("other", value=old)  # a previous value still in its overlap is taken
    with pytest.raises(AuthError, match="no active token"):
        store.rotate("missing", overlap=timedelta(0))
    with pytest.raises(AuthError):
        store.rotate("legacy", overlap=timedelta(seconds=-1))
    assert store.revoke("legacy") is True
    assert store.verify(old) is None and store.verify(new) is None
    with pytest.raises(AuthError, match="no active token"):
        store.rotate("legacy", overlap=timedelta(0))


def test_changes_are_audit_logged_without_values(
    store: TokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="daqhub.audit")
    first = store.create("audited", scopes=["receiver"], actor="token 'root' from 10.0.0.1")
    second, _ = store.rotate("audited", overlap=timedelta(minutes=5))
    store.revoke("audited", actor="cli")
    lines = [r.getMessage() for r in caplog.records if r.name == "daqhub.audit"]
    assert any("'audited' created by token 'root' from 10.0.0.1" in line for line in lines)
    assert any("'audited' rotated by cli" in line for line in lines)
    assert any("'audited' revoked by cli" in line for line in lines)
    assert first not in caplog.text and second not in caplog.text
