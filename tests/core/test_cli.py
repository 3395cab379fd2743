"""The ``daqhub`` command end to end: tokens made on the CLI work at once on a running server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests
from typer.testing import CliRunner

from daqhub.cli.main import app
from tests.conftest import ServerProcess


def daqhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daqhub", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    created = runner.invoke(app, ["token", "create", "ops", *data])
    assert created.exit_code == 0, created.output
    value = created.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", value)
    imported = runner.invoke(
        app, ["token", "create", "dqm", "--scope", "receiver", "--value", "abcdefghi", *data]
    )
    assert imported.stdout.strip() == "abcdefghi"
    listed = runner.invoke(app, ["token", "list", "--json", *data])
    assert '"name": "dqm"' in listed.stdout and '"scopes": ["receiver"]' in listed.stdout
    assert value not in listed.stdout and "abcdefghi" not in listed.stdout
    assert runner.invoke(app, ["token", "create", "dqm", *data]).exit_code == 1
    assert runner.invoke(app, ["token", "create", "x", "--scope", "root", *data]).exit_code == 1
    rotated = runner.invoke(app, ["token", "rotate", "dqm", "--overlap-hours", "2", *data])
    assert rotated.exit_code == 0, rotated.output
    new_value = rotated.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", new_value)
    assert "previous value works until" in rotated.stderr
    listed = runner.invoke(app, ["token", "list", "--json", *data])
    assert '"previous_expires_at": "' in listed.stdout and new_value not in listed.stdout
    assert runner.invoke(app, ["token", "list", *data]).exit_code == 0
    assert runner.invoke(app, ["token", "rotate", "nope", *data]).exit_code == 1
    assert runner.invoke(app, ["token", "revoke", "dqm", *data]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", "dqm", *data]).exit_code == 1
    assert "revoked" in runner.invoke(app, ["token", "list", *data]).stdout


def test_token_created_while_serving_works_at_once_and_never_leaks(
    serve: Callable[..., ServerProcess], tmp_path: Path, sqlite_url: str
) -> None:
    data = str(tmp_path / "data")
    server = serve(
        ["--data-dir", data, "--database-url", sqlite_url, "--listen", "127.0.0.1:0"],
        {"DAQHUB_CONNECTIVITY__ADMIN_AUTH": "token"},
    )
    assert requests.get(f"{server.url}/api/v1/partitions", timeout=5).status_code == 403
    created = daqhub("token", "create", "ops", "--data-dir", data, "--database-url", sqlite_url)
    assert created.returncode == 0, created.stderr
    value = created.stdout.strip()
    headers = {"Authorization": f"Bearer {value}"}
    assert (
        requests.get(f"{server.url}/api/v1/partitions", headers=headers, timeout=5).status_code
        == 200
    )
    revoked = daqhub("token", "revoke", "ops", "--data-dir", data, "--database-url", sqlite_url)
    assert revoked.returncode == 0
    # Revocation reaches the server within the verification cache time (2 s by default).
    import time

    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = requests.get(
            f"{server.url}/api/v1/partitions", headers=headers, timeout=5
        ).status_code
        time.sleep(0.1)
    assert status == 403
    server.stop()
    assert value not in "".join(server.stderr_lines)
    db_bytes = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert value.encode() not in db_bytes


def test_version() -> None:
    assert CliRunner().invoke(app, ["version"]).stdout.strip()
