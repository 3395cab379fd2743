"""The client library's public surface is curated and stays free of server dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import daqhub.client

EXPECTED = {
    "BaseClient",
    "ChecksumError",
    "ConnectivityClient",
    "DaqhubClientError",
    "Endpoint",
    "MonitorClient",
    "PartitionNotFoundError",
    "ReceiverClient",
    "ReceiverRejected",
    "RestLogHandler",
    "UploadResult",
}
SERVER_ONLY = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "uproot",
    "h5py",
    "astropy",
    "uvicorn",
)


def test_all_is_the_curated_list() -> None:
    assert set(daqhub.client.__all__) == EXPECTED
    for name in daqhub.client.__all__:
        assert getattr(daqhub.client, name) is not None


def test_importing_the_client_loads_no_server_library() -> None:
    code = (
        "import json, sys, daqhub.client; "
        f"print(json.dumps([m for m in {SERVER_ONLY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
