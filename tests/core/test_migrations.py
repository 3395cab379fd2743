"""Migrations ship in the package and produce exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from typer.testing import CliRunner

from daqhub.cli.main import app
from daqhub.core import migrations
from daqhub.core.schema import metadata


def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, metadata())
    engine.dispose()
    assert diff == []


def test_cli_upgrade_and_current(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "fresh")
    result = runner.invoke(app, ["db", "current", "--data-dir", data])
    assert result.exit_code == 0
    assert "pending" in result.output
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", data])
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{tmp_path / 'fresh' / 'daqhub.db'}"
    assert migrations.is_current(url)
    result = runner.invoke(app, ["db", "current", "--data-dir", data])
    assert "up to date" in result.output
    for head in migrations.heads():
        assert head in result.output


def test_server_refuses_a_stale_postgres_schema(postgres_server_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    admin = create_engine(
        postgres_server_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT"
    )
    name = f"stale_{tmp_path.name[-20:].replace('-', '_').lower()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--database-url", url])
        assert result.exit_code == 1
        assert "daqhub db upgrade" in result.output
        result = runner.invoke(
            app, ["db", "upgrade", "--data-dir", str(tmp_path), "--database-url", url]
        )
        assert result.exit_code == 0
        assert migrations.is_current(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
