"""Untrusted ROOT files are opened only in sandboxed worker processes (spec §3.6).

The server talks to each worker over its stdin/stdout, one JSON line per request and answer
(JSON, never pickle, so a subverted worker cannot run code in the server). A worker:

* has an address-space limit (``validation_memory_bytes``) and, per request, a CPU-time limit
  (``validation_cpu_seconds``; the kernel kills it past the limit);
* cannot open sockets (an audit hook refuses them; where permitted it also leaves the network
  namespace);
* reads at most ``max_decompressed_bytes`` of decompressed object data per file.

The server also enforces a wall-clock limit: a worker that does not answer in time is killed.
A worker that dies or times out fails only its own request (the payload counts as invalid) and
is replaced on the next request; nothing it does can crash or hang the server.

Run as ``python -m daqhub.receiver.sandbox`` (the pool does this).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("daqhub.receiver")

MAX_ANSWER_BYTES = 256 * 1024 * 1024
WORKER_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class SandboxFailure(Exception):
    """The worker died, hit a limit or did not answer in time."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: float
    memory_bytes: int
    wall_seconds: float
    max_decompressed_bytes: int
    max_histogram_bins: int


class _Worker:
    def __init__(self, limits: SandboxLimits) -> None:
        env = {**os.environ, **WORKER_ENV}
        env["DAQHUB_SANDBOX_MEMORY"] = str(limits.memory_bytes)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daqhub.receiver.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self.limits = limits

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise SandboxFailure(f"worker unavailable: {exc}") from None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + self.limits.wall_seconds
        buffer = bytearray()
        while not buffer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxFailure(f"no answer within {self.limits.wall_seconds:g} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self.process.poll()
                raise SandboxFailure(f"worker died (exit status {code})")
            buffer += chunk
            if len(buffer) > MAX_ANSWER_BYTES:
                raise SandboxFailure("worker answer too large")
        try:
            answer: dict[str, Any] = json.loads(buffer)
        except ValueError:
            raise SandboxFailure("garbled worker answer") from None
        return answer

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()


class SandboxPool:
    """A few long-lived workers; callers block (in a thread) until one is free."""

    def __init__(self, size: int, limits: SandboxLimits) -> None:
        self.size = size
        self.limits = limits
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)  # a slot; the worker is started on first use
        self._closed = False
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()

    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._closed:
            raise SandboxFailure("sandbox closed")
        worker = self._idle.get()
        try:
            if worker is None or worker.process.poll() is not None:
                worker = self._spawn()
            answer = worker.call(
                {**request, "cpu_seconds": self.limits.cpu_seconds, "limits": self._limit_args()}
            )
        except BaseException:
            if worker is not None:
                self._discard(worker)
            self._idle.put(None)
            raise
        self._idle.put(worker)
        return answer

    def _limit_args(self) -> dict[str, int]:
        return {
            "max_decompressed": self.limits.max_decompressed_bytes,
            "max_bins": self.limits.max_histogram_bins,
        }

    def _spawn(self) -> _Worker:
        worker = _Worker(self.limits)
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def inspect(self, path: str) -> dict[str, Any]:
        """``{"ok": True, "received", "objects", "contents"}`` or ``{"ok": False, "reason"}``."""
        try:
            return self._request({"op": "inspect", "path": path})
        except SandboxFailure as exc:
            return {"ok": False, "reason": f"validation failed: {exc}"}

    def histogram(self, path: str, object_path: str) -> dict[str, Any]:
        """``{"ok": True, "histogram"}`` or ``{"ok": False, "error", "reason"}``."""
        try:
            return self._request({"op": "histogram", "path": path, "object": object_path})
        except SandboxFailure as exc:
            return {"ok": False, "error": "unreadable", "reason": str(exc)}

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()


# -- the worker side ---------------------------------------------------------------------------


def _block_network() -> None:
    """No sockets in the worker: leave the network namespace if allowed, and refuse them."""
    import ctypes
    import ctypes.util

    clone_newnet = 0x40000000
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.unshare(clone_newnet)  # fails harmlessly without the privilege

    def refuse(event: str, _args: tuple[Any, ...]) -> None:
        if event.startswith("socket.") and event != "socket.gethostname":
            raise PermissionError("network access is not allowed in the validation sandbox")

    sys.addaudithook(refuse)


def _set_memory_limit() -> None:
    import resource

    limit = int(os.environ.get("DAQHUB_SANDBOX_MEMORY", "0"))
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _set_cpu_limit(seconds: float) -> None:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    _old_soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY and soft >= hard:
        soft = hard
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _serve_one(request: dict[str, Any]) -> dict[str, Any]:
    from daqhub.receiver import rootfiles

    limits = request.get("limits", {})
    _set_cpu_limit(float(request.get("cpu_seconds", 30)))
    if request.get("op") == "inspect":
        try:
            result = rootfiles.inspect_file(request["path"], int(limits["max_decompressed"]))
        except rootfiles.InvalidRootFile as exc:
            return {"ok": False, "reason": str(exc)}
        except MemoryError:
            return {"ok": False, "reason": "validation failed: memory limit"}
        except Exception as exc:
            return {"ok": False, "reason": f"unreadable: {type(exc).__name__}: {exc}"}
        return {"ok": True, **result}
    if request.get("op") == "histogram":
        try:
            hist = rootfiles.histogram_json(
                request["path"], request["object"], int(limits["max_bins"])
            )
        except (LookupError, FileNotFoundError) as exc:
            return {"ok": False, "error": "not_found", "reason": str(exc)}
        except TypeError as exc:
            return {"ok": False, "error": "not_histogram", "reason": str(exc)}
        except rootfiles.InvalidRootFile as exc:
            return {"ok": False, "error": "unreadable", "reason": str(exc)}
        except Exception as exc:
            return {"ok": False, "error": "unreadable", "reason": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "histogram": hist}
    return {"ok": False, "error": "bad_request", "reason": "unknown operation"}


def worker_main() -> None:
    # Answers go to the original stdout only; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _set_memory_limit()
    import uproot  # noqa: F401  (loaded once, before requests arrive)

    from daqhub.receiver import rootfiles  # noqa: F401

    _block_network()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            answer = _serve_one(request)
        except MemoryError:
            answer = {"ok": False, "reason": "validation failed: memory limit"}
        try:
            encoded = json.dumps(answer, allow_nan=False).encode()
        except ValueError:
            encoded = json.dumps({"ok": False, "reason": "unencodable result"}).encode()
        out.write(encoded + b"\n")
        out.flush()


if __name__ == "__main__":
    worker_main()
