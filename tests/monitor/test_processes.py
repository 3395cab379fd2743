"""Real server processes: counters stay consecutive across processes sharing one database."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from daqhub.core.auth import TokenStore
from daqhub.core.db import Database


@pytest.mark.parametrize("backend_name", ["postgresql", "sqlite"])
def test_run_numbers_across_two_server_processes(
    serve: Callable[..., Any], request: pytest.FixtureRequest, backend_name: str, tmp_path: Path
) -> None:
    url = str(
        request.getfixturevalue("postgres_url" if backend_name == "postgresql" else "sqlite_url")
    )
    secret = secrets.token_hex(32)
    env = {"DAQHUB_SECRET_KEY": secret}
    servers = [
        serve(
            [
                "--database-url",
                url,
                "--data-dir",
                str(tmp_path / name),
                "--listen",
                "127.0.0.1:0",
            ],
            env,
        )
        for name in ("one", "two")
    ]
    db = Database(url)
    try:
        token = TokenStore(db, secret.encode()).create("runner", scopes=["monitor"])
    finally:
        db.dispose()
    headers = {"Authorization": f"Token {token}"}
    clients = [httpx.Client(base_url=s.url, headers=headers, timeout=30) for s in servers]

    def allocate(i: int) -> int:
        response = clients[i % 2].post("/api/state/next-run-number/")
        assert response.status_code == 200, response.text
        return int(response.json()["run_number"])

    try:
        with ThreadPoolExecutor(20) as pool:
            numbers = sorted(pool.map(allocate, range(100)))
        assert numbers == list(range(100010, 100110))
        # Both processes served: the agent-id counter is shared as well.
        ids = {clients[i].post("/api/state/next-agent-id/").json()["agent_id"] for i in (0, 1)}
        assert ids == {1, 2}
    finally:
        for client in clients:
            client.close()
