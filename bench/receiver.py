"""Benchmark of the DQM receiver against a real ``daqhub serve`` on a receiver-only port.

Two scenarios, each with concurrent senders using daqhub's own client (multipart uploads, as
DQM sends them, streamed from disk):

* ``small``: ROOT files of about 100 KB holding 50 histograms (uploads/s);
* ``large``: ROOT files of about 100 MB (MB/s over all senders), shown next to the raw speed of
  writing the same bytes to the same disk with the same volume and concurrency (write + fsync
  per file, which is what an acknowledged upload costs at least). The speed of shared storage
  drifts, so rounds of uploads alternate with raw writes (one before the first round and one
  after each) and the medians are compared. It runs twice: with daqhub's client (which reads
  and hashes the file as it sends) and with a lean sender (a raw socket and ``sendfile``),
  because here the senders share the server's CPU cores, which they do not in a real
  deployment. ``server_cpu_s_per_gb`` is the CPU time the server spent per GB received, a
  figure that drifts far less than the speeds do. ``raw_direct_mb_per_s`` is the same raw
  write with O_DIRECT, past the page cache (as daqhub stages large uploads): on a virtual
  machine whose freed memory is handed back to the host, the plain baseline also measures how
  fast the host backs the page cache again, the direct one only the disk.

Every result is one JSON line on stdout::

    {"bench": "receiver", "scenario": "large", "senders": 2, "mb_per_s": ..., ...}

Usage: ``python bench/receiver.py [--senders 2] [--small-uploads 200] [--large-uploads 12]
[--large-mb 100] [--rounds 3] [--workers 1] [--database-url URL] [--scenario small ...]``
"""

from __future__ import annotations

import argparse
import fcntl
import json
import mmap
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from uproot.writing.identify import to_TAxis, to_TH1x

from daqhub.client.receiver import ReceiverClient
from daqhub.core.auth import TokenStore, load_secret_key
from daqhub.core.db import Database
from daqhub.core.migrations import upgrade
from daqhub_process import DaqhubServer

MB = 1_000_000


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "receiver", **fields}), flush=True)


# -- test files ----------------------------------------------------------------------------------


def write_small(path: Path, histograms: int = 50, bins: int = 280) -> None:
    """About 100 KB: ``histograms`` uncompressed TH1F of ``bins`` bins."""
    rng = np.random.default_rng(1)
    with uproot.recreate(path, compression=None) as out:
        for index in range(histograms):
            counts = rng.poisson(20, bins + 2).astype(np.float32)
            axis = to_TAxis("xaxis", "", bins, 0.0, float(bins))
            total = float(counts.sum())
            out[f"h{index:02d}"] = to_TH1x(
                f"h{index:02d}",
                f"histogram {index}",
                counts,
                total,
                total,
                total,
                0.0,
                0.0,
                None,
                axis,
            )


def write_large(path: Path, megabytes: int) -> None:
    """About ``megabytes`` MB: one uncompressed TTree branch of random doubles."""
    rng = np.random.default_rng(2)
    entries = megabytes * MB // 8
    with uproot.recreate(path, compression=None) as out:
        tree = out.mktree("big", {"x": "f8"})
        for start in range(0, entries, 1 << 20):
            tree.extend({"x": rng.random(min(1 << 20, entries - start))})


# -- measurements --------------------------------------------------------------------------------


