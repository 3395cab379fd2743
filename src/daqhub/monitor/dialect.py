"""The one statement that differs between the embedded SQLite and PostgreSQL: insert-or-ignore.

Both backends support ``INSERT ... ON CONFLICT DO NOTHING``; it makes first-time creation
(heartbeat upserts, the counter document, ``namespaces/ensure``) race-free without a retry loop:
a concurrent second insert waits for the first to commit and then does nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, values: dict[str, Any], key: str) -> bool:
    """Insert ``values`` unless a row with the same ``key`` exists; True if inserted."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[table.c[key]])
        .returning(table.c[key])
    )
    return session.execute(statement).first() is not None
