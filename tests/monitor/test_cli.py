"""``daqhub monitor``: get-token (database side) and the client commands (against a server)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from daqhub.cli.main import app
from daqhub.core.auth import TokenStore, load_secret_key
from daqhub.core.db import Database

runner = CliRunner()
LINE = re.compile(r'^New token created for user "(?P<user>[^"]+)": (?P<key>[0-9a-f]{40})$')


def test_get_token(database_url: str, tmp_path: Path) -> None:
    args = [
        "monitor",
        "get-token",
        "alice",
        "--data-dir",
        str(tmp_path),
        "--database-url",
        database_url,
    ]
    unknown = runner.invoke(app, args)
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    created = runner.invoke(app, [*args, "--create-user"])
    assert created.exit_code == 0, created.output
    match = LINE.match(created.stdout.strip())
    assert match is not None, created.stdout
    assert match["user"] == "alice"
    again = runner.invoke(app, args)  # the user exists now; every call issues a fresh key
    second = LINE.match(again.stdout.strip())
    assert second is not None
    assert second["key"] != match["key"]
    db = Database(database_url)
    try:
        store = TokenStore(db, load_secret_key(tmp_path, None))
        principal = store.verify(match["key"])
        assert principal is not None
        assert principal.username == "alice"
        assert principal.scopes == frozenset({"monitor"})
    finally:
        db.dispose()


def test_client_commands(serve: Callable[..., Any], sqlite_url: str, tmp_path: Path) -> None:
    data_dir = Path(sqlite_url.removeprefix("sqlite:///")).parent
    server = serve(["--data-dir", str(data_dir), "--listen", "127.0.0.1:0"])
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "daqhub",
            "monitor",
            "get-token",
            "ops",
            "--create-user",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = LINE.match(made.stdout.strip())
    assert match is not None
    env = {"DAQHUB_URL": server.url, "DAQHUB_TOKEN": match["key"]}
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {match['key']}"}
    ) as http:
        http.post("/api/systemagents/heartbeat/", json={"instance_name": "data-agent-ops-1"})
        for i in range(3):
            record = {
                "app_name": "base_agent",
                "instance_name": "data-agent-ops-1",
                "timestamp": f"2026-08-07T10:00:0{i}",
                "level": 40,
                "levelname": "ERROR",
                "message": f"problem {i}",
                "module": "m",
                "funcname": "f",
                "lineno": 1,
                "process": 1,
                "thread": 1,
            }
            assert http.post("/api/logs/", json=record).status_code == 201
    agents = runner.invoke(app, ["monitor", "agents", "--json"], env=env)
    assert agents.exit_code == 0, agents.output
    assert [a["instance_name"] for a in json.loads(agents.stdout)] == ["data-agent-ops-1"]
    table = runner.invoke(app, ["monitor", "agents"], env={**env, "COLUMNS": "200"})
    assert "data-agent-ops-1" in table.stdout
    logs = runner.invoke(app, ["monitor", "logs", "-n", "2"], env=env)
    assert logs.exit_code == 0, logs.output
    assert logs.stdout.splitlines()[-1].endswith("problem 2")
    assert len(logs.stdout.splitlines()) == 2
    summary = runner.invoke(app, ["monitor", "summary", "--json"], env=env)
    assert json.loads(summary.stdout)["base_agent"]["data-agent-ops-1"]["error_counts"] == {
        "ERROR": 3
    }
    number = runner.invoke(app, ["monitor", "next-run-number"], env=env)
    assert number.stdout.strip() == "100010"
    runs = runner.invoke(app, ["monitor", "runs", "--json"], env=env)
    assert json.loads(runs.stdout) == []
    refused = runner.invoke(app, ["monitor", "next-run-number"], env={"DAQHUB_URL": server.url})
    assert refused.exit_code == 1
    assert "401" in refused.output
    unreachable = runner.invoke(app, ["monitor", "agents", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1


def test_logs_follow(serve: Callable[..., Any], sqlite_url: str) -> None:
    from daqhub.client.monitor import MonitorClient

    data_dir = Path(sqlite_url.removeprefix("sqlite:///")).parent
    server = serve(["--data-dir", str(data_dir), "--listen", "127.0.0.1:0"])
    with MonitorClient(server.url) as client:
        base = {
            "app_name": "a",
            "instance_name": "i",
            "timestamp": "2026-08-07T10:00:00",
            "levelname": "INFO",
            "message": "first",
            "module": "m",
            "funcname": "f",
            "lineno": 1,
            "process": 1,
            "thread": 1,
        }
        client.post_log(base)
        stream = client.tail_logs(last=5, follow=True, interval=0.05, polls=20)
        assert next(stream)["message"] == "first"
        # An older timestamp still shows up: tailing follows ids, not agent clocks.
        client.post_log({**base, "message": "late", "timestamp": "2026-08-07T09:00:00"})
        assert next(stream)["message"] == "late"
