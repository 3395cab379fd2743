"""The receiver's migration creates exactly the tables its models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from daqhub.core.db import Database
from daqhub.core.schema import metadata


def _mentions_receiver(diff: Any) -> bool:
    return "receiver_" in repr(diff)


def test_migration_matches_models(database_url: str) -> None:
    engine = Database.unpooled(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata()) if _mentions_receiver(d)]
    finally:
        engine.dispose()
    assert diffs == []
