"""The receiver behind real ``daqhub serve`` processes, where sockets matter: raw HTTP/1.0 and
chunked uploads with ``Expect: 100-continue``, traversal attempts on the wire, SIGKILL during
large uploads, two replicas sharing a data directory and database, live events
(spec §2.1, §2.6.9, §3.4, §3.10; checklist 27, 28, 30, 32)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from daqhub.core.auth import TokenStore, load_secret_key
from daqhub.core.db import Database
from tests.conftest import ServerProcess
from tests.receiver import rootdata
from tests.receiver.conftest import META, RECEIVED_TEST, RootFiles, wait_for

SERVER_ENV = {
    "DAQHUB_RECEIVER__SCAN_INTERVAL": "0.2",
    "DAQHUB_RECEIVER__VALIDATION_WORKERS": "1",
    "DAQHUB_EVENTS__RELAY_INTERVAL": "0.05",
}


def make_token(data_dir: Path, database_url: str, name: str = "T") -> str:
    db = Database(database_url)
    try:
        return TokenStore(db, load_secret_key(data_dir, None)).create(name, scopes=["receiver"])
    finally:
        db.dispose()


def start(
    serve: Callable[..., ServerProcess],
    data_dir: Path,
    database_url: str,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    return serve(
        [
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            "--listen",
            "127.0.0.1:0=receiver",
        ],
        {**SERVER_ENV, **(env or {})},
    )


def raw_exchange(port: int, request: bytes, *, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, from a connection that stays open."""
    raw = b""
    while True:
        more = sock.recv(65536)
        if not more:
            return raw
        raw += more
        if b"\r\n\r\n" in raw:
            _status, headers, body = split_response(raw)
            if len(body) >= int(headers.get("content-length", "0")):
                return raw


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str
) -> tuple[ServerProcess, str, Path]:
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    return start(serve, data_dir, database_url), token, data_dir / "receiver"


def meta_lines(token: str, **extra: str) -> bytes:
    headers = {**META, "token": token, **extra}
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())


