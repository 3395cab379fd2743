"""``daqhub db``: schema migrations."""

from __future__ import annotations

import typer

from daqhub.cli.common import ConfigFile, DatabaseUrl, DataDir, fail, info, settings_from
from daqhub.core import migrations

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """Apply every pending migration."""
    settings = settings_from(data_dir, database_url, config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrations.upgrade(settings.effective_database_url)
    except Exception as exc:
        fail(f"upgrade failed: {exc}")
    info("database schema is up to date")


@app.command()
def current(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """Show the schema revision(s) of the database and whether they are the newest."""
    settings = settings_from(data_dir, database_url, config)
    try:
        revisions = migrations.current(settings.effective_database_url)
    except Exception as exc:
        fail(f"cannot read the database: {exc}")
    heads = migrations.heads()
    for revision in sorted(revisions) or ["(empty)"]:
        typer.echo(revision)
    info("up to date" if revisions == heads else f"pending: upgrade to {', '.join(sorted(heads))}")
