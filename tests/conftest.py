"""Shared fixtures: real databases (SQLite and PostgreSQL), real Redis, in-process apps and
real server processes.

PostgreSQL, Redis and RabbitMQ must be running (``./dev test`` starts them); a test that needs
one fails loudly when it is unreachable instead of skipping. Each test session works in its own
PostgreSQL database, created here and dropped at the end; each test gets empty tables.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from daqhub.app import create_app
from daqhub.core import migrations
from daqhub.core.schema import metadata
from daqhub.settings import Settings, deep_merge

POSTGRES_ADMIN_URL = os.environ.get(
    "DAQHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DAQHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "tests" / "data"

# Settings for fast tests: short intervals everywhere, never long sleeps.
FAST = {
    "events": {"relay_interval": 0.05},
    "auth": {"cache_seconds": 0.0, "last_used_interval": 0.0},
    "tasks": {"leader_retry_interval": 0.2},
    "connectivity": {"sweep_interval": 0.1, "stats_flush_interval": 0.2},
}


def _clean_env() -> None:
    """Tests must not pick up a developer's DAQHUB_* or legacy variables."""
    for name in list(os.environ):
        if name.startswith("DAQHUB_") and not name.startswith("DAQHUB_TEST_"):
            del os.environ[name]
    for name in ("ENTRY_TTL", "CONNECTION_FLASK_DEBUG", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        os.environ.pop(name, None)


_clean_env()


# -- databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, with the schema applied."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"daqhub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment failure
        pytest.fail(f"PostgreSQL is required at {POSTGRES_ADMIN_URL} (./dev test starts it): {exc}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    tables = [t.name for t in metadata().sorted_tables]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(
            text(
                "INSERT INTO conn_stats (id, publish_calls, connections_published, lookup_calls, "
                "connections_returned, retract_calls, retract_partition_calls, "
                "publish_time_total_us, publish_time_max_us, lookup_time_total_us, "
                "lookup_time_max_us, reset_at) VALUES (1,0,0,0,0,0,0,0,0,0,0,0)"
            )
        )
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating every time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "daqhub.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """An empty, migrated database of the parametrised backend."""
    if backend == "postgresql":
        url = str(request.getfixturevalue("postgres_server_url"))
        _truncate_postgres(url)
        return url
    target = tmp_path / "data" / "daqhub.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "data" / "daqhub.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    _truncate_postgres(postgres_server_url)
    return postgres_server_url


# -- redis ----------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # pragma: no cover - environment failure
        pytest.fail(f"Redis is required at {REDIS_URL} (./dev test starts it): {exc}")
    return REDIS_URL


# -- settings and apps ---------------------------------------------------------------------------


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    """Settings on this test's data directory and database; keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values = deep_merge(
            {"data_dir": tmp_path / "data", "database_url": database_url, **FAST}, overrides
        )
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """An in-process app (lifespan started) behind Starlette's TestClient."""
    clients: list[TestClient] = []

    def make(*, raise_server_exceptions: bool = True, **overrides: Any) -> TestClient:
        client = TestClient(
            create_app(make_settings(**overrides)), raise_server_exceptions=raise_server_exceptions
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def runtime_of(client: TestClient) -> Any:
    return client.app.runtime  # type: ignore[attr-defined]


# -- real server processes -------------------------------------------------------------------------

LISTEN_RE = re.compile(r"daqhub listening on http://(\[[^\]]+\]|[^:]+):(\d+) \(([^)]*)\)")


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    addresses: list[tuple[str, int, str]]
    stderr_lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port, _ = self.addresses[0]
        return f"http://{host}:{port}"

    def port(self, index: int = 0) -> int:
        return self.addresses[index][1]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._close()

    def kill(self) -> None:
        """SIGKILL the whole process group (workers too)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close()

    def _close(self) -> None:
        if self.reader is not None:
            self.reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def start_server(
    args: list[str],
    env: dict[str, str] | None = None,
    *,
    expect: int = 1,
    timeout: float = 60,
    wrapper: list[str] | None = None,
) -> ServerProcess:
    """Run ``daqhub serve ARGS`` (under ``wrapper``, a command that ends by exec'ing its
    arguments, if given) and wait until it reports its listening addresses."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DAQHUB_")}
    full_env.update(env or {})
    process = subprocess.Popen(
        [*(wrapper or []), sys.executable, "-m", "daqhub", "serve", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    server = ServerProcess(process, [])
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            server.stderr_lines.append(line)
            match = LISTEN_RE.search(line)
            if match:
                server.addresses.append(
                    (match.group(1).strip("[]"), int(match.group(2)), match.group(3))
                )
            started = "Application startup complete" in line
            if started and len(server.addresses) >= expect:
                ready.set()

    server.reader = threading.Thread(target=pump, daemon=True)
    server.reader.start()
    deadline = time.monotonic() + timeout
    while not ready.is_set():
        if process.poll() is not None:
            raise RuntimeError("daqhub serve exited:\n" + "".join(server.stderr_lines))
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("daqhub serve did not start:\n" + "".join(server.stderr_lines))
        time.sleep(0.05)
    return server


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerProcess]]:
    """Start real ``daqhub serve`` processes; all are stopped after the test."""
    started: list[ServerProcess] = []

    def run(args: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> ServerProcess:
        server = start_server(args, env, **kwargs)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()
        if server.process.poll() is None:
            server.kill()


# -- browser ---------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (./dev test installs Debian's chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