def test_28_chunked_upload_with_expect_100_continue(
    server: tuple[ServerProcess, str, Path], root_files: RootFiles
) -> None:
    process, token, data_dir = server
    with socket.create_connection(("127.0.0.1", process.port()), timeout=10) as sock:
        sock.sendall(
            b"POST /rest/api/files HTTP/1.1\r\nHost: receiver:8080\r\n"
            + meta_lines(token)
            + b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        data = root_files.r
        for start_at in range(0, len(data), 4000):
            piece = data[start_at : start_at + 4000]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        raw = read_response(sock)
    status, _headers, body = split_response(raw)
    assert status == 200
    answer = json.loads(body)
    assert answer["received"] == RECEIVED_TEST
    assert answer["filename"] == "EMChistos_123456_DQM_1970_01_02_16_07_24.root"
    assert "Transfer-Encoding" in answer["receivedHeaders"]
    assert (data_dir / answer["filename"]).read_bytes() == root_files.r


def test_no_100_continue_before_the_checks(server: tuple[ServerProcess, str, Path]) -> None:
    process, token, data_dir = server
    for headers, expected in [
        (meta_lines("wrong"), 400),
        (meta_lines(token, runNumber="abc"), 400),
        (meta_lines(token) + b"Content-Length: 999999999999\r\n", 413),
    ]:
        raw = raw_exchange(
            process.port(),
            b"POST /rest/api/files HTTP/1.1\r\nHost: x\r\n"
            + headers
            + (b"" if b"Content-Length" in headers else b"Content-Length: 10\r\n")
            + b"Expect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        assert not raw.startswith(b"HTTP/1.1 100"), raw[:200]
        assert split_response(raw)[0] == expected
    assert not any((data_dir / ".daqhub-incoming").iterdir())


def test_http_1_0_upload_and_list(
    server: tuple[ServerProcess, str, Path], root_files: RootFiles
) -> None:
    process, token, _data_dir = server
    data = root_files.r
    raw = raw_exchange(
        process.port(),
        b"POST /rest/api/files HTTP/1.0\r\n"
        + meta_lines(token)
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data,
    )
    status, _headers, body = split_response(raw)
    assert status == 200
    assert "Host" not in json.loads(body)["receivedHeaders"]
    listing = raw_exchange(
        process.port(), f"GET /rest/api/files HTTP/1.0\r\ntoken: {token}\r\n\r\n".encode()
    )
    assert (
        split_response(listing)[2]
        == b'{"files":["EMChistos_123456_DQM_1970_01_02_16_07_24.root"]}\n'
    )


TRAVERSALS = [
    "/rest/api/files/../../etc/passwd",
    "/rest/api/files/..%2F..%2Fetc%2Fpasswd",
    "/rest/api/files/..",
    "/rest/api/files/%2E%2E",
    "/rest/api/files/..%2Fdaqhub.db",
    "/rest/api/files/..%2Fsecret.key",
    "/rest/api/files/%2Fetc%2Fpasswd",
    "/rest/api/files/.daqhub-quarantine",
    "/rest/api/files/%00",
]


def test_path_traversal_on_the_wire(server: tuple[ServerProcess, str, Path]) -> None:
    process, token, _data_dir = server
    for target in TRAVERSALS:
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\ntoken: {token}\r\nConnection: close\r\n\r\n"
        raw = raw_exchange(process.port(), request.encode())
        status, headers, body = split_response(raw)
        assert status == 404, target
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["status"] == 404
        assert b"root:" not in body


@contextlib.contextmanager
def half_sent_upload(process: ServerProcess, token: str, incoming: Path) -> Iterator[None]:
    """An upload of 8 MiB whose sender stops half-way (its staging file exists) until the
    block ends, then disconnects."""
    size = 8 << 20
    with socket.create_connection(("127.0.0.1", process.port()), timeout=10) as sock:
        sock.sendall(
            b"POST /rest/api/files HTTP/1.1\r\nHost: x\r\n"
            + meta_lines(token, amoreAgent="TPC")
            + f"Content-Length: {size}\r\n\r\n".encode()
            + b"r" * (size // 2)
        )
        wait_for(lambda: any(incoming.glob("*.part")), timeout=10)
        yield


def test_client_disconnect_mid_body_keeps_nothing(server: tuple[ServerProcess, str, Path]) -> None:
    process, token, data_dir = server
    incoming = data_dir / ".daqhub-incoming"
    with half_sent_upload(process, token, incoming):
        pass
    wait_for(lambda: not any(incoming.iterdir()), timeout=10)
    assert not any(p.name.startswith("TPC") for p in data_dir.iterdir())


def test_a_stalled_sender_is_abandoned_and_frees_its_slot(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str, root_files: RootFiles
) -> None:
    """A sender that stops in the middle of its body (no FIN, no RST: a hung process, a lost
    network) is answered 408 after ``body_timeout`` and holds neither a slot nor a file."""
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    env = {
        "DAQHUB_RECEIVER__BODY_TIMEOUT": "2",
        "DAQHUB_RECEIVER__MAX_CONCURRENT_UPLOADS": "1",
        "DAQHUB_RECEIVER__BUSY_WAIT": "0.2",
    }
    process = start(serve, data_dir, database_url, env)
    incoming = data_dir / "receiver" / ".daqhub-incoming"
    headers = {**META, "token": token, "Content-Type": "application/octet-stream"}

    def upload() -> httpx.Response:
        return httpx.post(f"{process.url}/rest/api/files", content=root_files.r, headers=headers)

    head = b"POST /rest/api/files HTTP/1.1\r\nHost: t\r\n" + meta_lines(token)
    head += b"Content-Type: application/octet-stream\r\nContent-Length: 8000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", process.port()), timeout=30) as stalled:
        stalled.sendall(head + os.urandom(4_500_000))  # past one batch: a staged part exists
        wait_for(lambda: any(incoming.iterdir()), timeout=5)  # and it holds the only slot
        assert upload().status_code == 503
        waited = time.monotonic()
        status, answer_headers, body = split_response(read_response(stalled))
        assert time.monotonic() - waited < 10
    assert status == 408 and answer_headers["connection"] == "close"
    assert json.loads(body) == {
        "message": "Request body timeout: nothing received for 2 s",
        "received": None,
        "status": 408,
    }
    assert not any(incoming.iterdir())
    assert upload().status_code == 200  # the slot is free again
    assert "outcome=body_timeout" in "".join(process.stderr_lines)


def test_download_keeps_its_bytes_while_the_file_is_replaced(
    server: tuple[ServerProcess, str, Path], tmp_path: Path
) -> None:
    process, token, data_dir = server
    big = tmp_path / "big.root"
    rootdata.write_large(big, 24)
    original = big.read_bytes()
    name = "HLThistos_5_DQM_1970_01_01_01_00_00.root"
    (data_dir / name).write_bytes(original)
    url = f"{process.url}/rest/api/files/{name}"
    with httpx.stream("GET", url, headers={"token": token}, timeout=30) as response:
        assert response.status_code == 200
        received = bytearray()
        chunks = response.iter_bytes(1 << 16)
        received += next(chunks)
        replacement = data_dir / "replacement.tmp"
        replacement.write_bytes(b"other bytes" * 1000)
        os.replace(replacement, data_dir / name)
        for chunk in chunks:
            received += chunk
    assert bytes(received) == original


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_27_sigkill_during_large_uploads(
    serve: Callable[..., ServerProcess],
    tmp_path: Path,
    database_url: str,
    root_files: RootFiles,
) -> None:
    """Kill -9 with large uploads in flight: after a restart no partial or corrupt file is
    listed or downloadable, every acknowledged upload is intact, and leftovers get swept."""
    data_dir = tmp_path / "data"
    receiver_dir = data_dir / "receiver"
    token = make_token(data_dir, database_url)
    large = tmp_path / "large.root"
    rootdata.write_large(large, 48)
    large_bytes = large.read_bytes()
    process = start(serve, data_dir, database_url)
    base = process.url

    def post(
        content: Any, run: int, agent: str = "EMC", length: int | None = None
    ) -> httpx.Response:
        headers = {
            "token": token,
            "runNumber": str(run),
            "timeStamp": "1530000000",
            "amoreAgent": agent,
            "Content-Type": "application/octet-stream",
        }
        if isinstance(content, bytes):
            length = len(content)
        if length is not None:
            headers["Content-Length"] = str(length)
        return httpx.post(f"{base}/rest/api/files", content=content, headers=headers, timeout=60)

    # Acknowledged before the kill: small files, one large file, and the file that an
    # in-flight upload will try to replace.
    acknowledged: dict[str, str] = {}
    for run in (1, 2, 3):
        answer = post(root_files.r, run)
        assert answer.status_code == 200
        acknowledged[answer.json()["filename"]] = answer.headers["x-daqhub-sha256"]
    answer = post(large_bytes, 10)
    assert answer.status_code == 200
    acknowledged[answer.json()["filename"]] = answer.headers["x-daqhub-sha256"]
    assert answer.headers["x-daqhub-sha256"] == hashlib.sha256(large_bytes).hexdigest()

    release = threading.Event()

    def stalled_body() -> Iterator[bytes]:
        half = len(large_bytes) // 2
        for offset in range(0, half, 1 << 20):
            yield large_bytes[offset : min(offset + (1 << 20), half)]
        release.wait(30)
        yield large_bytes[half:]

    in_flight_runs = [1, 20, 21]  # run 1 replaces an acknowledged name
    with ThreadPoolExecutor(len(in_flight_runs)) as pool:
        # Run 21 announces its length, so it is staged with direct I/O; the others are chunked.
        futures = [
            pool.submit(post, stalled_body(), run, length=len(large_bytes) if run == 21 else None)
            for run in in_flight_runs
        ]
        incoming = receiver_dir / ".daqhub-incoming"
        wait_for(
            lambda: (
                len([p for p in incoming.glob("*.part") if p.stat().st_size > 1 << 20])
                >= len(in_flight_runs)
            ),
            timeout=30,
        )
        process.kill()
        release.set()
        for future in futures:
            with pytest.raises(httpx.HTTPError):
                future.result(timeout=30)

    leftovers = list((receiver_dir / ".daqhub-incoming").glob("*.part"))
    assert leftovers, "the kill should leave staging files behind"
    # Once older than an hour, the start-up sweep removes them.
    old = time.time() - 7200
    for leftover in leftovers:
        os.utime(leftover, (old, old))

    restarted = start(serve, data_dir, database_url)
    client = httpx.Client(base_url=restarted.url, headers={"token": token}, timeout=60)
    listed = client.get("/rest/api/files").json()["files"]
    assert sorted(listed) == sorted(acknowledged)
    for name, sha in acknowledged.items():
        body = client.get(f"/rest/api/files/{name}").content
        assert hashlib.sha256(body).hexdigest() == sha, name
    wait_for(lambda: not any((receiver_dir / ".daqhub-incoming").glob("*.part")), timeout=15)
    stored = client.get("/api/v1/receiver/uploads", params={"state": "stored"}).json()["items"]
    assert {r["filename"]: r["sha256"] for r in stored} == acknowledged
    client.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=False)
