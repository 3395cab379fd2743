"""Benchmark of the workflow monitor's hot paths against a real ``daqhub serve``.

Starts a server on port 0 (embedded SQLite by default, or ``--database-url``), creates a
monitor token, then drives concurrent clients through three scenarios:

* ``logs``: anonymous ``POST /api/logs/`` with the testbed handler's body (records/s);
* ``heartbeats``: ``POST /api/systemagents/heartbeat/``, one agent per client (heartbeats/s);
* ``stf``: ``POST /api/stf-files/`` with unique filenames in one run (registrations/s).

Clients are asyncio coroutines, each with its own keep-alive HTTP/1.1 connection sending one
request at a time, written with raw sockets so that the client side costs little CPU on the same
two cores as the server. Every result is one JSON line on stdout::

    {"bench": "monitor", "scenario": "logs", "clients": 8, "requests": 20000, ...}

Usage: ``python bench/monitor.py [--clients 8] [--requests 20000] [--workers 1]
[--database-url URL] [--scenario logs --scenario heartbeats ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daqhub_process import DaqhubServer

SCENARIOS = ("logs", "heartbeats", "stf")


def make_token(data_dir: Path, database_url: str | None) -> str:
    args = [sys.executable, "-m", "daqhub", "monitor", "get-token", "bench", "--create-user"]
    args += ["--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


def request_bytes(method: str, path: str, body: dict[str, Any], token: str | None) -> bytes:
    payload = json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if token:
        head += f"Authorization: Token {token}\r\n"
    head += f"Content-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def drive(
    port: int, clients: int, total: int, build: Callable[[int, int], bytes], expect: set[int]
) -> dict[str, Any]:
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def client(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in counter:
                start = time.perf_counter()
                writer.write(build(index, n))
                status, _ = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status not in expect:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def log_body(index: int, n: int) -> dict[str, Any]:
    return {
        "app_name": "base_agent",
        "instance_name": f"bench-agent-{index}",
        "timestamp": "2026-08-07T10:30:00.123456",
        "level": 20,
        "levelname": "INFO",
        "message": f"Processing file batch {n}",
        "module": "data_processor",
        "funcname": "process_batch",
        "lineno": 45,
        "process": 1234,
        "thread": 140213245478656,
        "extra_data": {"execution_id": "bench-0001", "run_id": "100010", "username": "bench"},
    }


async def prepare_run(port: int, token: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_bytes("POST", "/api/state/next-run-number/", {}, token))
        _, body = await read_response(reader)
        number = json.loads(body)["run_number"]
        run = {"run_number": number, "start_time": "2026-08-07T10:15:00"}
        writer.write(request_bytes("POST", "/api/runs/", run, token))
        _, body = await read_response(reader)
        return int(json.loads(body)["run_id"])
    finally:
        writer.close()


async def scenario(name: str, port: int, token: str, clients: int, total: int) -> dict[str, Any]:
    if name == "logs":

        def build(index: int, n: int) -> bytes:
            return request_bytes("POST", "/api/logs/", log_body(index, n), None)

        return await drive(port, clients, total, build, {201})
    if name == "heartbeats":

        def build(index: int, n: int) -> bytes:
            body = {
                "instance_name": f"bench-agent-{index}",
                "agent_type": "DATA",
                "status": "OK",
                "description": "DATA agent. MQ: connected",
                "mq_connected": True,
                "pid": 4242,
                "hostname": "bench",
                "operational_state": "READY",
            }
            return request_bytes("POST", "/api/systemagents/heartbeat/", body, token)

        return await drive(port, clients, total, build, {200, 201})
    run_id = await prepare_run(port, token)
    stamp = time.time_ns()

    def build(index: int, n: int) -> bytes:
        body = {
            "run": run_id,
            "stf_filename": f"swf.bench.{stamp}.{n:08d}.stf",
            "file_size_bytes": 1048576,
            "machine_state": "physics",
            "status": "registered",
            "metadata": {"created_by": f"bench-agent-{index}", "sequence": n},
        }
        return request_bytes("POST", "/api/stf-files/", body, token)

    return await drive(port, clients, total, build, {201})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000, help="per log scenario")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    args = parser.parse_args()
    chosen = args.scenario or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="daqhub-bench-") as tmp:
        data_dir = Path(tmp)
        token = make_token(data_dir, args.database_url)
        # Logs of the benchmark's own records stay for the run; no retention sweep mid-run.
        server = DaqhubServer(
            data_dir,
            database_url=args.database_url,
            workers=args.workers,
            env={"DAQHUB_MONITOR__LOG_RETENTION_DAYS": "0"},
        )
        backend = "postgresql" if args.database_url else "sqlite"
        try:
            for name in chosen:
                total = args.requests if name == "logs" else max(args.requests // 4, 100)
                result = asyncio.run(scenario(name, server.port, token, args.clients, total))
                line = {
                    "bench": "monitor",
                    "scenario": name,
                    "backend": backend,
                    "workers": args.workers,
                    **result,
                }
                print(json.dumps(line), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
