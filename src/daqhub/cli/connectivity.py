"""``daqhub connectivity``: the registry on its own port, a drop-in for the original server."""

from __future__ import annotations

from typing import Annotated

import typer

from daqhub.cli.common import ConfigFile, DatabaseUrl, DataDir, settings_from
from daqhub.cli.serve import run_server

app = typer.Typer(help="The connectivity service (DAQ endpoint registry).", no_args_is_help=True)


@app.command("serve")
def serve_standalone(
    port: Annotated[int, typer.Option("--port", help="Listening port")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Listening address")] = "0.0.0.0",
    workers: Annotated[int | None, typer.Option("--workers")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Serve only the connectivity routes at ``/`` of HOST:PORT (honours ENTRY_TTL and
    CONNECTION_FLASK_DEBUG, like the original)."""
    settings = settings_from(
        data_dir, database_url, config, listen=[f"{host}:{port}=connectivity"], workers=workers
    )
    run_server(settings)
