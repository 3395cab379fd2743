"""Options every command shares, and how they become settings.

CLI flags are the highest-precedence source; an option left out falls back to the environment
(``DAQHUB_DATA_DIR``, ``DAQHUB_DATABASE_URL`` ...), then the config file, then the default.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from daqhub.core import migrations
from daqhub.core.db import Database
from daqhub.settings import Settings, load_settings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [env: DAQHUB_DATA_DIR; default ./daqhub-data]"),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL [env: DAQHUB_DATABASE_URL; default SQLite]"
    ),
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file [env: DAQHUB_CONFIG]")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout")]


def settings_from(
    data_dir: Path | None, database_url: str | None, config: Path | None, **overrides: Any
) -> Settings:
    try:
        return load_settings(
            config, {"data_dir": data_dir, "database_url": database_url, **overrides}
        )
    except Exception as exc:
        fail(f"invalid settings: {exc}")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def info(message: str) -> None:
    typer.echo(message, err=True)


def open_database(settings: Settings, *, upgrade: bool | None = None) -> Database:
    """The database, schema-checked: SQLite upgrades itself, others need ``db upgrade``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    auto = settings.database.auto_upgrade
    if upgrade is not None:
        auto = upgrade
    if auto is None:
        auto = db.dialect == "sqlite"
    try:
        migrations.ensure_schema(settings.effective_database_url, auto_upgrade=auto)
    except migrations.SchemaOutOfDate as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"cannot open the database: {exc}")
    return db


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
