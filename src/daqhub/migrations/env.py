"""Alembic environment: run against the connection daqhub hands over (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from daqhub.core.db import Database
from daqhub.core.schema import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes upgrading at once must not both run the same migration.
            connection.execute(text("SELECT pg_advisory_xact_lock(14306571, 1)"))
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = Database.unpooled(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
