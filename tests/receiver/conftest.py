"""Fixtures of the receiver tests: the ROOT files they upload, the checklist's data directory
(spec §5 setup) and an in-process receiver with a valid all-scopes token ``T``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import runtime_of
from tests.receiver import rootdata

STORED_NAME = "EMChistos_123456_DQM_1970_01_02_16_07_24.root"
META = {"runNumber": "123456", "timeStamp": "140844", "amoreAgent": "EMC", "dataStatus": "1"}
RECEIVED_TEST = {"test": "Obj name: test, Obj IsA() Name: TH1F"}
FAST_RECEIVER: dict[str, Any] = {
    "scan_interval": 0.2,
    "validation_workers": 1,
    "validation_timeout": 30.0,
}


@dataclass(frozen=True)
class RootFiles:
    test: Path
    test_other: Path
    dir_h1_h2: Path
    everything: Path
    zero_keys: Path
    truncated: Path
    not_root: Path

    @property
    def r(self) -> bytes:
        return self.test.read_bytes()


@pytest.fixture(scope="session")
def root_files(tmp_path_factory: pytest.TempPathFactory) -> RootFiles:
    base = tmp_path_factory.mktemp("rootfiles")
    files = RootFiles(
        test=base / "test.root",
        test_other=base / "test-other.root",
        dir_h1_h2=base / "dir-h1-h2.root",
        everything=base / "everything.root",
        zero_keys=base / "zero-keys.root",
        truncated=base / "truncated.root",
        not_root=base / "hello.txt",
    )
    rootdata.write_test_file(files.test)
    rootdata.write_test_file(files.test_other, [9.0, 8.0, 7.0, 6.0, 5.0])
    rootdata.write_dir_h1_h2(files.dir_h1_h2)
    rootdata.write_everything(files.everything)
    rootdata.write_zero_keys(files.zero_keys)
    rootdata.write_truncated(files.truncated, files.everything)
    files.not_root.write_bytes(b"Hello world")
    return files


@dataclass
class Receiver:
    """An in-process daqhub serving the receiver, its data directory and the token ``T``."""

    client: TestClient
    token: str
    data_dir: Path

    @property
    def runtime(self) -> Any:
        return runtime_of(self.client)

    @property
    def state(self) -> Any:
        return self.runtime.services["receiver"]

    @property
    def quarantine(self) -> Path:
        return self.data_dir / ".daqhub-quarantine"

    @property
    def incoming(self) -> Path:
        return self.data_dir / ".daqhub-incoming"

    def auth(self, **extra: str) -> dict[str, str]:
        return {"token": self.token, **extra}

    def upload(
        self,
        content: bytes,
        *,
        meta: dict[str, str] | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Multipart ``file=content`` with the checklist's headers (curl -F style)."""
        headers = {"token": token or self.token, **(META if meta is None else meta)}
        headers.update(kwargs.pop("headers", {}))
        return self.client.post(
            "/rest/api/files",
            files={"file": ("upload.root", content, "application/octet-stream")},
            headers=headers,
            **kwargs,
        )

    def make_token(self, name: str, scopes: list[str]) -> str:
        return str(self.runtime.tokens.create(name, scopes=scopes))

    def uploads(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            "/api/v1/receiver/uploads", params=params, headers={"token": self.token}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


def body_of(response) -> object:  # type: ignore[no-untyped-def]
    """The JSON body, checking the receiver's serialisation: sorted, compact, newline, ASCII."""
    assert response.headers["content-type"] == "application/json"
    text = response.content.decode("ascii")
    assert text.endswith("\n")
    parsed = json.loads(text)
    assert text == json.dumps(parsed, sort_keys=True, separators=(",", ":")) + "\n"
    return parsed


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    """Poll until ``condition()`` is truthy; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


@pytest.fixture
def make_receiver(
    make_client: Callable[..., TestClient], tmp_path: Path, root_files: RootFiles
) -> Callable[..., Receiver]:
    """The checklist setup: ``data_dir`` holds ``R`` under its stored name and
    ``ignoreFile.txt``; ``T`` is valid with all receiver scopes. ``listen`` with port 80 (the
    test client's) gives a listener restricted to the receiver."""

    def make(
        *,
        populate: bool = True,
        token_value: str | None = None,
        listen: list[str] | None = None,
        **receiver: Any,
    ) -> Receiver:
        data_dir = tmp_path / "data" / "receiver"
        if populate:
            data_dir.mkdir(parents=True, exist_ok=True)
            (data_dir / STORED_NAME).write_bytes(root_files.r)
            (data_dir / "ignoreFile.txt").write_text("ignore me\n")
        extra: dict[str, Any] = {"listen": listen} if listen else {}
        client = make_client(receiver={**FAST_RECEIVER, **receiver}, **extra)
        tokens = runtime_of(client).tokens
        value = tokens.create("T", scopes=["receiver"], value=token_value)
        return Receiver(client, str(value), data_dir)

    return make


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver()
