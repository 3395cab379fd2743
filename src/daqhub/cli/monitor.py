"""``daqhub monitor``: the workflow monitor from the command line.

``get-token`` works on the database directly (deployment glue greps its output line); the
other commands are clients of a running server (``--url``/``DAQHUB_URL``, ``--token``/
``DAQHUB_TOKEN``) built on :class:`daqhub.client.monitor.MonitorClient`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Annotated, Any

import httpx
import typer

from daqhub.cli.common import ConfigFile, DatabaseUrl, DataDir, JsonFlag, fail, settings_from
from daqhub.client.base import DaqhubClientError
from daqhub.client.monitor import MonitorClient

app = typer.Typer(help="The workflow monitor (agents, logs, runs, counters).", no_args_is_help=True)

Url = Annotated[
    str, typer.Option("--url", envvar="DAQHUB_URL", help="Server URL, with any mount prefix")
]
Token = Annotated[
    str | None, typer.Option("--token", envvar="DAQHUB_TOKEN", help="API token (monitor scope)")
]
DEFAULT_URL = "http://127.0.0.1:8000"


@app.command("get-token")
def get_token(
    username: Annotated[str, typer.Argument(help="Owner of the new token")],
    create_user: Annotated[
        bool, typer.Option("--create-user", help="Create the user if it does not exist")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Issue a new monitor token for USERNAME (keys are stored hashed, so every call issues a
    fresh one) and print the original's line: ``New token created for user "<u>": <key>``."""
    from daqhub.cli.common import open_database
    from daqhub.core.auth import AuthError, TokenStore

    settings = settings_from(data_dir, database_url, config)
    db = open_database(settings)
    name = f"monitor-{username}-{secrets.token_hex(4)}"[:100]
    try:
        store = TokenStore.from_settings(db, settings)
        key = store.create(name, scopes=["monitor"], username=username, create_user=create_user)
    except AuthError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    typer.echo(f'New token created for user "{username}": {key}')


def _client(url: str, token: str | None) -> MonitorClient:
    return MonitorClient(url, token=token)


def _run(fn: Any) -> Any:
    try:
        return fn()
    except DaqhubClientError as exc:
        fail(str(exc))
    except (OSError, httpx.HTTPError) as exc:
        fail(f"cannot reach the server: {exc}")


@app.command("agents")
def agents(
    agent_type: Annotated[str | None, typer.Option("--type", help="Filter by agent type")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    as_json: JsonFlag = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List registered agents with their status and last heartbeat."""
    with _client(url, token) as client:
        rows = _run(
            lambda: client.agents(agent_type=agent_type, status=status, namespace=namespace)
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "instance", "type", "status", "state", "namespace", "last heartbeat")
    for a in rows:
        table.add_row(
            str(a["id"]),
            a["instance_name"],
            a["agent_type"],
            a["status"],
            a["operational_state"],
            a["namespace"] or "",
            a["last_heartbeat"] or "never",
        )
    Console().print(table)


def _format_log(record: dict[str, Any]) -> str:
    return (
        f"{record['timestamp']} {record['levelname']:<8} "
        f"{record['app_name']}/{record['instance_name']}: {record['message']}"
    )


@app.command("logs")
def logs(
    app_name: Annotated[str | None, typer.Option("--app", help="Filter by app_name")] = None,
    instance: Annotated[str | None, typer.Option("--instance", help="Filter by instance")] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Only this levelname (e.g. ERROR)")
    ] = None,
    last: Annotated[int, typer.Option("--last", "-n", help="How many recent records")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new ones")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls")] = 2.0,
    as_json: JsonFlag = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Print recent log records, oldest first; with --follow, keep tailing."""
    with _client(url, token) as client:
        stream = client.tail_logs(
            last=last,
            follow=follow,
            interval=interval,
            app_name=app_name,
            instance_name=instance,
            levelname=level,
        )

        def show() -> None:
            for record in stream:
                typer.echo(json.dumps(record) if as_json else _format_log(record))

        with contextlib.suppress(KeyboardInterrupt):
            _run(show)


@app.command("summary")
def summary(
    as_json: JsonFlag = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Log counts per level and recent errors, per app and instance."""
    with _client(url, token) as client:
        data = _run(client.log_summary)
    if as_json:
        typer.echo(json.dumps(data))
        return
    for app_name, instances in data.items():
        for instance, entry in instances.items():
            counts = ", ".join(f"{k}={v}" for k, v in sorted(entry["error_counts"].items()))
            typer.echo(f"{app_name}/{instance}: {counts}")
            for err in entry["recent_errors"]:
                typer.echo(f"    {err['timestamp']} {err['levelname']}: {err['message']}")


@app.command("runs")
def runs(
    active: Annotated[bool, typer.Option("--active", help="Only runs without an end time")] = False,
    as_json: JsonFlag = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List runs."""
    with _client(url, token) as client:
        rows = _run(lambda: client.list("runs", active=True if active else None))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        typer.echo(f"{r['run_number']}  {r['start_time']}  {r['end_time'] or '(ongoing)'}")


@app.command("next-run-number")
def next_run_number(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Allocate and print the next run number (needs a token)."""
    with _client(url, token) as client:
        typer.echo(_run(client.next_run_number))