def test_upload_slots_are_shared_by_the_worker_processes(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str, root_files: RootFiles
) -> None:
    """``max_concurrent_uploads`` is per server, not per worker process (spec §3.10)."""
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    process = serve(
        [
            *("--data-dir", str(data_dir), "--database-url", database_url),
            *("--workers", "2", "--listen", "127.0.0.1:0=receiver"),
        ],
        {
            **SERVER_ENV,
            "DAQHUB_RECEIVER__MAX_CONCURRENT_UPLOADS": "1",
            "DAQHUB_RECEIVER__BUSY_WAIT": "0.2",
        },
    )
    with half_sent_upload(process, token, data_dir / "receiver" / ".daqhub-incoming"):
        statuses = []
        for _ in range(8):  # new connections: the kernel hands them to either worker
            with httpx.Client(base_url=process.url, timeout=10) as client:
                answer = client.post(
                    "/rest/api/files",
                    files={"file": ("x.root", root_files.r)},
                    headers={**META, "token": token},
                )
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert answer.headers["retry-after"]
        assert statuses == [503] * 8
    ok = wait_for(
        lambda: (
            httpx.post(
                process.url + "/rest/api/files",
                files={"file": ("x.root", root_files.r)},
                headers={**META, "token": token},
                timeout=10,
            ).status_code
            == 200
        ),
        timeout=10,
    )
    assert ok


