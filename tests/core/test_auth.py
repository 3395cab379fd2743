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
