"""``daqhub serve`` in a subprocess on a free port, for the benchmarks.

The server binds port 0 and prints the address it got; this waits for that line and for
``/healthz`` to answer, and stops the whole process group (workers too) at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType

LISTEN_RE = re.compile(r"daqhub listening on http://([^:]+):(\d+)")


class DaqhubServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        listen: str = "127.0.0.1:0",
        database_url: str | None = None,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        args = [sys.executable, "-m", "daqhub", "serve", "--data-dir", str(data_dir)]
        args += ["--listen", listen, "--workers", str(workers), "--log-level", "warning"]
        if database_url:
            args += ["--database-url", database_url, "--upgrade"]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DAQHUB_")}
        full_env.update(env or {})
        self.process = subprocess.Popen(
            args,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=full_env,
            start_new_session=True,
        )
        self.port = 0
        self.lines: list[str] = []
        ready = threading.Event()

        def pump() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line)
                match = LISTEN_RE.search(line)
                if match:
                    self.port = int(match.group(2))
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60) or not self._healthy(time.monotonic() + 60):
            self.stop()
            raise RuntimeError("daqhub did not start:\n" + "".join(self.lines))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self, deadline: float) -> bool:
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> DaqhubServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
