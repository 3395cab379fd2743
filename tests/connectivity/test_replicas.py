"""Several processes on one shared store (checklist items 33 and 34, spec §2.11, §3.4)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerProcess
from tests.connectivity.conftest import CC_TEST

pytestmark = pytest.mark.slow


def _args(data_dir: Path, url: str, *extra: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--database-url", url, "--listen", "127.0.0.1:0", *extra]


def _lookup(
    base: str, partition: str, regex: str = ".*", data_type: str = "T"
) -> requests.Response:
    return requests.post(
        f"{base}/getconnection/{partition}",
        json={"uid_regex": regex, "data_type": data_type},
        timeout=10,
    )


def test_two_replicas_share_state_and_statistics(
    serve: Callable[..., ServerProcess], tmp_path: Path, postgres_url: str
) -> None:  # item 33
    a = serve(_args(tmp_path / "a", postgres_url))
    b = serve(_args(tmp_path / "b", postgres_url))
    for i in range(20):
        body = {
            "partition": "shared",
            "connections": [
                {
                    "uid": f"app{i:02d}",
                    "uri": f"tcp://h:{i}",
                    "data_type": "T",
                    "connection_type": 0,
                }
            ],
        }
        assert requests.post(f"{a.url}/publish", json=body, timeout=10).status_code == 200
        # Read-your-writes on the other replica, immediately, in publish order.
        result = _lookup(b.url, "shared").json()
        assert [e["uid"] for e in result] == [f"app{j:02d}" for j in range(i + 1)]
    assert (
        requests.post(
            f"{b.url}/retract-partition", json={"partition": "shared"}, timeout=10
        ).status_code
        == 200
    )
    assert _lookup(a.url, "shared").status_code == 404
    # Statistics are totals over both replicas (each flushes at least once a second).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "<p>20 calls to publish" in requests.get(f"{b.url}/stats", timeout=10).text:
            break
        time.sleep(0.2)
    stats_b = requests.get(f"{b.url}/stats", timeout=10).text
    assert "<p>20 calls to publish" in stats_b
    assert "<p>20 calls to lookup" in requests.get(f"{a.url}/stats", timeout=10).text


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_two_workers_answer_consistently(
    serve: Callable[..., ServerProcess], tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    url = request.getfixturevalue("postgres_url" if store == "postgresql" else "sqlite_url")
    server = serve(_args(tmp_path / "w", url, "--workers", "2"))
    errors: list[str] = []

    def client(n: int) -> None:
        session = requests.Session()
        for i in range(15):
            uid = f"c{n}-{i}"
            body = {
                "partition": f"p{n}",
                "connections": [{"uid": uid, "uri": "u", "data_type": "T", "connection_type": 0}],
            }
            if session.post(f"{server.url}/publish", json=body, timeout=10).status_code != 200:
                errors.append(f"publish {uid}")
            # New connection each time, so requests spread over both workers.
            got = [e["uid"] for e in _lookup(server.url, f"p{n}").json()]
            if got != [f"c{n}-{j}" for j in range(i + 1)]:
                errors.append(f"lookup after {uid}: {got}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Whichever worker answers /metrics, it reports the requests of both.
    line = 'daqhub_connectivity_requests_total{method="POST",route="/publish",status="200"} 60.0'
    for _ in range(6):
        assert line in requests.get(f"{server.url}/metrics", timeout=10).text


def test_kill_9_during_publish_is_all_or_nothing(
    serve: Callable[..., ServerProcess], tmp_path: Path, postgres_url: str
) -> None:  # item 34
    body = json.dumps(
        {
            "partition": "crash",
            "connections": [
                {"uid": f"u{i:05d}", "uri": "tcp://h:1", "data_type": "T", "connection_type": 0}
                for i in range(5000)
            ],
        }
    ).encode()
    for delay in (0.02, 0.05, 0.1, 0.2):
        server = serve(_args(tmp_path / "k", postgres_url))

        def send(base: str = server.url) -> None:
            with contextlib.suppress(requests.RequestException):
                requests.post(f"{base}/publish", data=body, timeout=10)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(delay)
        server.kill()
        sender.join()
        survivor = serve(_args(tmp_path / "k", postgres_url))
        response = _lookup(survivor.url, "crash")
        count = len(response.json()) if response.status_code == 200 else 0
        assert count in (0, 5000), f"partial publish after kill at {delay}s: {count} entries"
        requests.post(f"{survivor.url}/retract-partition", json={"partition": "crash"}, timeout=10)
        survivor.stop()


def test_cc_test_publish_then_lookup_is_immediate_across_replicas(
    serve: Callable[..., ServerProcess], tmp_path: Path, sqlite_url: str
) -> None:
    """The embedded default shared by two processes on one host (one SQLite file)."""
    a = serve(_args(tmp_path / "a", sqlite_url))
    b = serve(_args(tmp_path / "a", sqlite_url))
    assert requests.post(f"{a.url}/publish", json=CC_TEST, timeout=10).status_code == 200
    assert len(_lookup(b.url, "ccTest", "DRO.*", "TPSet").json()) == 2
