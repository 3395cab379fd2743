"""``daqhub token``: create, list, rotate and revoke the tokens every service accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from daqhub.cli.common import (
    ConfigFile,
    DatabaseUrl,
    DataDir,
    JsonFlag,
    fail,
    info,
    open_database,
    settings_from,
)
from daqhub.core.auth import SCOPES, AuthError, TokenStore
from daqhub.settings import Settings

app = typer.Typer(help="API tokens (shared by every service).", no_args_is_help=True)


def token_store(settings: Settings) -> TokenStore:
    return TokenStore.from_settings(open_database(settings), settings)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. dqm-emc")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help=f"Repeatable; one of {', '.join(SCOPES)} (default admin)"),
    ] = None,
    value: Annotated[
        str | None,
        typer.Option("--value", help="Import an existing secret instead of generating one"),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Owner user name")] = None,
    create_user: Annotated[
        bool, typer.Option("--create-user", help="Create the owner if missing")
    ] = False,
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Lifetime in days")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Create a token and print it (only the token, on stdout). It works at once."""
    store = token_store(settings_from(data_dir, database_url, config))
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    try:
        plain = store.create(
            name,
            scopes=scope or ["admin"],
            value=value,
            username=user,
            create_user=create_user,
            expires_at=expires,
        )
    except AuthError as exc:
        fail(str(exc))
    typer.echo(plain)


@app.command("list")
def list_tokens(
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List tokens (never their values)."""
    store = token_store(settings_from(data_dir, database_url, config))
    tokens = store.list()
    if as_json:
        typer.echo(json.dumps([t.as_json() for t in tokens]))
        return
    from rich.console import Console
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table("name", "scopes", "user", "created", "last used", "state", "old value until")
    for t in tokens:
        table.add_row(
            t.name,
            ",".join(t.scopes),
            t.username or "",
            t.created_at.strftime("%Y-%m-%d %H:%M"),
            t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never",
            t.state(now),
            f"{t.previous_expires_at:%Y-%m-%d %H:%M}" if t.previous_expires_at else "",
        )
    Console().print(table)


@app.command()
def rotate(
    name: Annotated[str, typer.Argument(help="Name of the token to rotate")],
    overlap_hours: Annotated[
        float | None,
        typer.Option(
            "--overlap-hours",
            help="How long the current value keeps working (default: auth.rotation_overlap)",
        ),
    ] = None,
    value: Annotated[
        str | None,
        typer.Option("--value", help="Import the new value instead of generating one"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Give a token a new value (printed, only it, on stdout); the old one works for a while."""
    settings = settings_from(data_dir, database_url, config)
    store = token_store(settings)
    overlap = timedelta(hours=overlap_hours) if overlap_hours is not None else None
    try:
        plain, until = store.rotate(name, overlap=overlap, value=value)
    except AuthError as exc:
        fail(str(exc))
    typer.echo(plain)
    info(
        f"token {name!r} rotated; the previous value works until {until.isoformat()}"
        if until
        else f"token {name!r} rotated; the previous value no longer works"
    )


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="Name of the token to revoke")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a token; every server process refuses it within seconds."""
    store = token_store(settings_from(data_dir, database_url, config))
    if not store.revoke(name):
        fail(f"no active token named {name!r}")
    info(f"token {name!r} revoked")
