"""``daqhub receiver``: push ROOT files to a DQM receiver, list and fetch them, or serve the
receiver alone on its own port (a drop-in for the original Overwatch receiver).

Client commands use :class:`daqhub.client.receiver.ReceiverClient` against ``--url`` (env
``DAQHUB_RECEIVER_URL``, else ``DAQHUB_URL``) with ``--token`` (env ``DAQHUB_RECEIVER_TOKEN``,
else ``DAQHUB_TOKEN``). Human messages and progress bars go to stderr, results to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from daqhub.cli.common import ConfigFile, DatabaseUrl, DataDir, JsonFlag, fail, info, settings_from
from daqhub.client.base import DaqhubClientError
from daqhub.client.receiver import Progress, ReceiverClient

app = typer.Typer(
    help="The DQM receiver (ROOT files pushed by ALICE DQM, Overwatch compatible).",
    no_args_is_help=True,
)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar=["DAQHUB_RECEIVER_URL", "DAQHUB_URL"],
        help="Receiver base URL (the part before /rest/api/files)",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=["DAQHUB_RECEIVER_TOKEN", "DAQHUB_TOKEN"],
        help="Receiver token (sent as the 'token' header)",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"
CLIENT_TIMEOUT = 600.0
"""Seconds without progress before giving up (the answer follows validation of the file)."""
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Files at least this large get a progress bar (on a terminal)."""


def _client(url: str, token: str | None) -> ReceiverClient:
    if not token:
        fail("a token is needed: --token or DAQHUB_RECEIVER_TOKEN")
    return ReceiverClient(url, token=token, timeout=CLIENT_TIMEOUT)


def _report(exc: Exception) -> None:
    if isinstance(exc, DaqhubClientError):
        if isinstance(exc.body, dict):
            typer.echo(json.dumps(exc.body, sort_keys=True))
        fail(str(exc))
    fail(f"cannot reach the receiver: {exc}")


class _Bar:
    """A rich progress bar on stderr, shown for large files when stderr is a terminal."""

    def __init__(self, label: str, total: int, *, enabled: bool) -> None:
        self.enabled = enabled
        self.label = label
        self.total = total
        self._progress: Any = None

    def __enter__(self) -> Progress | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task(self.label, total=self.total)
        progress = self._progress
        return lambda done, total: progress.update(task, completed=done, total=total)

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@app.command()
def send(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="ROOT file to send")],
    run: Annotated[int, typer.Option("--run", help="Run number (runNumber header)")],
    agent: Annotated[str, typer.Option("--agent", help="AMORE agent, e.g. EMC (amoreAgent)")],
    timestamp: Annotated[
        int | None, typer.Option("--timestamp", help="Unix time of the file [default: now]")
    ] = None,
    data_status: Annotated[
        int | None, typer.Option("--data-status", help="1 start, 2 end, 0 in between")
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Send the file as the raw body instead of multipart")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar [default: large files]"),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: JsonFlag = False,
) -> None:
    """Send FILE the way ALICE DQM does; prints the stored name (or the answer with --json)."""
    client = _client(url, token)
    size = file.stat().st_size
    show = progress if progress is not None else size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
    try:
        with _Bar(f"sending {file.name}", size, enabled=show) as callback:
            result = client.send(
                file,
                run=run,
                agent=agent,
                timestamp=timestamp,
                data_status=data_status,
                progress=callback,
                multipart=not raw,
            )
    except (DaqhubClientError, httpx.HTTPError) as exc:
        _report(exc)
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(result.body, sort_keys=True))
        return
    info(f"stored as {result.filename} ({len(result.received)} objects, sha256 {result.sha256})")
    typer.echo(result.filename)


@app.command("list")
def list_files(url: Url = DEFAULT_URL, token: Token = None, as_json: JsonFlag = False) -> None:
    """List the files in the receiver's data directory."""
    client = _client(url, token)
    try:
        names = client.list_files()
    except (DaqhubClientError, httpx.HTTPError) as exc:
        _report(exc)
    finally:
        client.close()
    typer.echo(json.dumps({"files": names}) if as_json else "\n".join(names))


@app.command()
def download(
    name: Annotated[str, typer.Argument(help="Name of a received file")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File or directory to write to")
    ] = Path("."),
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Fetch one received file."""
    client = _client(url, token)
    try:
        target = client.download(name, output)
    except (DaqhubClientError, httpx.HTTPError) as exc:
        _report(exc)
    finally:
        client.close()
    typer.echo(str(target))


@app.command("check-token")
def check_token(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Exit 0 when the receiver accepts the token."""
    client = _client(url, token)
    try:
        ok = client.check_token()
    except httpx.HTTPError as exc:
        _report(exc)
    finally:
        client.close()
    if not ok:
        fail("the receiver refused the token")
    info("token accepted")


@app.command("serve")
def serve_standalone(
    port: Annotated[int, typer.Option("--port", help="Listening port")] = 8080,
    host: Annotated[str, typer.Option("--host", help="Listening address")] = "0.0.0.0",
    workers: Annotated[int | None, typer.Option("--workers")] = None,
    receiver_data: Annotated[
        Path | None,
        typer.Option(
            "--receiver-data", help="The Overwatch data folder [default <data-dir>/receiver]"
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Serve only the receiver, at / of HOST:PORT, like the original on its own port."""
    from daqhub.cli.serve import run_server

    settings = settings_from(
        data_dir,
        database_url,
        config,
        listen=[f"{host}:{port}=receiver"],
        workers=workers,
        receiver={"data_dir": receiver_data},
    )
    run_server(settings)
