"""The HTTP layer as the real clients use it, against a real ``daqhub serve`` process
(checklist items 3, 30, 32, 36; spec §2.1)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ServerProcess
from tests.connectivity.conftest import CC_TEST


@pytest.fixture
def server(serve: Callable[..., ServerProcess], tmp_path: Path, sqlite_url: str) -> ServerProcess:
    """One process: the main listener and a listener restricted to the connectivity service."""
    return serve(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--database-url",
            sqlite_url,
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0=connectivity",
        ],
        expect=2,
    )


def raw_request(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes on a fresh TCP connection, read the whole answer, close (C++ client style)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        head_end = -1
        length = None
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if head_end < 0 and b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n") + 4
                for line in data[:head_end].decode("latin-1").split("\r\n")[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
            if head_end >= 0 and length is not None and len(data) >= head_end + length:
                break
    head = data[:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return head[0], headers, data[head_end:]


def cpp_request(path: str, body: dict[str, Any]) -> bytes:
    """Exactly what iomanager's ConfigClient sends: no Host, keys sorted, compact."""
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return (
        f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


@pytest.mark.parametrize("listener", [0, 1])
def test_cpp_client_without_host_header(server: ServerProcess, listener: int) -> None:  # item 30
    port = server.port(listener)
    status, headers, body = raw_request(port, cpp_request("/publish", CC_TEST))
    assert status == "HTTP/1.1 200 OK"
    assert int(headers["content-length"]) == len(body) == 2
    status, headers, body = raw_request(
        port, cpp_request("/getconnection/ccTest", {"uid_regex": "DRO.*", "data_type": "TPSet"})
    )
    assert status == "HTTP/1.1 200 OK"
    assert int(headers["content-length"]) == len(body)
    items = json.loads(body)
    assert [set(i) for i in items] == [
        {"uid", "uri", "connection_type", "data_type", "capacity"}
    ] * 2
    assert all(
        isinstance(i["connection_type"], int) and isinstance(i["capacity"], int) for i in items
    )
    retract = {
        "partition": "ccTest",
        "connections": [{"connection_id": i["uid"], "data_type": "TPSet"} for i in items],
    }
    status, _headers, body = raw_request(port, cpp_request("/retract", retract))
    assert status == "HTTP/1.1 200 OK"
    status, _headers, _body = raw_request(
        port, cpp_request("/getconnection/ccTest", {"uid_regex": "DRO.*", "data_type": "TPSet"})
    )
    assert status == "HTTP/1.1 404 Not Found"  # the reason phrase the C++ client copies


def test_http_10_and_expect_continue(server: ServerProcess) -> None:
    port = server.port(1)
    payload = json.dumps(CC_TEST).encode()
    status, _h, body = raw_request(
        port,
        b"POST /publish HTTP/1.0\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload,
    )
    assert status.endswith("200 OK") and body == b"OK"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(payload)
        assert b"200 OK" in sock.recv(4096)


def test_drunc_round_trip(server: ServerProcess) -> None:  # item 32
    base = f"http://127.0.0.1:{server.port(1)}"
    session = requests.Session()
    timeout = 0.5
    assert session.get(base + "/", timeout=timeout).ok
    publish = {
        "partition": "sess",
        "connections": [
            {
                "uid": "x_control",
                "uri": "grpc://h:1",
                "data_type": "RunControlMessage",
                "connection_type": 0,
            }
        ],
    }
    session.post(base + "/publish", json=publish, timeout=timeout).raise_for_status()
    resolved = session.post(
        base + "/getconnection/sess",
        json={"uid_regex": "x_control", "data_type": "RunControlMessage"},
        timeout=timeout,
    )
    resolved.raise_for_status()
    assert resolved.json()[0]["uri"] == "grpc://h:1"
    retract = {
        "partition": "sess",
        "connections": [{"connection_id": "x_control", "data_type": "RunControlMessage"}],
    }
    session.post(base + "/retract", json=retract, timeout=timeout).raise_for_status()
    # The retract removed the last entry, so the partition is already gone.
    assert (
        session.post(
            base + "/retract-partition", json={"partition": "sess"}, timeout=timeout
        ).status_code
        == 404
    )
    session.post(base + "/publish", json=publish, timeout=timeout).raise_for_status()
    session.post(
        base + "/retract-partition", json={"partition": "sess"}, timeout=timeout
    ).raise_for_status()


def test_curl_style_form_retract(server: ServerProcess) -> None:
    base = f"http://127.0.0.1:{server.port(1)}"
    requests.post(base + "/publish", json=CC_TEST, timeout=5).raise_for_status()
    response = requests.post(base + "/retract-partition", data={"partition": "ccTest"}, timeout=5)
    assert response.status_code == 200


def test_body_over_limit_is_413_and_service_keeps_serving(server: ServerProcess) -> None:  # 36
    base = f"http://127.0.0.1:{server.port(1)}"
    big = b'{"partition":"p","connections":[' + b" " * (5 * 1024 * 1024) + b"]}"
    response = requests.post(base + "/publish", data=big, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    requests.post(base + "/publish", json=CC_TEST, timeout=5).raise_for_status()


def test_restricted_listener_serves_only_connectivity(server: ServerProcess) -> None:
    restricted = f"http://127.0.0.1:{server.port(1)}"
    main = f"http://127.0.0.1:{server.port(0)}"
    assert requests.get(restricted + "/rest/api/files", timeout=5).status_code == 404
    assert requests.get(main + "/healthz", timeout=5).status_code == 200
    assert requests.get(restricted + "/healthz", timeout=5).status_code == 200
    page = requests.get(restricted + "/", timeout=5).text
    assert "Dump of configuration dictionary" in page
    assert "<nav>" not in page


def test_many_connections_per_request_limit(server: ServerProcess) -> None:
    base = f"http://127.0.0.1:{server.port(1)}"
    body = {
        "partition": "big",
        "connections": [
            {"uid": f"u{i}", "uri": "x", "data_type": "T", "connection_type": 0}
            for i in range(10_001)
        ],
    }
    response = requests.post(base + "/publish", json=body, timeout=30)
    assert response.status_code == 413
    assert (
        requests.post(
            base + "/getconnection/big", json={"uid_regex": ".*", "data_type": "T"}, timeout=5
        ).status_code
        == 404
    )


def test_entry_ttl_1_on_a_real_server(
    serve: Callable[..., ServerProcess], tmp_path: Path, sqlite_url: str
) -> None:  # items 19 and 20 as the spec states them, with the original's ENTRY_TTL variable
    import time

    server = serve(
        [
            "--data-dir",
            str(tmp_path / "ttl"),
            "--database-url",
            sqlite_url,
            "--listen",
            "127.0.0.1:0",
        ],
        {"ENTRY_TTL": "1"},
    )
    base = server.url
    query = {"uid_regex": "DRO.*", "data_type": "TPSet"}
    requests.post(f"{base}/publish", json=CC_TEST, timeout=5).raise_for_status()
    assert len(requests.post(f"{base}/getconnection/ccTest", json=query, timeout=5).json()) == 2
    time.sleep(1.1)
    expired = requests.post(f"{base}/getconnection/ccTest", json=query, timeout=5)
    assert expired.status_code == 200
    assert expired.json() == []
    assert "<strike>" in requests.get(f"{base}/", timeout=5).text
    requests.post(f"{base}/publish", json=CC_TEST, timeout=5).raise_for_status()
    assert len(requests.post(f"{base}/getconnection/ccTest", json=query, timeout=5).json()) == 2
    time.sleep(1.1)
    assert requests.get(f"{base}/purge", timeout=5).status_code == 200
    page = requests.get(f"{base}/", timeout=5).text
    assert "DRO-000-tp_to_trigger" not in page
    assert "strike" not in page