def test_32_two_replicas_share_data_and_tokens(
    serve: Callable[..., ServerProcess],
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    root_files: RootFiles,
    backend: str,
) -> None:
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    env = {"DAQHUB_REDIS_URL": redis_url, "DAQHUB_EVENTS__REDIS_PREFIX": f"t{os.getpid()}{backend}"}
    replica_a = start(serve, data_dir, database_url, env)
    replica_b = start(serve, data_dir, database_url, env)
    a = httpx.Client(base_url=replica_a.url, headers={"token": token}, timeout=30)
    b = httpx.Client(base_url=replica_b.url, headers={"token": token}, timeout=30)
    events: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with b.stream("GET", "/api/v1/receiver/events", timeout=30) as stream:
            for line in stream.iter_lines():
                connected.set()
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10)
    answer = a.post(
        "/rest/api/files",
        files={"file": ("x.root", root_files.r)},
        headers={"runNumber": "77", "timeStamp": "0", "amoreAgent": "TPC"},
    )
    assert answer.status_code == 200
    name = answer.json()["filename"]
    assert b.get("/rest/api/files").json() == {"files": [name]}
    assert b.get(f"/rest/api/files/{name}").content == root_files.r
    listener.join(10)
    assert events[0]["type"] == "receiver.file.received"
    assert events[0]["data"]["upload_id"] == answer.headers["x-daqhub-upload-id"]

    db = Database(database_url)
    try:
        TokenStore(db, load_secret_key(data_dir, None)).revoke("T")
    finally:
        db.dispose()
    revoked_at = time.monotonic()
    for client in (a, b):
        wait_for(
            lambda c=client: c.get("/").json() == {"message": "Received token, but it is invalid!"},
            timeout=5,
        )
    assert time.monotonic() - revoked_at < 5
    a.close()
    b.close()


