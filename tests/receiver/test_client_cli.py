"""The Python client library and ``daqhub receiver`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from daqhub.cli.main import app
from daqhub.client.receiver import ChecksumError, ReceiverClient, ReceiverRejected
from tests.conftest import ServerProcess
from tests.receiver import rootdata
from tests.receiver.conftest import RECEIVED_TEST, STORED_NAME, Receiver, RootFiles
from tests.receiver.test_server import make_token, start


@pytest.fixture
def client(receiver: Receiver) -> ReceiverClient:
    return ReceiverClient("http://testserver", token=receiver.token, http=receiver.client)


def test_send_multipart_and_raw_with_progress(
    client: ReceiverClient, receiver: Receiver, root_files: RootFiles
) -> None:
    seen: list[tuple[int, int]] = []
    result = client.send(
        root_files.test,
        run=123456,
        agent="EMC",
        timestamp=140844,
        data_status=1,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.filename == STORED_NAME
    assert result.received == RECEIVED_TEST
    assert result.upload_id
    assert seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    echoed = result.body["receivedHeaders"]
    assert echoed["Content-Type"].startswith("multipart/form-data")
    assert echoed["Datastatus"] == "1"
    raw = client.send(root_files.dir_h1_h2, run=7, agent="TPC", timestamp=0, multipart=False)
    assert raw.filename == "TPChistos_7_DQM_1970_01_01_01_00_00.root"
    assert set(raw.received) == {"dir", "h1", "h2"}
    assert (receiver.data_dir / raw.filename).read_bytes() == root_files.dir_h1_h2.read_bytes()


def test_rejections(client: ReceiverClient, root_files: RootFiles) -> None:
    with pytest.raises(ReceiverRejected) as info:
        client.send(root_files.not_root, run=1, agent="EMC")
    assert info.value.status == 400
    assert "not valid" in str(info.value)
    assert info.value.body["filename"].startswith("EMChistos_1_DQM_")
    wrong = ReceiverClient("http://testserver", token="wrong", http=client.http)
    with pytest.raises(ReceiverRejected, match="invalid"):
        wrong.list_files()
    assert wrong.check_token() is False
    assert client.check_token() is True


def test_list_download_and_index(
    client: ReceiverClient, receiver: Receiver, root_files: RootFiles, tmp_path: Path
) -> None:
    sent = client.send(root_files.everything, run=55, agent="EMC", timestamp=1530000000)
    assert sent.filename in client.list_files()
    target = client.download(sent.filename, tmp_path)
    assert target.read_bytes() == root_files.everything.read_bytes()
    assert [u["upload_id"] for u in client.uploads(run=55)] == [sent.upload_id]
    assert client.upload(str(sent.upload_id))["objects"]["pMean"] == "TProfile"
    assert [r["run"] for r in client.runs(agent="EMC", start=1500000000)] == [55]
    assert client.run(55)["agents"]["EMC"][0]["filename"] == sent.filename
    hist = client.histogram(str(sent.upload_id), "level1/level2/deep")
    assert hist["values"] == [3.0, 1.0]
    with pytest.raises(ReceiverRejected) as info:
        client.download("missing_DQM.root", tmp_path)
    assert info.value.status == 404


def test_checksum_mismatch_is_detected(root_files: RootFiles) -> None:
    class Lying:
        status_code = 200
        headers = {"x-daqhub-sha256": "0" * 64}

        def json(self) -> dict[str, Any]:
            return {"filename": "x", "received": {}}

    class Http:
        def request(self, method: str, url: str, **kwargs: Any) -> Any:
            for _chunk in kwargs.get("content", ()):
                pass
            return Lying()

    with pytest.raises(ChecksumError):
        ReceiverClient("http://x", token="t", http=Http()).send(root_files.test, run=1, agent="E")


def test_client_imports_no_server_dependencies() -> None:
    code = (
        "import sys, daqhub.client.receiver\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uproot', 'starlette', 'numpy') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_cli_against_a_real_server(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str, root_files: RootFiles
) -> None:
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    server = start(serve, data_dir, database_url)
    big = tmp_path / "big.root"
    rootdata.write_large(big, 6)
    runner = CliRunner()
    env = {"DAQHUB_RECEIVER_URL": server.url, "DAQHUB_RECEIVER_TOKEN": token}

    sent = runner.invoke(
        app,
        [
            "receiver",
            "send",
            str(big),
            "--run",
            "9",
            "--agent",
            "EMC",
            "--timestamp",
            "1530000000",
            "--data-status",
            "2",
            "--progress",
        ],
        env=env,
    )
    assert sent.exit_code == 0, sent.output
    name = "EMChistos_9_DQM_2018_06_26_10_00_00.root"
    assert sent.stdout.strip() == name
    assert (data_dir / "receiver" / name).read_bytes() == big.read_bytes()

    as_json = runner.invoke(
        app,
        [
            "receiver",
            "send",
            str(root_files.test),
            "--run",
            "9",
            "--agent",
            "TPC",
            "--raw",
            "--json",
        ],
        env=env,
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["received"] == RECEIVED_TEST

    listed = runner.invoke(app, ["receiver", "list", "--json"], env=env)
    assert name in json.loads(listed.stdout)["files"]
    fetched = runner.invoke(
        app, ["receiver", "download", name, "-o", str(tmp_path / "copy.root")], env=env
    )
    assert fetched.exit_code == 0, fetched.output
    assert (tmp_path / "copy.root").read_bytes() == big.read_bytes()
    assert runner.invoke(app, ["receiver", "check-token"], env=env).exit_code == 0

    refused = runner.invoke(
        app,
        ["receiver", "send", str(root_files.not_root), "--run", "1", "--agent", "EMC"],
        env=env,
    )
    assert refused.exit_code == 1
    assert "not valid" in refused.output
    bad_token = runner.invoke(
        app, ["receiver", "check-token"], env={**env, "DAQHUB_RECEIVER_TOKEN": "nope"}
    )
    assert bad_token.exit_code == 1


def test_standalone_receiver_port(tmp_path: Path, root_files: RootFiles) -> None:
    """``daqhub receiver serve``: only the receiver, at ``/`` of its own port, on any folder."""
    import os
    import signal
    import threading

    from tests.conftest import LISTEN_RE

    overwatch_data = tmp_path / "overwatch" / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAQHUB_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daqhub",
            "receiver",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "daqhub"),
            "--receiver-data",
            str(overwatch_data),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    found: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            match = LISTEN_RE.search(line)
            if match:
                found.append(int(match.group(2)))
            if "Application startup complete" in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert ready.wait(60)
        url = f"http://127.0.0.1:{found[0]}"
        import httpx

        assert httpx.get(url + "/").json() == {"message": "Must pass a token!"}
        assert httpx.get(url + "/api/v1/partitions").status_code == 404
        assert overwatch_data.is_dir()
        assert (overwatch_data / ".daqhub-incoming").is_dir()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        reader.join(10)
        assert process.stderr is not None
        process.stderr.close()
