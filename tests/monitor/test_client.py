"""The monitor client library: a curated public API that installs light on DAQ hosts."""

from __future__ import annotations

import subprocess
import sys

import daqhub.client.monitor as client_module


def test_public_api() -> None:
    assert sorted(client_module.__all__) == ["LOG_EXTRA_KEYS", "MonitorClient", "RestLogHandler"]
    for name in client_module.__all__:
        assert getattr(client_module, name) is not None


def test_imports_no_server_dependencies() -> None:
    code = (
        "import sys, daqhub.client.monitor\n"
        "heavy = {'fastapi', 'sqlalchemy', 'starlette', 'uvicorn'} & set(sys.modules)\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