@pytest.fixture
def small_disk(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str
) -> tuple[ServerProcess, str, Path]:
    """A server whose receiver data folder is a 24 MiB tmpfs of its own: mounted in a private
    mount namespace (``unshare``), so that the test fills a real filesystem, not the machine's.
    The folder as the server sees it is returned, reached through ``/proc/<pid>/root``."""
    folder = tmp_path / "small"
    folder.mkdir()
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    mount_then_exec = 'mount -t tmpfs -o size=24m tmpfs "$0" && exec "$@"'
    server = serve(
        [
            *("--data-dir", str(data_dir), "--database-url", database_url),
            *("--listen", "127.0.0.1:0=receiver"),
        ],
        {
            **SERVER_ENV,
            "DAQHUB_RECEIVER__DATA_DIR": str(folder),
            "DAQHUB_RECEIVER__MIN_FREE_BYTES": str(1 << 20),
        },
        wrapper=["unshare", "--mount", "--map-root-user", "sh", "-c", mount_then_exec, str(folder)],
    )
    seen = Path(f"/proc/{server.process.pid}/root") / folder.relative_to("/")
    assert os.statvfs(seen).f_blocks * os.statvfs(seen).f_frsize == 24 << 20
    return server, token, seen


def test_a_full_disk_answers_503_and_loses_nothing(
    small_disk: tuple[ServerProcess, str, Path], root_files: RootFiles, tmp_path: Path
) -> None:
    server, token, folder = small_disk
    full = {"message": "Insufficient storage, retry later", "received": None, "status": 503}

    def post(content: Any, run: int) -> httpx.Response:
        headers = {**META, "runNumber": str(run), "token": token}
        return httpx.post(f"{server.url}/rest/api/files", content=content, headers=headers)

    assert post(root_files.r, 1).status_code == 200
    large = tmp_path / "large.root"
    rootdata.write_large(large, 14)
    stored = post(large.read_bytes(), 2)
    assert stored.status_code == 200, stored.text

    # Announced larger than the room left: refused from the headers, before the body.
    head = b"POST /rest/api/files HTTP/1.1\r\nHost: t\r\n" + meta_lines(token)
    with socket.create_connection(("127.0.0.1", server.port()), timeout=10) as sock:
        sock.sendall(head + b"Expect: 100-continue\r\nContent-Length: 16000000\r\n\r\n")
        status, headers, body = split_response(read_response(sock))
    assert (status, json.loads(body)) == (503, full)
    assert headers["retry-after"] == "60"

    # Of unknown size (chunked): the disk fills while it is written. The sender still gets
    # the answer, after its body, and the staged part is gone.
    def chunks() -> Iterator[bytes]:
        data = large.read_bytes()
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    refused = post(chunks(), 3)
    assert (refused.status_code, refused.json()) == (503, full)
    assert refused.headers["retry-after"] == "60"
    assert "outcome=storage_full" in "".join(server.stderr_lines)
    assert not list((folder / ".daqhub-incoming").iterdir())

    listed = httpx.get(f"{server.url}/rest/api/files", headers={"token": token}).json()
    names = {f"EMChistos_{run}_DQM_1970_01_02_16_07_24.root" for run in (1, 2)}
    assert set(listed["files"]) == names
    name = "EMChistos_2_DQM_1970_01_02_16_07_24.root"
    download = httpx.get(f"{server.url}/rest/api/files/{name}", headers={"token": token})
    assert download.content == large.read_bytes()
    # The space a failed upload took is free again.
    assert post(root_files.r, 4).status_code == 200

    # Of announced size (read straight from the socket): there is room when it starts, but
    # another writer fills the disk before the payload is written. The staged part goes, and
    # the rest of the body is read away, so that the sender gets the answer after its body
    # rather than a reset connection.
    (folder / name).unlink()  # processed and moved away: room for three batches again
    body = (large.read_bytes() * 2)[:12_000_000]
    with socket.create_connection(("127.0.0.1", server.port()), timeout=30) as sock:
        sock.sendall(head + b"Content-Length: 12000000\r\n\r\n" + body[: 2 << 20])
        filler = folder / "filler.bin"
        with open(filler, "wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(bytes(1 << 20))
                handle.flush()
        for start in range(2 << 20, len(body), 1 << 18):  # still sending after the failure
            sock.sendall(body[start : start + (1 << 18)])
            time.sleep(0.02)
        status, headers, answer = split_response(read_response(sock))
    filler.unlink()
    assert (status, json.loads(answer)) == (503, full)
    assert not list((folder / ".daqhub-incoming").iterdir())
    assert post(root_files.r, 5).status_code == 200