def run_threads(target: Callable[[], None], count: int) -> float:
    """Wall seconds for ``count`` threads running ``target`` to all finish."""
    started = time.perf_counter()
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def raw_disk_write(
    directory: Path, source: Path, writers: int, files: int, *, direct: bool = False
) -> float:
    """MB/s of ``writers`` threads writing ``files`` copies of ``source`` in all to
    ``directory`` (1 MiB writes, fsync per file, files kept until all are written): the same
    bytes, volume and concurrency as the uploads, without HTTP. With ``direct``, through an
    aligned 4 MiB buffer with O_DIRECT (the file's unaligned end through the cache)."""
    data = source.read_bytes()
    counter = iter(range(files))
    written: list[Path] = []
    step = 4 << 20 if direct else 1 << 20

    def writer() -> None:
        aligned = mmap.mmap(-1, step)
        for index in counter:
            target = directory / f".raw-{index}.bin"
            written.append(target)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
            fd = os.open(target, flags, 0o600)
            try:
                view = memoryview(data)
                whole = len(data) - len(data) % step if direct else len(data)
                for offset in range(0, whole, step):
                    if direct:
                        aligned[:] = view[offset : offset + step]
                        os.write(fd, aligned)
                    else:
                        os.write(fd, view[offset : offset + step])
                if whole < len(data):
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                    os.write(fd, view[whole:])
                os.fsync(fd)
            finally:
                os.close(fd)
        aligned.close()

    elapsed = run_threads(writer, writers)
    for path in written:
        path.unlink()
    # Settle the deletion now (on filesystems mounted with online discard, the journal commit
    # after a large unlink trims every freed extent), not during the next measurement.
    os.sync()
    return files * len(data) / MB / elapsed


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the server process and its children (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def used(stat: str) -> tuple[int, float]:
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks  # ppid, utime+stime

    total = used(Path(f"/proc/{pid}/stat").read_text())[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(pid):
            try:
                parent, seconds = used((entry / "stat").read_text())
            except OSError:
                continue  # gone meanwhile
            if parent == pid:
                total += seconds
    return total


def lean_send(server: DaqhubServer, token: str, source: Path, run: int) -> None:
    """A raw-body upload over a plain socket, the file sent with ``sendfile``: no hashing, HTTP
    library or copying on the sending side, so that the sender takes little of the CPU the
    server shares with it here."""
    size = source.stat().st_size
    head = (
        f"POST /rest/api/files HTTP/1.1\r\nHost: bench\r\ntoken: {token}\r\n"
        f"runNumber: {run}\r\ntimeStamp: 1530000000\r\namoreAgent: EMC\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock, open(source, "rb") as f:
        sock.sendall(head.encode())
        sock.sendfile(f)
        answer = sock.recv(65536)
    if not answer.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(answer[:300].decode("latin-1"))


def run_senders(
    server: DaqhubServer,
    token: str,
    source: Path,
    uploads: int,
    senders: int,
    first_run: int,
    *,
    lean: bool = False,
) -> tuple[float, list[float]]:
    """(wall seconds, per-upload seconds) for ``uploads`` uploads over ``senders`` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(uploads))

    def sender() -> None:
        client = ReceiverClient(server.url, token=token, timeout=600)
        try:
            for index in counter:
                started = time.perf_counter()
                if lean:
                    lean_send(server, token, source, first_run + index)
                else:
                    client.send(source, run=first_run + index, agent="EMC", timestamp=1530000000)
                with lock:
                    latencies.append(time.perf_counter() - started)
        finally:
            client.close()

    wall = run_threads(sender, senders)
    if len(latencies) != uploads:
        raise RuntimeError(f"only {len(latencies)} of {uploads} uploads succeeded")
    return wall, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--small-uploads", type=int, default=200)
    parser.add_argument("--large-uploads", type=int, default=12)
    parser.add_argument("--large-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scenario", action="append", choices=("small", "large"))
    args = parser.parse_args(argv)
    scenarios = args.scenario or ["small", "large"]

    with tempfile.TemporaryDirectory(prefix="daqhub-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        base = Path(tmp)
        data_dir = base / "data"
        data_dir.mkdir()
        database_url = args.database_url or f"sqlite:///{data_dir / 'daqhub.db'}"
        upgrade(database_url)
        db = Database(database_url)
        try:
            token = TokenStore(db, load_secret_key(data_dir, None)).create(
                f"bench-{os.getpid()}", scopes=["receiver"]
            )
        finally:
            db.dispose()
        server = DaqhubServer(
            data_dir,
            listen="127.0.0.1:0=receiver",
            database_url=database_url,
            workers=args.workers,
            env={"DAQHUB_RECEIVER__MAX_UPLOAD_BYTES": str(2 * 1024 * 1024 * 1024)},
        )
        try:
            receiver_dir = data_dir / "receiver"
            common = {
                "senders": args.senders,
                "workers": args.workers,
                "database": database_url.split(":", 1)[0],
            }
            if "small" in scenarios:
                small = base / "small.root"
                write_small(small)
                run_senders(server, token, small, 10, args.senders, 1)  # warm-up
                wall, latencies = run_senders(
                    server, token, small, args.small_uploads, args.senders, 1000
                )
                emit(
                    scenario="small",
                    **common,
                    uploads=args.small_uploads,
                    file_bytes=small.stat().st_size,
                    histograms=50,
                    uploads_per_s=round(args.small_uploads / wall, 1),
                    latency_p50_ms=round(1000 * percentile(latencies, 0.5), 1),
                    latency_p99_ms=round(1000 * percentile(latencies, 0.99), 1),
                )
            if "large" in scenarios:
                large = base / "large.root"
                write_large(large, args.large_mb)
                size = large.stat().st_size
                # Warm-up: as many at once as the senders, so that every sandbox worker they
                # will use has started (each imports uproot once, 0.3 s).
                run_senders(server, token, large, args.senders, args.senders, 4990)
                for kind_index, sender_kind in enumerate(("client", "lean")):

                    def raw_write() -> float:
                        return raw_disk_write(receiver_dir, large, args.senders, args.large_uploads)

                    raws, rates, latencies, cpu = [raw_write()], [], [], 0.0
                    for round_index in range(args.rounds):
                        cpu_before = server_cpu_seconds(server.process.pid)
                        wall, round_latencies = run_senders(
                            server,
                            token,
                            large,
                            args.large_uploads,
                            args.senders,
                            # New names every time: replacing files is another matter.
                            5000 + (kind_index * args.rounds + round_index) * args.large_uploads,
                            lean=sender_kind == "lean",
                        )
                        cpu += server_cpu_seconds(server.process.pid) - cpu_before
                        rates.append(args.large_uploads * size / MB / wall)
                        latencies += round_latencies
                        raws.append(raw_write())
                    rate, raw = statistics.median(rates), statistics.median(raws)
                    raw_direct = raw_disk_write(
                        receiver_dir, large, args.senders, args.large_uploads, direct=True
                    )
                    emit(
                        scenario="large",
                        sender=sender_kind,
                        **common,
                        uploads=args.large_uploads * args.rounds,
                        file_bytes=size,
                        mb_per_s=round(rate, 1),
                        raw_disk_mb_per_s=round(raw, 1),
                        fraction_of_raw_disk=round(rate / raw, 3),
                        raw_direct_mb_per_s=round(raw_direct, 1),
                        fraction_of_raw_direct=round(rate / raw_direct, 3),
                        rounds_mb_per_s=[round(r, 1) for r in rates],
                        rounds_raw_disk_mb_per_s=[round(r, 1) for r in raws],
                        server_cpu_s_per_gb=round(
                            cpu / (args.rounds * args.large_uploads * size / 1e9), 2
                        ),
                        latency_p50_s=round(percentile(latencies, 0.5), 2),
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
