"""``daqhub serve``: run the server on one or more listening addresses.

Sockets are bound here, before the server starts, so that port 0 resolves to a real port that
is printed on stderr and so that several addresses (``--listen`` repeated) share one process or
one set of worker processes. uvicorn runs with the httptools parser (the DUNE C++ client sends
HTTP/1.1 requests without a Host header, which the h11 parser rejects), in the protocol of
:mod:`daqhub.core.httpproto`, which passes request bodies on without extra copies and closes
connections whose request headers do not arrive within ``header_timeout``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from typing import Annotated, Any

import typer
import uvicorn

from daqhub.app import LISTENERS_ENV, create_app
from daqhub.cli.common import (
    ConfigFile,
    DatabaseUrl,
    DataDir,
    configure_logging,
    fail,
    info,
    open_database,
    settings_from,
)
from daqhub.core.allocator import tune_allocator
from daqhub.core.httpproto import DaqhubHttpProtocol, ServerConfig
from daqhub.core.service import Listener, parse_listener
from daqhub.core.slots import INSTANCE_DIR_ENV
from daqhub.settings import RESOLVED_ENV, Settings, export_for_workers

ListenOption = Annotated[
    list[str] | None,
    typer.Option(
        "--listen",
        help="HOST:PORT[=SERVICE,...], repeatable (default 127.0.0.1:8000, every service)",
    ),
]


def bind(listener: Listener) -> socket.socket:
    family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind((listener.host, listener.port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {listener.label}: {exc.strerror}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(settings: Settings, *, upgrade: bool | None = None) -> None:
    configure_logging(settings.log_level)
    tune_allocator()
    try:
        listeners = [parse_listener(spec) for spec in settings.listen]
    except ValueError as exc:
        fail(str(exc))
    # Check (and on the embedded default apply) migrations once, before any worker starts.
    open_database(settings, upgrade=upgrade).dispose()
    sockets = [bind(listener) for listener in listeners]
    bound = [
        Listener(listener.host, sock.getsockname()[1], listener.services)
        for listener, sock in zip(listeners, sockets, strict=True)
    ]
    for listener in bound:
        what = (
            "every service" if listener.services is None else ", ".join(sorted(listener.services))
        )
        host = f"[{listener.host}]" if ":" in listener.host else listener.host
        info(f"daqhub listening on http://{host}:{listener.port} ({what})")

    def config(app: Any, **extra: Any) -> uvicorn.Config:
        return ServerConfig(
            app,
            header_timeout=settings.header_timeout,
            http=DaqhubHttpProtocol,
            lifespan="on",
            log_level=settings.log_level.lower(),
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=10,
            **extra,
        )

    if settings.workers == 1:
        uvicorn.Server(config(create_app(settings, bound))).run(sockets=sockets)
        return
    # Private to this server (its workers share it): summed metrics and shared work slots.
    instance_dir = settings.data_dir / "run" / f"{socket.gethostname()}-{os.getpid()}"
    shutil.rmtree(instance_dir, ignore_errors=True)
    metrics_dir = instance_dir / "metrics"
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[INSTANCE_DIR_ENV] = str(instance_dir)
    os.environ[RESOLVED_ENV] = export_for_workers(settings)
    os.environ[LISTENERS_ENV] = json.dumps(
        [
            {
                "host": b.host,
                "port": b.port,
                "services": sorted(b.services) if b.services is not None else None,
            }
            for b in bound
        ]
    )
    from uvicorn.supervisors import Multiprocess

    worker_config = config("daqhub.app:create_app_from_env", factory=True, workers=settings.workers)
    try:
        Multiprocess(worker_config, sockets=sockets).run()
    finally:
        shutil.rmtree(instance_dir, ignore_errors=True)


def serve(
    listen: ListenOption = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes")] = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Apply pending migrations before starting")
    ] = False,
    log_level: Annotated[str | None, typer.Option("--log-level")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Run the server (SQLite and the in-process event bus in the data directory by default)."""
    settings = settings_from(
        data_dir, database_url, config, listen=listen or None, workers=workers, log_level=log_level
    )
    run_server(settings, upgrade=True if upgrade else None)
