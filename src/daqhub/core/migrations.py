"""Schema migrations: ``daqhub db upgrade`` / ``current`` and the start-up check.

The scripts ship in ``daqhub/migrations``; each service owns a branch (label = service name)
that depends on the ``core`` branch, so services evolve their tables independently and
``upgrade heads`` brings every branch up to date.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from daqhub.core.db import Database


class SchemaOutOfDate(RuntimeError):
    """The database schema is older than this daqhub; run ``daqhub db upgrade``."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("daqhub") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    cfg = alembic_config(url)
    engine = Database.unpooled(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current(url: str) -> set[str]:
    """The revisions the database is at (empty for a database not created yet)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return set()
    engine = Database.unpooled(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def is_current(url: str) -> bool:
    return current(url) == heads()


def ensure_schema(url: str, *, auto_upgrade: bool) -> None:
    """Upgrade (when allowed) or refuse to run on a stale schema."""
    if is_current(url):
        return
    if not auto_upgrade:
        raise SchemaOutOfDate(
            "the database schema is not up to date; run `daqhub db upgrade` "
            "(or start with --upgrade)"
        )
    upgrade(url)
