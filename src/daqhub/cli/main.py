"""The ``daqhub`` command: one sub-app per noun; human messages on stderr, data on stdout."""

from __future__ import annotations

import importlib

import typer

from daqhub import __version__
from daqhub.cli import connectivity, db, token
from daqhub.cli.serve import serve

app = typer.Typer(
    name="daqhub",
    help="One server for the back office of a physics experiment's data acquisition.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")
app.add_typer(connectivity.app, name="connectivity")

# Each service may add its own client-side commands as daqhub/cli/<service>.py.
for _name in ("receiver", "monitor"):
    try:
        _module = importlib.import_module(f"daqhub.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"daqhub.cli.{_name}":
            raise
        continue
    app.add_typer(_module.app, name=_name)


@app.command()
def version() -> None:
    """Print the daqhub version."""
    typer.echo(__version__)


def main() -> None:
    app()
