"""Load benchmark of the connectivity service: publish and lookup, as DAQ applications do.

Starts a daqhub server (or targets ``--url``, e.g. another implementation of the same wire
protocol), fills partitions of 1,000 and 10,000 connections, then measures for each size:

* ``lookup_exact``  - lookups of one uid (a literal ``uid_regex``), as iomanager does;
* ``lookup_prefix`` - lookups with a prefix pattern (``APP-0012.*``, ten matches);
* ``publish``       - republishing 50 connections per request (the periodic refresh);

each with one client (service time: p50/p99 latency) and with ``--clients`` concurrent clients
(throughput). The load generator is a small asyncio HTTP/1.1 client so that it costs the server
as little CPU as possible on a shared machine. Every result is printed as one JSON line.

    python bench/connectivity.py                       # daqhub, embedded SQLite, 1 worker
    python bench/connectivity.py --workers 2
    python bench/connectivity.py --database-url postgresql://postgres@127.0.0.1/test
    python bench/connectivity.py --url http://127.0.0.1:5000 --label other-server
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from daqhub_process import DaqhubServer

UID = "APP-{:05d}-out"


class Connection:
    """One keep-alive HTTP/1.1 connection (or a new one per request, like the C++ client)."""

    def __init__(self, host: str, port: int, keepalive: bool) -> None:
        self.host, self.port, self.keepalive = host, port, keepalive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("" if self.keepalive else "Connection: close\r\n")
            + "\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length)
        if not self.keepalive:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(
    host: str,
    port: int,
    make_request: Callable[[random.Random], tuple[str, bytes]],
    clients: int,
    seconds: float,
    keepalive: bool,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        conn = Connection(host, port, keepalive)
        while time.perf_counter() < stop_at:
            path, body = make_request(rng)
            start = time.perf_counter()
            try:
                status, _payload = await conn.request(path, body)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                errors += 1
                await conn.close()
                continue
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors += 1
        await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3) if latencies else None,
        "errors": errors,
    }


def publish_body(partition: str, start: int, count: int) -> bytes:
    connections = [
        {
            "capacity": 0,
            "connection_type": 0,
            "data_type": "TPSet",
            "uid": UID.format(i),
            "uri": f"tcp://10.0.{i // 250}.{i % 250}:{5000 + i % 1000}",
        }
        for i in range(start, start + count)
    ]
    return json.dumps(
        {"connections": connections, "partition": partition}, separators=(",", ":")
    ).encode()


def lookup_body(regex: str) -> bytes:
    return json.dumps({"data_type": "TPSet", "uid_regex": regex}, separators=(",", ":")).encode()


async def fill(host: str, port: int, partition: str, size: int) -> None:
    conn = Connection(host, port, True)
    for start in range(0, size, 1000):
        status, payload = await conn.request(
            "/publish", publish_body(partition, start, min(1000, size - start))
        )
        if status != 200:
            raise SystemExit(f"filling {partition} failed: {status} {payload[:200]!r}")
    await conn.close()


async def refresh_forever(
    host: str, port: int, partitions: dict[str, int], stop: asyncio.Event
) -> None:
    """Keep every entry live during long runs (TTL is 10 s by default)."""
    while not stop.is_set():
        for partition, size in partitions.items():
            await fill(host, port, partition, size)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 3)


async def benchmark(args: argparse.Namespace, url: str, label: str) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    partitions = {f"bench{size}": size for size in args.sizes}
    for partition, size in partitions.items():
        await fill(host, port, partition, size)
    stop = asyncio.Event()
    refresher = asyncio.create_task(refresh_forever(host, port, partitions, stop))
    for partition, size in partitions.items():
        path = f"/getconnection/{partition}"
        scenarios: dict[str, Callable[[random.Random], tuple[str, bytes]]] = {
            "lookup_exact": lambda rng, path=path, size=size: (
                path,
                lookup_body(UID.format(rng.randrange(size))),
            ),
            "lookup_prefix": lambda rng, path=path, size=size: (
                path,
                lookup_body(UID.format(rng.randrange(size))[:8] + ".*"),
            ),
            "publish": lambda rng, partition=partition, size=size: (
                "/publish",
                publish_body(partition, rng.randrange(0, size - 50), 50),
            ),
        }
        for name, make in scenarios.items():
            for clients in (1, args.clients):
                result = await run_load(
                    host, port, make, clients, args.seconds, not args.new_connections
                )
                line = {
                    "bench": "connectivity",
                    "server": label,
                    "scenario": name,
                    "entries": size,
                    "clients": clients,
                    "keepalive": not args.new_connections,
                    **result,
                }
                print(json.dumps(line), flush=True)
    stop.set()
    await refresher


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="benchmark a running server instead of starting daqhub")
    parser.add_argument("--label", default=None, help="server name printed in the results")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and client count")
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10000]
    )
    parser.add_argument(
        "--new-connections", action="store_true", help="one TCP connection per request"
    )
    args = parser.parse_args()
    if args.url:
        asyncio.run(benchmark(args, args.url, args.label or "external"))
        return
    label = (
        args.label or f"daqhub-{'postgresql' if args.database_url else 'sqlite'}-{args.workers}w"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="daqhub-bench-"))
    listen = "127.0.0.1:0=connectivity"
    with DaqhubServer(
        data_dir, listen=listen, database_url=args.database_url, workers=args.workers
    ) as server:
        asyncio.run(benchmark(args, server.url, label))


if __name__ == "__main__":
    main()
